"""Celery tasks of the sync: thin, by ID, safe to run twice."""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from partner_portal.alerts import evidence_on_demand, retention
from partner_portal.alerts.sync import dispatch, passes


@shared_task(name="alerts.dispatch_due_syncs", time_limit=60, soft_time_limit=50)
def dispatch_due_syncs() -> int:
    """Beat runs this every few seconds; it queues the syncs that are due."""
    return len(dispatch.dispatch_due_syncs())


_SYNC_TASK = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "time_limit": settings.SYNC_TASK_TIME_LIMIT,
    "soft_time_limit": settings.SYNC_TASK_TIME_LIMIT - 30,
}


@shared_task(name="alerts.sync_customer", **_SYNC_TASK)
def sync_customer(customer_id: int, sources: list[str]) -> dict[str, str | None]:
    """A pass for each of a customer's due sources, one after the other. A redelivered
    task repeats the passes from the committed watermarks, which makes neither duplicates
    nor gaps."""
    runs = passes.sync_sources(customer_id=customer_id, sources=sources)
    return {name: run.status if run else None for name, run in runs.items()}


@shared_task(name="alerts.sync_customers", **_SYNC_TASK)
def sync_customers(batch: list[tuple[int, list[str]]]) -> dict[int, dict[str, str | None]]:
    """The passes of a few quiet customers, one customer after the other, each as
    `sync_customer` runs them (`batch`: each customer's ID and due sources)."""
    runs = passes.sync_customers(batch=[(customer_id, names) for customer_id, names in batch])
    return {
        customer_id: {name: run.status if run else None for name, run in by_source.items()}
        for customer_id, by_source in runs.items()
    }


@shared_task(name="alerts.sync_customer_source", **_SYNC_TASK)
def sync_customer_source(customer_id: int, source: str) -> str | None:
    """One pass for one customer and source: what the dispatcher queued before it queued
    a customer's sources together; kept so that such tasks still in a queue run."""
    run = passes.sync_source(customer_id=customer_id, source=source)
    return run.status if run else None


@shared_task(name="alerts.fetch_alert_evidence", time_limit=120, soft_time_limit=100)
def fetch_alert_evidence(alert_pk: int) -> str:
    """One alert's evidence, asked for when its page was opened without it."""
    return evidence_on_demand.fetch_evidence(alert_pk=alert_pk)


@shared_task(name="alerts.apply_retention", time_limit=3 * 3600, soft_time_limit=3 * 3600 - 60)
def apply_retention() -> int:
    """Beat runs this nightly: delete what the retention settings no longer keep."""
    return retention.apply_retention().total
