"""factory_boy factories for notification channels, policies, customer tags,
suppression rules and their hits, SLA goals, recorded acknowledgements, watched alerts,
notifications and their delivery attempts."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from partner_portal.notifications.models import (
    AlertAcknowledgement,
    Channel,
    ChannelKind,
    CustomerTag,
    DeliveryAttempt,
    GroupBy,
    Notification,
    NotificationStatus,
    Policy,
    SlaGoal,
    SlaWatch,
    SuppressionAction,
    SuppressionHit,
    SuppressionRule,
)
from tests.factories import UserFactory
from tests.tenants.factories import CustomerFactory


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


class SuppressionRuleFactory(factory.django.DjangoModelFactory):
    """A rule that keeps every alert quiet for a week, unless told what to match."""

    class Meta:
        model = SuppressionRule
        skip_postgeneration_save = True

    reason = factory.Sequence(lambda n: f"Known noisy detection {n}")
    owner = factory.SubFactory(UserFactory)
    action = SuppressionAction.MUTE
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))

    @factory.post_generation
    def customers(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.customers.set(extracted)

    @factory.post_generation
    def tags(self, create: bool, extracted: Any, **kwargs: Any) -> None:
        if create and extracted:
            self.tags.set(extracted)


class SuppressionHitFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SuppressionHit

    rule = factory.SubFactory(SuppressionRuleFactory)
    customer = factory.SubFactory(CustomerFactory)
    alert_id = factory.Sequence(lambda n: f"da-hit-{n:06d}")
    title = "Suspicious PowerShell"


class SlaGoalFactory(factory.django.DjangoModelFactory):
    """A goal for all customers unless given a tag."""

    class Meta:
        model = SlaGoal

    tag = None
    severity = "High"
    acknowledge_minutes = 15
    resolve_minutes = 240


class AlertAcknowledgementFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = AlertAcknowledgement

    customer = factory.SubFactory(CustomerFactory)
    alert_id = factory.Sequence(lambda n: f"da-ack-{n:06d}")
    acknowledged_at = factory.LazyFunction(timezone.now)


class SlaWatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SlaWatch

    customer = factory.SubFactory(CustomerFactory)
    alert_id = factory.Sequence(lambda n: f"da-watch-{n:06d}")
    next_check_at = factory.LazyFunction(timezone.now)


class NotificationFactory(factory.django.DjangoModelFactory):
    """One message of the outbox, delivered unless given a `status`."""

    class Meta:
        model = Notification

    dedup_key = factory.Sequence(lambda n: f"test:{n}")
    channel = factory.SubFactory(ChannelFactory)
    customer = factory.SubFactory(CustomerFactory)
    group_key = factory.Sequence(lambda n: f"alert:da{n}")
    status = NotificationStatus.DELIVERED
    attempts = 1


class DeliveryAttemptFactory(factory.django.DjangoModelFactory):
    """One try at sending a notification, made when the notification was created."""

    class Meta:
        model = DeliveryAttempt

    notification = factory.SubFactory(NotificationFactory)
    at = factory.LazyAttribute(lambda a: a.notification.created_at)
    succeeded = True
    status_code = 200
