"""Delivering one notification: lock its row, send, record the attempt, decide what next.

The row stays locked (`SELECT ... FOR UPDATE SKIP LOCKED`) while the message is sent,
so two workers handed the same notification cannot both send it: the second finds it
locked or delivered and does nothing. A failure leaves it waiting with a later
`not_before` (exponential backoff) until `NOTIFY_MAX_ATTEMPTS`, then it is given up,
with what went wrong in words on the row and on each attempt. A notification due while
its policy is muted waits for the window's end; alerts a suppression rule made since
then matches are left out, and a notification left without alerts is not sent.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from partner_portal.core.failures import describe_failure
from partner_portal.notifications import campaign_events, incident_events, senders, suppression
from partner_portal.notifications.messages import compose
from partner_portal.notifications.models import DeliveryAttempt, Notification, NotificationStatus
from partner_portal.notifications.mute import from_json, muted_until

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What became of one try: `retry_in` seconds when the notification still waits."""

    status: str
    retry_in: float | None = None


NOTHING_TO_DO = Outcome("nothing")


def backoff_seconds(attempts: int) -> float:
    base = float(settings.NOTIFY_RETRY_BASE_SECONDS)
    return float(min(settings.NOTIFY_RETRY_MAX_SECONDS, base * 2 ** max(0, attempts - 1)))


def deliver(*, notification_id: int) -> Outcome:
    """Try to send one notification, if it is waiting and due."""
    with transaction.atomic():
        notification = (
            Notification.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("channel", "customer", "policy")
            .filter(pk=notification_id, status=NotificationStatus.PENDING)
            .first()
        )
        if notification is None:
            return NOTHING_TO_DO  # delivered, given up, deleted, or in another worker's hands
        now = timezone.now()
        if notification.not_before > now:
            return Outcome("waiting", (notification.not_before - now).total_seconds())
        if not notification.channel.enabled:
            return _give_up(notification, "channel_disabled", "The channel was switched off.")
        policy = notification.policy
        until = muted_until(from_json(policy.mute_windows), now) if policy else None
        if until is not None and not notification.is_test:
            notification.not_before = until
            notification.save(update_fields=["not_before"])
            return Outcome("muted", (until - now).total_seconds())
        if (
            notification.alert_ids
            and not notification.is_test
            and not notification.group_key.startswith(
                (incident_events.GROUP_PREFIX, campaign_events.GROUP_PREFIX)
            )
        ):
            kept = suppression.still_to_send(notification=notification, now=now)
            if not kept:
                notification.status = NotificationStatus.SUPPRESSED
                notification.error_message = "A suppression rule made meanwhile matches its alerts."
                notification.save(update_fields=["status", "error_message"])
                return Outcome("suppressed")
            if len(kept) < len(notification.alert_ids):
                notification.alert_ids = kept
                notification.save(update_fields=["alert_ids"])
        started = time.monotonic()
        try:
            status_code = senders.send(
                notification.channel, compose(notification), sent_at=now.isoformat()
            )
        except senders.DeliveryError as exc:
            return _failed(notification, exc, started)
        notification.status = NotificationStatus.DELIVERED
        notification.attempts += 1
        notification.delivered_at = timezone.now()
        notification.error_code = notification.error_message = ""
        notification.save(
            update_fields=["status", "attempts", "delivered_at", "error_code", "error_message"]
        )
        DeliveryAttempt.objects.create(
            notification=notification,
            succeeded=True,
            status_code=status_code,
            duration_ms=_ms_since(started),
        )
    return Outcome("delivered")


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def _failed(notification: Notification, exc: senders.DeliveryError, started: float) -> Outcome:
    failure = describe_failure(exc)
    notification.attempts += 1
    DeliveryAttempt.objects.create(
        notification=notification,
        succeeded=False,
        status_code=exc.status_code,
        error_code=failure.code[:64],
        error_message=failure.words,
        duration_ms=_ms_since(started),
    )
    logger.warning(
        "Notification %s to channel %s failed (attempt %s): %s",
        notification.pk,
        notification.channel_id,
        notification.attempts,
        failure.code,
    )
    if not exc.retry or notification.attempts >= settings.NOTIFY_MAX_ATTEMPTS:
        return _give_up(notification, failure.code, failure.words)
    wait = backoff_seconds(notification.attempts)
    notification.not_before = timezone.now() + timedelta(seconds=wait)
    notification.error_code = failure.code[:64]
    notification.error_message = failure.words
    notification.save(update_fields=["attempts", "not_before", "error_code", "error_message"])
    return Outcome("retrying", wait)


def _give_up(notification: Notification, code: str, words: str) -> Outcome:
    notification.status = NotificationStatus.FAILED
    notification.error_code = code[:64]
    notification.error_message = words
    notification.save(update_fields=["status", "attempts", "error_code", "error_message"])
    return Outcome("failed")


def due_notification_ids(*, limit: int = 500) -> list[int]:
    """Waiting notifications that are due and not just queued: what a lost task left."""
    grace = timezone.now() - timedelta(seconds=settings.NOTIFY_SWEEP_GRACE_SECONDS)
    return list(
        Notification.objects.filter(status=NotificationStatus.PENDING, not_before__lte=grace)
        .order_by("not_before")
        .values_list("pk", flat=True)[:limit]
    )
