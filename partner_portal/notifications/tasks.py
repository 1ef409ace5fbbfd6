"""Celery tasks of notifications: thin, by ID, safe to run twice."""

from __future__ import annotations

from celery import shared_task

from partner_portal.notifications import delivery, sla_watch, suppression


@shared_task(
    name="notifications.deliver",
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=120,
    soft_time_limit=100,
)
def deliver_notification(notification_id: int) -> str:
    """Send one notification; when it must wait or be tried again, come back then."""
    outcome = delivery.deliver(notification_id=notification_id)
    if outcome.retry_in is not None:
        deliver_notification.apply_async((notification_id,), countdown=outcome.retry_in)
    return outcome.status


@shared_task(name="notifications.deliver_due", time_limit=60, soft_time_limit=50)
def deliver_due() -> int:
    """Beat runs this every few seconds: queue what a lost or restarted task left behind
    (notifications due, and alerts a suppression rule is still to resolve)."""
    ids = delivery.due_notification_ids()
    for notification_id in ids:
        deliver_notification.delay(notification_id)
    hits = suppression.pending_hit_ids()
    for hit_id in hits:
        resolve_suppressed.delay(hit_id)
    return len(ids) + len(hits)


@shared_task(name="notifications.resolve_suppressed", time_limit=120, soft_time_limit=100)
def resolve_suppressed(hit_id: int) -> str:
    """Resolve in Defender the alert a suppression rule with the resolve action caught."""
    return suppression.resolve_hit(hit_id=hit_id)


@shared_task(name="notifications.sla_sweep", time_limit=120, soft_time_limit=100)
def sla_sweep() -> int:
    """Beat runs this every minute: tell of the SLA warnings and breaches now due."""
    return sla_watch.sweep()


@shared_task(name="notifications.sla_watch_open", time_limit=600, soft_time_limit=550)
def sla_watch_open(severity: str) -> int:
    """After a goal for `severity` was set: watch its open alerts not watched yet."""
    return sla_watch.watch_open_alerts(severity=severity)
