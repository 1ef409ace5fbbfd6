"""factory_boy factories for the indicator index."""

from __future__ import annotations

import factory

from partner_portal.correlation.index import digest
from partner_portal.correlation.models import Indicator, IndicatorKind, Sighting
from tests.alerts.factories import AlertFactory


class IndicatorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Indicator
        django_get_or_create = ("digest",)

    kind = IndicatorKind.SHA256
    value = factory.Sequence(lambda n: f"{n:064x}")
    digest = factory.LazyAttribute(lambda i: digest(i.kind, i.value))


class SightingFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Sighting

    indicator = factory.SubFactory(IndicatorFactory)
    alert = factory.SubFactory(AlertFactory)
    customer = factory.LazyAttribute(lambda s: s.alert.customer)
    seen_at = factory.LazyAttribute(lambda s: s.alert.created_at)
