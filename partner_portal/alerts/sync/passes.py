"""One sync pass: a customer's changes in one source, read from Microsoft and stored.

A pass holds the lock of its (customer, source) pair, so two workers never run it side
by side, and renews it after every page. It reads what changed since the watermark less
an overlap (Microsoft's ingestion delay, clock skew) or, on the first pass, since the
backfill horizon. Each page is stored in its own transaction. Only once every page is
in does the watermark move, to the moment the pass began: a pass that dies half way is
repeated from the old watermark, and the idempotent upsert makes the repeat harmless.

Every pass is recorded. One that stores something, a backfill and a failure each leave
a `SyncRun` row with its counts and, when it fails, an error code and an explanation fit
to show. An idle pass (nothing new or changed, no failure), most passes of a quiet
customer, leaves no row: its row is written only once a page changes something, and an
idle pass ends by counting itself on the `SyncState` instead (`last_checked_at`,
`idle_passes`, its API calls for the hour), so a fleet of quiet customers does not grow
the database by a row per customer, source and minute.

The dispatcher queues a customer's due sources as one task (`sync_sources`), which runs
their passes one after the other: the task, the customer's row and the claim are paid for
once a customer rather than once a source. Quiet customers go a few to a task
(`sync_customers`), each customer's passes as `sync_sources` runs them.

The passes of a task keep its time limit (SYNC_TASK_TIME_LIMIT, less the task's 30 s of
grace) themselves, checked before each pass and after every page, and keep their locks
alive no longer than the whole limit: a worker in Celery's threads pool enforces no task
time limit, and a pass stuck in one of its threads must still give its pair up to
another worker, as a killed process does.

A failure also backs the source off (doubling the customer's interval per failure, up to
SYNC_MAX_BACKOFF_SECONDS) and, when Microsoft says consent or a permission is missing,
marks the customer. `sync_source` never raises for the pass's own failures, so one
customer never stops another's.

The statements of an idle task (the customer, the unqueue, the state, the idle count)
are written once as SQL in `pass_sql`: a fleet makes them thousands of times a minute.

The pass knows sources only through `sources.Source`: which client, which pages, how a
page is stored and what is fetched after it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from partner_portal.alerts.models import SyncRun, SyncState, SyncStatus
from partner_portal.alerts.sync import pass_sql
from partner_portal.alerts.sync import sources as source_kinds
from partner_portal.alerts.sync.sources import AnySource, SyncClient
from partner_portal.core.failures import describe_failure
from partner_portal.core.locks import CacheLock, LockUnavailable, try_lock
from partner_portal.defender import (
    ConsentMissing,
    DefenderError,
    Forbidden,
    Unauthorized,
)
from tenants import microsoft, verification
from tenants.models import Customer

logger = logging.getLogger(__name__)

ProgressCallback = Callable[[SyncRun], None]

# Counters copied from the client to the run as the pass goes.
_STATS_FIELDS = ["api_calls", "retries", "throttled_waits", "throttled_seconds", "token_source"]


class LockLost(Exception):
    """Another worker took over this customer's sync (our lock expired)."""

    failure_code = "lock_lost"
    explanation = "Another worker took over this sync; it carries on from there."


class PassOverran(Exception):
    """The pass ran past its time limit (SYNC_TASK_TIME_LIMIT, less the grace)."""

    failure_code = "time_limit"
    explanation = "The pass took longer than its time limit; the next one carries on."


# A pass stopped by the task's time limit: its own check, or Celery's soft limit.
_OUT_OF_TIME = {PassOverran.failure_code, SoftTimeLimitExceeded.__name__}


def lock_name(customer_id: int, source: str) -> str:
    return f"sync:{customer_id}:{source}"


def sync_source(
    *, customer_id: int, source: str, progress: ProgressCallback | None = None
) -> SyncRun | None:
    """Run one pass for one customer and source (by its stored name); None if there is
    nothing to run (customer gone or paused, source unknown or not collected, or another
    worker holds its lock). `progress` is called with the run after every page.

    Never raises for a failure of the pass itself: every failure is recorded on the
    run, on the source's backoff and, for access problems, on the customer.
    """
    return sync_sources(customer_id=customer_id, sources=[source], progress=progress)[source]


def sync_sources(
    *, customer_id: int, sources: Sequence[str], progress: ProgressCallback | None = None
) -> dict[str, SyncRun | None]:
    """One pass for each of a customer's `sources` in turn, as `sync_source` runs one:
    the dispatcher queues a customer's due sources as one task, so that the task, the
    customer's row and the claim are paid for once a customer, not once a source.

    The passes share one time limit (SYNC_TASK_TIME_LIMIT, less the grace): a source
    whose turn comes after it is not started (None; the first always starts), and the
    dispatcher queues it again when it next falls due.
    """
    return sync_customers(batch=[(customer_id, sources)], progress=progress)[customer_id]


def sync_customers(
    *, batch: Sequence[tuple[int, Sequence[str]]], progress: ProgressCallback | None = None
) -> dict[int, dict[str, SyncRun | None]]:
    """The passes of a few customers in turn, each customer's as `sync_sources` runs
    them. The dispatcher sends quiet customers (their last passes found nothing new) up
    to SYNC_QUIET_BATCH to a task: a task's message, its acknowledgement and the worker's
    bookkeeping then cost once a few customers, and most customers of a fleet are quiet.

    The customers share the task's time limit: one whose turn comes after it is not
    started (its sources None; the first always starts), and the dispatcher queues it
    again when it next falls due. `progress` is called with each run after every page.
    """
    deadline = time.monotonic() + settings.SYNC_TASK_TIME_LIMIT - 30
    wanted = [(customer_id, list(dict.fromkeys(names))) for customer_id, names in batch]
    for customer_id, names in wanted:
        pass_sql.unqueue(customer_id=customer_id, sources=names)
    results: dict[int, dict[str, SyncRun | None]] = {}
    for customer_id, names in wanted:
        if results and time.monotonic() >= deadline:
            logger.warning("Sync of customer %s left for its next turn", customer_id)
            results[customer_id] = dict.fromkeys(names)
        else:
            results[customer_id] = _customer_passes(customer_id, names, progress, deadline)
    return results


def _customer_passes(
    customer_id: int, names: list[str], progress: ProgressCallback | None, deadline: float
) -> dict[str, SyncRun | None]:
    """The passes of a customer's `names`, which have left the queue: the dispatcher may
    queue the pairs again when they fall due (a pass running then holds the lock, and
    the copy ends at once). A source whose turn comes late in a slow task may be queued
    again meanwhile, and then runs twice, harmlessly (each pass from the committed
    watermark)."""
    customer = pass_sql.customer(customer_id)
    results: dict[str, SyncRun | None] = {}
    out_of_time = False
    for name in names:
        kind = source_kinds.find(name)
        if customer is None or kind is None or not kind.enabled_for(customer):
            results[name] = None
        elif out_of_time or (any(results.values()) and time.monotonic() >= deadline):
            # The first pass always starts; the others only within the task's limit.
            logger.warning("Sync of customer %s %s left for its next turn", customer_id, name)
            results[name] = None
        else:
            results[name] = run = _locked_pass(customer, kind, progress, deadline)
            out_of_time = run is not None and run.error_code in _OUT_OF_TIME
            if run is not None and run.status == SyncStatus.FAILED:
                # A failure may have marked the customer (consent, a permission).
                customer = pass_sql.customer(customer_id)
    return results


def _locked_pass(
    customer: Customer, kind: AnySource, progress: ProgressCallback | None, deadline: float
) -> SyncRun | None:
    """The pass of one pair under its lock; None if another worker holds the lock."""
    try:
        lock = try_lock(lock_name(customer.pk, kind.name), ttl=settings.SYNC_LOCK_SECONDS)
    except LockUnavailable as exc:
        # Without the lock store nobody can prove a pass is alone: record and back off.
        state, _ = SyncState.objects.get_or_create(customer=customer, source=kind.name)
        run = SyncRun.objects.create(customer=customer, source=kind.name, since=state.watermark)
        return _finish_failed(run, state, customer, kind, exc)
    if lock is None:
        logger.info("Sync of customer %s %s already running elsewhere", customer.pk, kind.name)
        return None
    try:
        return _run_pass(customer, kind, lock, progress, deadline)
    finally:
        lock.release()


def _state_for_pass(customer: Customer, source: AnySource) -> tuple[SyncState, bool]:
    """The pair's state, read under its lock, and whether a run of the pair is still
    marked "running": one a worker left when it died (we hold the lock, so none is
    alive). One statement for the common case, an existing pair with no such run."""
    found, abandoned = pass_sql.state_for_pass(customer_id=customer.pk, source=source.name)
    if found is None:
        state, _ = SyncState.objects.get_or_create(customer=customer, source=source.name)
        return state, _open_runs(customer, source).exists()
    return found, abandoned


def _open_runs(customer: Customer, source: AnySource) -> QuerySet[SyncRun]:
    """The pair's runs still marked "running"."""
    return SyncRun.objects.filter(customer=customer, source=source.name, status=SyncStatus.RUNNING)


def _close_abandoned_runs(customer: Customer, source: AnySource) -> None:
    """Runs left "running" by a worker that died; we hold the lock, so none is alive."""
    _open_runs(customer, source).update(
        status=SyncStatus.FAILED,
        finished_at=timezone.now(),
        error_code="worker_lost",
        error_message="The worker stopped during this pass; a later pass repeated it.",
    )


def _run_pass(
    customer: Customer,
    source: AnySource,
    lock: CacheLock,
    progress: ProgressCallback | None,
    deadline: float,
) -> SyncRun:
    # `deadline` is the task's soft limit, which only a prefork worker enforces; the
    # lock is kept alive up to the hard limit at most.
    state, abandoned = _state_for_pass(customer, source)
    if abandoned:
        _close_abandoned_runs(customer, source)
    started = timezone.now()
    # A history import staff asked for reads further back, as a backfill does.
    backfill = state.watermark is None or state.history_since is not None
    if state.watermark is None:
        since = started - timedelta(days=settings.SYNC_BACKFILL_DAYS)
    else:
        since = state.watermark - timedelta(seconds=settings.SYNC_OVERLAP_SECONDS)
    if state.history_since is not None:
        since = min(since, state.history_since)
    run = SyncRun(
        customer=customer, source=source.name, backfill=backfill, since=since, started_at=started
    )
    if backfill:  # the customer page follows a backfill's row while it runs
        run.save()
    token_sources: list[str] = []
    client: SyncClient | None = None
    try:
        # Kept alive while this worker lives, so a slow page on a busy machine does not
        # hand the pass to another worker; checked after every page all the same.
        with lock.keep_alive(until=deadline + 30) as lost:
            client = source.client(customer, token_sources=token_sources)
            for page in source.pages(client, since=since):
                result = source.store(customer_id=customer.pk, page=page)
                source.enrich(client, customer_id=customer.pk, page=page, result=result)
                run.pages += 1
                run.fetched += len(page)
                run.created += result.created
                run.updated += result.updated
                _copy_stats(run, client, token_sources)
                if run.pk is not None:
                    run.save(
                        update_fields=["pages", "fetched", "created", "updated", *_STATS_FIELDS]
                    )
                elif run.created or run.updated:  # no longer idle: it gets its row
                    run.save()
                if progress:
                    progress(run)
                if lost.is_set() or not lock.extend():
                    raise LockLost
                if time.monotonic() >= deadline:
                    raise PassOverran
    except Exception as exc:  # every failure must land on the run
        expected = DefenderError | LockLost | PassOverran | microsoft.PartnerAppNotConfigured
        if not isinstance(exc, expected):
            logger.exception("Sync of customer %s %s failed unexpectedly", customer.pk, source.name)
        _copy_stats(run, client, token_sources)
        return _finish_failed(run, state, customer, source, exc)
    _copy_stats(run, client, token_sources)
    return _finish_succeeded(run, state, started)


def _copy_stats(run: SyncRun, client: SyncClient | None, token_sources: list[str]) -> None:
    if client is not None:
        stats = client.stats
        run.api_calls = stats.api_calls
        run.retries = stats.retries
        run.throttled_waits = stats.throttled_waits
        run.throttled_seconds = round(stats.throttled_seconds, 3)
    if token_sources:
        # "identity_provider" if any token of the pass was freshly requested.
        run.token_source = (
            "identity_provider" if "identity_provider" in token_sources else token_sources[-1]
        )


def _finish_succeeded(run: SyncRun, state: SyncState, started: datetime) -> SyncRun:
    """Move the watermark; record the pass as its row, or, if it was idle, as counters
    on the state (the run returned then has no primary key)."""
    now = timezone.now()
    run.status = SyncStatus.SUCCEEDED
    run.finished_at = now
    if run.pk is None:  # one statement, a transaction of its own
        pass_sql.count_idle_pass(state=state, watermark=started, now=now, calls=run.api_calls)
        return run
    with transaction.atomic():
        run.save(update_fields=["status", "finished_at", *_STATS_FIELDS])
        SyncState.objects.filter(pk=state.pk).update(
            watermark=started,
            last_success_at=now,
            last_checked_at=now,
            last_run=run,
            consecutive_failures=0,
            idle_passes=0,
        )
        if state.history_since is not None:
            # Done; a newer request made while this pass ran stays for the next one.
            SyncState.objects.filter(pk=state.pk, history_since=state.history_since).update(
                history_since=None
            )
    return run


def _finish_failed(
    run: SyncRun, state: SyncState, customer: Customer, source: AnySource, exc: Exception
) -> SyncRun:
    failure = describe_failure(exc)
    code, message = failure.code, failure.words
    logger.warning("Sync of customer %s %s failed: %s", customer.pk, source.name, code)
    with transaction.atomic():
        run.status = SyncStatus.FAILED
        run.finished_at = timezone.now()
        run.error_code = code[:64]
        run.error_message = message
        if run.pk is None:  # a failure always gets its row
            run.save()
        else:
            run.save(
                update_fields=[
                    "status",
                    "finished_at",
                    "error_code",
                    "error_message",
                    *_STATS_FIELDS,
                ]
            )
        failures = state.consecutive_failures + 1
        backoff = min(
            settings.SYNC_MAX_BACKOFF_SECONDS, customer.sync_interval_seconds * 2 ** (failures - 1)
        )
        SyncState.objects.filter(pk=state.pk).update(
            last_run=run,
            last_checked_at=run.finished_at,
            idle_passes=0,
            consecutive_failures=F("consecutive_failures") + 1,
            next_due_at=timezone.now() + timedelta(seconds=backoff),
        )
    if isinstance(exc, ConsentMissing | Unauthorized):
        verification.customer_record_access_problem(customer_id=customer.pk, exc=exc)
    elif isinstance(exc, Forbidden):
        verification.customer_record_access_problem(
            customer_id=customer.pk, exc=exc, missing_permission=source.permission
        )
    return run
