"""factory_boy factories for notification channels, policies and customer tags."""

from __future__ import annotations

from typing import Any

import factory

from partner_portal.notifications.models import (
    Channel,
    ChannelKind,
    CustomerTag,
    GroupBy,
    Policy,
)


class CustomerTagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomerTag
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Tag {n}")


class ChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Channel

    name = factory.Sequence(lambda n: f"Channel {n}")
    kind = ChannelKind.WEBHOOK
    url = "http://127.0.0.1:9/hooks/never-used"
    signing_secret = "webhook-signing-secret-for-tests"


class PolicyFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Policy
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Policy {n}")
    position = factory.Sequence(lambda n: (n + 1) * 10)
    severities: Any = factory.LazyFunction(list)
    group_by = GroupBy.ALERT
    group_wait_seconds = 0
    repeat_interval_seconds = 3600

    @factory.post_generation
    def channels(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.channels.set(extracted)

    @factory.post_generation
    def customers(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.customers.set(extracted)

    @factory.post_generation
    def tags(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.tags.set(extracted)
