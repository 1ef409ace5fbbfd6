"""Reads about where a customer's sync stands, for the people who watch it.

For each registered source: whether it is collected, the watermark, when it is next due,
how many failures in a row, how many items are stored, the latest pass, and how far the
first backfill has come (with its rate while it runs). An idle pass leaves no run, only
counters on the `SyncState`, so "the latest pass" is read from both: "checked 20 s ago,
nothing new" when the newest was idle, else the newest run's counts.

The customer page renders this and its live JSON endpoint (polled while a backfill runs)
serves the same dictionary, so the two never disagree; `sync_now` prints its own progress
from the run it is given.

Only counts, times and the error code and explanation recorded on a run leave here:
never a token or anything of the partner app's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.conf import settings
from django.utils import timezone

from partner_portal.alerts.models import SyncRun, SyncState, SyncStatus
from partner_portal.alerts.sync import sources
from partner_portal.core.times import format_age, format_moment
from tenants.models import Customer, CustomerStatus


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
        "text": _backfill_text(phase, first, rate),
        "pages": first.pages if first else 0,
        "fetched": first.fetched if first else 0,
        "stored": stored,
        "per_second": rate,
        "started_at": _iso(first.started_at) if first else None,
        "finished_at": _iso(state.last_success_at) if done and state else None,
    }


def _backfill_text(phase: str, first: SyncRun | None, rate: float | None) -> str:
    """Where the first backfill stands, in a sentence that counts only what this backfill
    has read: items stored by earlier attempts or with incidents are the "Stored" figure."""
    if phase == "done":
        return "First backfill done."
    if phase == "waiting" or first is None:
        return "First backfill waiting to start."
    if not first.pages and not first.fetched:
        return f"First backfill started {format_age(first.started_at)}, reading the first page."
    pages = f"{first.pages} page{'s' if first.pages != 1 else ''}"
    speed = f" ({rate:,.0f}/s)" if rate else ""
    return f"First backfill running: {first.fetched:,} read in {pages} so far{speed}."


def _no_success_yet(phase: str, health: str) -> str:
    """What "Last success" says before the first success, so that it never contradicts
    a backfill that is running."""
    if health == "awaiting_consent":
        return "none yet: waiting for consent"
    if phase == "running":
        return "none yet: the first backfill is running"
    if health == "failing":
        return "never: no pass has succeeded yet"
    return "none yet"


# A source's health as the customer page shows it; "ok" only once a pass has succeeded.
HEALTH_TEXT = {
    "ok": "OK",
    "failing": "Failing",
    "awaiting_consent": "Waiting for consent",
    "not_synced": "Not synced yet",
    "running": "First pass running",
}


def _health(customer: Customer, state: SyncState | None, last: SyncRun | None) -> str:
    """Whether a source is fine: a customer that has not consented is waiting for that,
    and a source never synced has not shown it works yet. An idle pass after a failure
    (it wrote no run) clears the failure as a recorded success would."""
    if customer.status in (CustomerStatus.PENDING_CONSENT, CustomerStatus.VERIFYING):
        return "awaiting_consent"
    idle = state is not None and state.last_pass_idle
    if last is None and not idle:
        return "not_synced"
    if last is not None and last.status == SyncStatus.RUNNING and last.backfill:
        return "running"
    if last is not None and last.status == SyncStatus.FAILED and not idle:
        return "failing"
    return "ok"


def _plural(count: int, word: str) -> str:
    ending = "" if count == 1 else "es" if word.endswith("s") else "s"
    return f"{count:,} {word}{ending}"


def last_pass_text(state: SyncState | None, last: SyncRun | None) -> str:
    """The latest pass in one line, for the card and its live updates alike."""
    if state is not None and state.last_pass_idle and state.last_checked_at:
        quiet = _plural(state.idle_passes, "quiet pass")
        return (
            f"checked {format_age(state.last_checked_at)}, nothing new "
            f"({quiet} since the last change)"
        )
    if last is None:
        return "none yet"
    if last.status == SyncStatus.RUNNING:
        return "running"
    parts = [
        f"{last.fetched:,} read",
        f"{last.created:,} new",
        f"{last.updated:,} changed",
        _plural(last.api_calls, "API call"),
    ]
    if last.throttled_waits:
        parts.append(_plural(last.throttled_waits, "throttled wait"))
    return f"{last.status}: {', '.join(parts)}"


def customer_sync_overview(*, customer: Customer) -> dict[str, Any]:
    """Health and backfill progress of each source of `customer`, JSON-ready: those of
    the API it is on (Graph or the legacy ones), and any other it has synced before."""
    states = {
        s.source: s for s in SyncState.objects.filter(customer=customer).select_related("last_run")
    }
    overview: list[dict[str, Any]] = []
    for source in sources.all_sources():
        state = states.get(source.name)
        if source.on_graph != customer.on_graph and state is None:
            continue
        stored = source.stored_count(customer)
        runs = SyncRun.objects.filter(customer=customer, source=source.name)
        last = runs.order_by("-started_at", "-id").first()
        first = runs.filter(backfill=True).order_by("-started_at", "-id").first()
        health = _health(customer, state, last)
        backfill = _backfill(state, first, stored)
        overview.append(
            {
                "source": source.name,
                "label": source.label,
                "enabled": source.enabled_for(customer),
                "healthy": health == "ok",
                "health": health,
                "health_text": HEALTH_TEXT[health],
                "watermark": _iso(state.watermark) if state else None,
                "last_success_at": _iso(state.last_success_at) if state else None,
                "last_success_text": format_moment(state.last_success_at) if state else "",
                "last_success_age": format_age(state.last_success_at) if state else "",
                "no_success_yet": _no_success_yet(backfill["phase"], health),
                "next_due_at": _iso(state.next_due_at) if state else None,
                "consecutive_failures": state.consecutive_failures if state else 0,
                "stored": stored,
                "last_run": _run_summary(last),
                "last_pass_text": last_pass_text(state, last),
                "last_checked_at": _iso(state.last_checked_at) if state else None,
                "idle_passes": state.idle_passes if state else 0,
                "backfill": backfill,
            }
        )
    return {
        "customer": customer.pk,
        "status": customer.status,
        "status_label": customer.get_status_display(),
        "interval_seconds": customer.sync_interval_seconds,
        "live": any(s["enabled"] and s["backfill"]["phase"] != "done" for s in overview),
        "sources": overview,
        # A history import staff asked for and no pass has finished yet ("YYYY-MM-DD").
        "history_since": min(
            (f"{s.history_since:%Y-%m-%d}" for s in states.values() if s.history_since),
            default=None,
        ),
        "history_max_days": settings.SYNC_HISTORY_MAX_DAYS,
    }


# --- one pass, as it goes --------------------------------------------------------------------
def pass_progress_text(run: SyncRun, *, elapsed_seconds: float) -> str:
    """How far a running pass has come, in one line (`sync_now` prints it after each page)."""
    rate = run.fetched / elapsed_seconds if elapsed_seconds > 0 else 0.0
    return (
        f"{run.pages} page(s), {run.fetched} read ({run.created} new, "
        f"{run.updated} changed), {run.api_calls} API call(s), {rate:,.0f}/s"
    )


def pass_summary_text(run: SyncRun) -> str:
    """What a finished pass did, in one line: its kind, outcome, time and counts."""
    seconds = run.duration_seconds or 0.0
    kind = "backfill" if run.backfill else "increment"
    text = (
        f"{kind} {run.status} in {seconds:.1f} s: "
        f"{run.pages} page(s), {run.fetched} read, {run.created} new, {run.updated} changed, "
        f"{run.api_calls} API call(s)"
    )
    if run.throttled_waits:
        text += f", {run.throttled_waits} throttled wait(s) ({run.throttled_seconds:.1f} s)"
    if run.status == SyncStatus.FAILED:
        text += f". {run.error_code}: {run.error_message}"
    return text
