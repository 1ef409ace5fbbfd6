"""Retention: what the nightly task deletes, what it keeps, and how it tells."""

from __future__ import annotations

from datetime import datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from partner_portal.alerts import tasks
from partner_portal.alerts.models import Alert, Incident, Source, SyncRun, SyncStatus
from partner_portal.alerts.retention import RetentionPolicy, apply_retention
from partner_portal.core.pruning import delete_in_batches
from tenants.models import AuditEvent
from tests.alerts.factories import (
    AlertFactory,
    CustomerFactory,
    IncidentFactory,
    SyncRunFactory,
    SyncStateFactory,
)
from tests.tenants.factories import AuditEventFactory

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def policy(**changes: int) -> RetentionPolicy:
    values = {
        "sync_runs": 3,
        "sync_failure_days": 7,
        "alert_days": 0,
        "audit_days": 0,
        "batch_size": 2,
    }
    return RetentionPolicy(**{**values, **changes})


def passes(customer, source, statuses: str, *, start: datetime, every: timedelta):
    """One finished pass per letter, oldest first: s succeeded, f failed, r running."""
    status = {"s": SyncStatus.SUCCEEDED, "f": SyncStatus.FAILED, "r": SyncStatus.RUNNING}
    return [
        SyncRunFactory(
            customer=customer, source=source, status=status[letter], started_at=start + n * every
        )
        for n, letter in enumerate(statuses)
    ]


def test_keeps_the_last_passes_of_each_source_and_recent_failures():
    customer = CustomerFactory()
    hour = timedelta(hours=1)
    # 10 days ago a failure (too old to keep), then successes, a recent failure, successes.
    alerts = passes(customer, Source.ALERTS, "fsssfsss", start=NOW - timedelta(days=10), every=hour)
    alerts[4].started_at = NOW - timedelta(days=2)  # the recent failure
    alerts[4].save()
    for n, run in enumerate(alerts[5:]):
        run.started_at = NOW - timedelta(hours=3 - n)
        run.save()
    incidents = passes(
        customer, Source.INCIDENTS, "ssss", start=NOW - timedelta(days=1), every=hour
    )
    SyncStateFactory(customer=customer, source=Source.ALERTS, last_run=alerts[-1])
    SyncStateFactory(customer=customer, source=Source.INCIDENTS, last_run=incidents[-1])

    report = apply_retention(now=NOW, policy=policy())

    kept = set(SyncRun.objects.values_list("pk", flat=True))
    assert kept == {alerts[4].pk, *(r.pk for r in alerts[5:]), *(r.pk for r in incidents[1:])}
    assert report.sync_runs == 4 + 1


def test_a_running_pass_is_never_deleted_however_old():
    customer = CustomerFactory()
    runs = passes(
        customer, Source.ALERTS, "rssss", start=NOW - timedelta(days=30), every=timedelta(hours=1)
    )
    SyncStateFactory(customer=customer, source=Source.ALERTS, last_run=runs[-1])

    apply_retention(now=NOW, policy=policy())

    assert SyncRun.objects.filter(pk=runs[0].pk).exists()
    assert SyncRun.objects.count() == 4


def test_alerts_and_incidents_are_kept_for_ever_by_default():
    old = NOW - timedelta(days=3000)
    AlertFactory(created_at=old, last_updated_at=old)
    IncidentFactory(created_at=old, last_updated_at=old)

    report = apply_retention(now=NOW, policy=policy())

    assert (Alert.objects.count(), Incident.objects.count(), report.total) == (1, 1, 0)
    assert not AuditEvent.objects.filter(action="retention.applied").exists()


def test_alerts_microsoft_has_not_changed_for_the_retention_go_in_batches():
    customer, other = CustomerFactory(), CustomerFactory()
    old, recent = NOW - timedelta(days=401), NOW - timedelta(days=5)
    gone = [
        AlertFactory(customer=c, created_at=old, last_updated_at=old) for c in (customer, other) * 3
    ]
    # Created long ago but changed lately: kept. No update time: its creation counts.
    kept = AlertFactory(customer=customer, created_at=old, last_updated_at=recent)
    gone.append(AlertFactory(customer=other, created_at=old, last_updated_at=None))
    IncidentFactory(customer=customer, created_at=old, last_updated_at=old)
    kept_incident = IncidentFactory(customer=customer, created_at=old, last_updated_at=recent)

    report = apply_retention(now=NOW, policy=policy(alert_days=400))

    assert list(Alert.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(Incident.objects.values_list("pk", flat=True)) == [kept_incident.pk]
    assert (report.alerts, report.incidents) == (len(gone), 1)


def test_audit_events_older_than_the_retention_go_and_the_deletion_is_audited():
    AuditEventFactory(created_at=NOW - timedelta(days=800))
    AuditEventFactory(created_at=NOW - timedelta(days=800))
    recent = AuditEventFactory(created_at=NOW - timedelta(days=10))

    report = apply_retention(now=NOW, policy=policy(audit_days=365))

    assert report.audit_events == 2
    left = AuditEvent.objects.order_by("created_at")
    assert left[0].pk == recent.pk
    event = left.get(action="retention.applied")
    assert event.customer is None and event.actor_label == "system"
    assert event.details["audit_events"] == 2
    assert "2 audit events" in event.summary


def test_a_dry_run_counts_and_deletes_nothing():
    customer = CustomerFactory()
    runs = passes(
        customer, Source.ALERTS, "sssss", start=NOW - timedelta(days=1), every=timedelta(hours=1)
    )
    SyncStateFactory(customer=customer, source=Source.ALERTS, last_run=runs[-1])
    AuditEventFactory(created_at=NOW - timedelta(days=800))

    report = apply_retention(now=NOW, policy=policy(audit_days=30), dry_run=True)

    assert (report.sync_runs, report.audit_events) == (2, 1)
    assert SyncRun.objects.count() == 5
    assert not AuditEvent.objects.filter(action="retention.applied").exists()


def test_the_command_says_what_it_would_delete_and_what_it_keeps(settings):
    settings.RETAIN_SYNC_RUNS = 1
    settings.RETAIN_ALERTS_DAYS = 400
    customer = CustomerFactory()
    runs = passes(
        customer, Source.ALERTS, "sss", start=NOW - timedelta(hours=5), every=timedelta(hours=1)
    )
    SyncStateFactory(customer=customer, source=Source.ALERTS, last_run=runs[-1])
    out = StringIO()

    call_command("apply_retention", "--dry-run", stdout=out)

    assert "Keeping the last 1 passes" in out.getvalue()
    assert "alerts and incidents for 400 days; audit events kept for ever" in out.getvalue()
    assert "would delete 2 sync passes, 0 alerts" in out.getvalue()
    assert SyncRun.objects.count() == 3


def test_the_nightly_task_applies_the_settings(settings):
    settings.RETAIN_SYNC_RUNS = 2
    customer = CustomerFactory()
    runs = passes(
        customer, Source.ALERTS, "ssss", start=NOW - timedelta(hours=5), every=timedelta(hours=1)
    )
    SyncStateFactory(customer=customer, source=Source.ALERTS, last_run=runs[-1])

    assert tasks.apply_retention.apply().get() == 2
    assert set(SyncRun.objects.values_list("pk", flat=True)) == {runs[2].pk, runs[3].pk}


def test_beat_schedules_retention_nightly(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["apply-retention-nightly"]
    assert entry["task"] == tasks.apply_retention.name
    assert entry["schedule"].hour == {settings.RETENTION_HOUR_UTC}


def test_batches_delete_everything_that_matches_and_nothing_else():
    keep = AuditEventFactory(action="customer.registered")
    for _ in range(7):
        AuditEventFactory(action="consent.refused")

    deleted = delete_in_batches(AuditEvent.objects.filter(action="consent.refused"), batch_size=3)

    assert deleted == 7
    assert list(AuditEvent.objects.values_list("pk", flat=True)) == [keep.pk]
