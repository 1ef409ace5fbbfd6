"""factory_boy factories shared by the suite: people, groups and portal-wide records.

The tenants' models have theirs in `tests/tenants/factories.py`, the alerts' in
`tests/alerts/factories.py`.
"""

from __future__ import annotations

from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone

from partner_portal.core.access import Role
from partner_portal.core.models import PageVisit, Preference, WorkerHeartbeat

TEST_PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@partner.example")
    password = factory.django.Password(TEST_PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, extracted: list[Role] | None, **kwargs: object) -> None:
        if create and extracted:
            for role in extracted:
                # A transactional test before this one may have flushed the role groups.
                self.groups.add(Group.objects.get_or_create(name=role.value)[0])


class GroupFactory(factory.django.DjangoModelFactory):
    """A team of users (the role groups themselves come from a data migration)."""

    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Team {n}")


class WorkerHeartbeatFactory(factory.django.DjangoModelFactory):
    """A worker that has just beaten."""

    class Meta:
        model = WorkerHeartbeat

    worker = factory.Sequence(lambda n: f"celery{n}@localhost")
    last_seen = factory.LazyFunction(timezone.now)
    beats = 1


class PageVisitFactory(factory.django.DjangoModelFactory):
    """A person's last view of a page, a day ago, with no visit before it."""

    class Meta:
        model = PageVisit

    user = factory.SubFactory(UserFactory)
    page = "alerts:overview"
    last_seen_at = factory.LazyFunction(lambda: timezone.now() - timedelta(days=1))
    previous_visit_at = None


class PreferenceFactory(factory.django.DjangoModelFactory):
    """A person's own settings: a time zone other than the portal's."""

    class Meta:
        model = Preference

    user = factory.SubFactory(UserFactory)
    time_zone = "Europe/Amsterdam"


class StaffIdentityFactory(factory.django.DjangoModelFactory):
    """A portal account linked to a Microsoft Entra account of the partner's tenant."""

    class Meta:
        model = "tenants.StaffIdentity"

    user = factory.SubFactory(UserFactory)
    tenant_id = "11111111-2222-4333-8444-555555555555"
    object_id = factory.Sequence(lambda n: f"00000000-0000-4000-9000-{n:012d}")
