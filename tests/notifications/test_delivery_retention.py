"""The delivery log's retention: finished notifications and their tries go after
RETAIN_DELIVERIES_DAYS (0 keeps them), counted by the nightly retention and its dry run;
a notification still waiting to be sent is never deleted."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from partner_portal.alerts.retention import apply_retention
from partner_portal.notifications.models import DeliveryAttempt, Notification, NotificationStatus
from tenants.models import AuditEvent
from tests.notifications.factories import DeliveryAttemptFactory, NotificationFactory

pytestmark = pytest.mark.django_db


def _log(now: Any) -> dict[str, Notification]:
    old = now - timedelta(days=40)
    made = {
        "old_delivered": NotificationFactory(created_at=old),
        "old_failed": NotificationFactory(created_at=old, status=NotificationStatus.FAILED),
        "old_pending": NotificationFactory(created_at=old, status=NotificationStatus.PENDING),
        "recent": NotificationFactory(created_at=now - timedelta(days=2)),
    }
    for notification in made.values():
        DeliveryAttemptFactory(notification=notification)
    return made


def test_deliveries_are_kept_for_ever_by_default(settings: Any) -> None:
    settings.RETAIN_DELIVERIES_DAYS = 0
    _log(timezone.now())

    report = apply_retention()

    assert Notification.objects.count() == 4 and DeliveryAttempt.objects.count() == 4
    assert dict((name, rows) for name, _, rows in report.others) == {
        "delivery_attempts": 0,
        "notifications": 0,
    }


def test_finished_deliveries_older_than_the_setting_go_and_pending_ones_stay(
    settings: Any,
) -> None:
    settings.RETAIN_DELIVERIES_DAYS = 30
    made = _log(timezone.now())

    report = apply_retention()

    kept = set(Notification.objects.values_list("pk", flat=True))
    assert kept == {made["old_pending"].pk, made["recent"].pk}
    assert set(DeliveryAttempt.objects.values_list("notification_id", flat=True)) == kept
    counts = {name: rows for name, _, rows in report.others}
    assert counts == {"delivery_attempts": 2, "notifications": 2}
    event = AuditEvent.objects.get(action="retention.applied")
    assert event.details["delivery_attempts"] == 2 and event.details["notifications"] == 2
    assert "2 notification delivery attempts and 2 finished notifications" in event.summary


def test_the_dry_run_counts_deliveries_and_deletes_nothing(settings: Any) -> None:
    settings.RETAIN_DELIVERIES_DAYS = 30
    _log(timezone.now())
    out = StringIO()

    call_command("apply_retention", "--dry-run", stdout=out)

    assert "2 notification delivery attempts and 2 finished notifications" in out.getvalue()
    assert "would delete" in out.getvalue()
    assert Notification.objects.count() == 4 and DeliveryAttempt.objects.count() == 4
