"""factory_boy factories for customers and their alerts (the console's tests use them)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory

from partner_portal.alerts.models import SEVERITY_RANK, Alert
from tenants.models import Customer, CustomerStatus

BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    display_name = factory.Sequence(lambda n: f"Customer {n:03d}")
    tenant_id = factory.Sequence(lambda n: f"00000000-0000-4000-8000-{n:012d}")
    status = CustomerStatus.ACTIVE


class AlertFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Alert

    customer = factory.SubFactory(CustomerFactory)
    alert_id = factory.Sequence(lambda n: f"da{638000000000000000 + n}_{n:010d}")
    title = factory.Sequence(lambda n: f"Suspicious activity {n}")
    description = "A process behaved like known attacker tooling."
    severity = "Medium"
    severity_rank = factory.LazyAttribute(lambda a: SEVERITY_RANK.get(a.severity, 0))
    status = "New"
    category = "Execution"
    detection_source = "WindowsDefenderAtp"
    computer_dns_name = factory.Sequence(lambda n: f"ws-{n:04d}.corp.example")
    related_user = "CORP\\alice"
    mitre_techniques = factory.LazyFunction(lambda: ["T1059.001"])
    created_at = factory.Sequence(lambda n: BASE_TIME + timedelta(minutes=n))
    last_updated_at = factory.LazyAttribute(lambda a: a.created_at)
    raw = factory.LazyFunction(dict)
