"""factory_boy factories for customers' alerts and incidents and the record of their syncs
(the console's tests use them). `CustomerFactory` lives in `tests/tenants/factories.py`
and is named here too, for the tests that import it from this module."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import factory
from django.utils import timezone

from partner_portal.alerts.models import (
    SEVERITY_RANK,
    Alert,
    Incident,
    SavedView,
    Source,
    SyncRun,
    SyncState,
    SyncStatus,
)
from tests.tenants.factories import CustomerFactory

__all__ = [
    "BASE_TIME",
    "AlertFactory",
    "CustomerFactory",
    "IncidentFactory",
    "SavedViewFactory",
    "SyncRunFactory",
    "SyncStateFactory",
]

BASE_TIME = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


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


class IncidentFactory(factory.django.DjangoModelFactory):
    """A Defender XDR incident; pass `created_at=None` for one that has no time yet."""

    class Meta:
        model = Incident

    customer = factory.SubFactory(CustomerFactory)
    # Far from the small numbers tests choose, so a chosen one never meets a generated one.
    incident_id = factory.Sequence(lambda n: 900_000 + n)
    name = factory.Sequence(lambda n: f"Multi-stage incident {n}")
    status = "Active"
    severity = "Medium"
    severity_rank = factory.LazyAttribute(lambda i: SEVERITY_RANK.get(i.severity, 0))
    created_at = factory.Sequence(lambda n: BASE_TIME + timedelta(minutes=n))
    last_updated_at = factory.LazyAttribute(lambda i: i.created_at)
    # Written when Defender last changed it, unless a test says otherwise.
    synced_at = factory.LazyAttribute(lambda i: i.last_updated_at or timezone.now())
    raw = factory.LazyFunction(dict)


class SyncRunFactory(factory.django.DjangoModelFactory):
    """One pass of a customer's alerts, still running (as a pass starts) unless given a
    `status`; a finished one has a `finished_at` (its start, unless given)."""

    class Meta:
        model = SyncRun

    customer = factory.SubFactory(CustomerFactory)
    source = Source.ALERTS
    status = SyncStatus.RUNNING
    started_at = factory.LazyFunction(timezone.now)
    finished_at = factory.LazyAttribute(
        lambda r: None if r.status == SyncStatus.RUNNING else r.started_at
    )


class SyncStateFactory(factory.django.DjangoModelFactory):
    """Where a customer's source stands; a new one has no watermark and is due now."""

    class Meta:
        model = SyncState

    customer = factory.SubFactory(CustomerFactory)
    source = Source.ALERTS


class SavedViewFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SavedView

    owner = factory.SubFactory("tests.factories.UserFactory")
    name = factory.Sequence(lambda n: f"View {n}")
    query = "severity=High"
    shared = False
