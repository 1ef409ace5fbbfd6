"""How long the delivery log is kept: what the nightly retention lets go here.

Every notification sent (or given up on, or suppressed) keeps its row and a
`DeliveryAttempt` per try. With `RETAIN_DELIVERIES_DAYS` set, retention deletes the tries
older than that of notifications that are finished, then the finished notifications
created before then (with any tries left). A notification still waiting to be sent is
never deleted, nor are its tries.

The default, 0, keeps the log for ever, like alerts and the audit log: a notification's
row is also its group's memory of what it has been told, so once a group's rows are gone
a later change of one of its alerts is announced afresh as a first round. Set it at or
above `RETAIN_ALERTS_DAYS` (alerts that old are gone too, so their news is new anyway).

The alerts app runs retention and may not import this app; `AppConfig.ready()` registers
these querysets with `core.pruning` instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from partner_portal.core.pruning import Prunable, register_prunable
from partner_portal.notifications.models import (
    DeliveryAttempt,
    Notification,
    NotificationStatus,
)

FINISHED = (
    NotificationStatus.DELIVERED,
    NotificationStatus.FAILED,
    NotificationStatus.SUPPRESSED,
)


def _cutoff(now: datetime) -> datetime | None:
    days = settings.RETAIN_DELIVERIES_DAYS
    return now - timedelta(days=days) if days > 0 else None


def expired_attempts(now: datetime) -> QuerySet[DeliveryAttempt] | None:
    """Tries of finished notifications made before the cutoff (None: kept for ever)."""
    cutoff = _cutoff(now)
    if cutoff is None:
        return None
    return DeliveryAttempt.objects.filter(at__lt=cutoff, notification__status__in=FINISHED)


def expired_notifications(now: datetime) -> QuerySet[Notification] | None:
    """Finished notifications created before the cutoff (None: kept for ever)."""
    cutoff = _cutoff(now)
    if cutoff is None:
        return None
    return Notification.objects.filter(created_at__lt=cutoff, status__in=FINISHED)


def register() -> None:
    """Tell the nightly retention about the delivery log (tries first, then messages)."""
    register_prunable(
        Prunable("delivery_attempts", "notification delivery attempts", expired_attempts)
    )
    register_prunable(Prunable("notifications", "finished notifications", expired_notifications))
