"""factory_boy factories for hunts and saved queries."""

from __future__ import annotations

import factory

from partner_portal.hunting.models import Hunt, HuntTarget, SavedQuery
from tests.alerts.factories import CustomerFactory
from tests.factories import UserFactory


class HuntFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Hunt

    created_by = factory.SubFactory(UserFactory)
    query = "AlertInfo | take 10"


class HuntTargetFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = HuntTarget

    hunt = factory.SubFactory(HuntFactory)
    customer = factory.SubFactory(CustomerFactory)


class SavedQueryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedQuery

    name = factory.Sequence(lambda n: f"Query {n}")
    query = 'AlertEvidence | where SHA1 != "" | take 100'
    owner = factory.SubFactory(UserFactory)
