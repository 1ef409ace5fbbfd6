"""Reads about one customer's sync: health per source and a first backfill's progress.

The customer page renders it and its live JSON endpoint serves it, so both say the same.
Nothing here reveals tokens or the partner app's secrets: only counts, times, and the
error code and explanation recorded on the run.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.utils import timezone

from partner_portal.alerts.models import Alert, Incident, Source, SyncRun, SyncState, SyncStatus
from partner_portal.alerts.services import source_enabled
from tenants.models import Customer


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _run_summary(run: SyncRun | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {
        "id": run.pk,
        "status": run.status,
        "backfill": run.backfill,
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_seconds": run.duration_seconds,
        "pages": run.pages,
        "fetched": run.fetched,
        "created": run.created,
        "updated": run.updated,
        "api_calls": run.api_calls,
        "retries": run.retries,
        "throttled_waits": run.throttled_waits,
        "throttled_seconds": run.throttled_seconds,
        "token_source": run.token_source,
        "error_code": run.error_code,
        "error_message": run.error_message,
    }


def _backfill(state: SyncState | None, first: SyncRun | None, stored: int) -> dict[str, Any]:
    """Where the first backfill stands: not started, running (with what it has so far),
    or done. A failed attempt leaves the watermark empty, so it counts as not done."""
    done = state is not None and state.watermark is not None
    running = first is not None and first.status == SyncStatus.RUNNING
    phase = "done" if done else "running" if running else "waiting"
    rate = None
    if running and first is not None and first.fetched:
        elapsed = (timezone.now() - first.started_at).total_seconds()
        rate = round(first.fetched / elapsed, 1) if elapsed > 0 else None
    return {
        "phase": phase,
        "pages": first.pages if first else 0,
        "fetched": first.fetched if first else 0,
        "stored": stored,
        "per_second": rate,
        "started_at": _iso(first.started_at) if first else None,
        "finished_at": _iso(state.last_success_at) if done and state else None,
    }


def customer_sync_overview(*, customer: Customer) -> dict[str, Any]:
    """Health and backfill progress of each source of `customer`, JSON-ready."""
    states = {s.source: s for s in SyncState.objects.filter(customer=customer)}
    stored = {
        Source.ALERTS.value: Alert.objects.filter(customer=customer).count(),
        Source.INCIDENTS.value: Incident.objects.filter(customer=customer).count(),
    }
    sources: list[dict[str, Any]] = []
    for source in Source:
        state = states.get(source.value)
        runs = SyncRun.objects.filter(customer=customer, source=source.value)
        last = runs.order_by("-started_at", "-id").first()
        first = runs.filter(backfill=True).order_by("-started_at", "-id").first()
        healthy = last is None or last.status != SyncStatus.FAILED
        sources.append(
            {
                "source": source.value,
                "label": source.label,
                "enabled": source_enabled(customer, source.value),
                "healthy": healthy,
                "watermark": _iso(state.watermark) if state else None,
                "last_success_at": _iso(state.last_success_at) if state else None,
                "next_due_at": _iso(state.next_due_at) if state else None,
                "consecutive_failures": state.consecutive_failures if state else 0,
                "stored": stored[source.value],
                "last_run": _run_summary(last),
                "backfill": _backfill(state, first, stored[source.value]),
            }
        )
    return {
        "customer": customer.pk,
        "status": customer.status,
        "status_label": customer.get_status_display(),
        "interval_seconds": customer.sync_interval_seconds,
        "live": any(s["enabled"] and s["backfill"]["phase"] != "done" for s in sources),
        "sources": sources,
    }
