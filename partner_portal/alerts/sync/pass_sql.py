"""The statements of an idle customer task, written once as SQL.

Most tasks of a fleet find nothing new: a customer task reads the customer, marks its
sources as having left the queue, and for each source reads the pair's state and counts
the idle pass on it. Thousands of customers a minute make these statements thousands of
times a minute, and the ORM built each one again every time: for the short statements
here, building took the worker several times the CPU that sending them and reading the
answer did (`bench/bench_pass_statements.py`). Each is written here once, with the
models' table and column names, and sent as it is; the values go as parameters, adapted
as the ORM adapts them, so the rows read and written are the same either way, on
PostgreSQL and on SQLite.

What is not on the idle path (a pass that stores something, a failure, the first pass
of a pair) stays with the ORM in `passes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cache

from django.db import connection

from partner_portal.alerts.models import SyncRun, SyncState, SyncStatus
from tenants.models import Customer


def customer(customer_id: int) -> Customer | None:
    """The customer, or None if it is gone."""
    return next(iter(Customer.objects.raw(_customer_sql(), [customer_id])), None)


def unqueue(*, customer_id: int, sources: Sequence[str]) -> None:
    """The customer's queued `sources` have left the queue (`queued_at` cleared)."""
    if not sources:
        return
    marks = ", ".join(["%s"] * len(sources))
    with connection.cursor() as cursor:
        cursor.execute(_unqueue_sql().format(marks=marks), [customer_id, *sources])


def state_for_pass(*, customer_id: int, source: str) -> tuple[SyncState | None, bool]:
    """The pair's state (None if it has none yet) and whether a run of the pair is still
    marked "running", in one statement."""
    found = next(
        iter(SyncState.objects.raw(_state_sql(), [SyncStatus.RUNNING, customer_id, source])),
        None,
    )
    if found is None:
        return None, False
    return found, bool(found.has_open_run)  # type: ignore[attr-defined]  # raw()'s column


def count_idle_pass(*, state: SyncState, watermark: datetime, now: datetime, calls: int) -> None:
    """An idle pass that ended at `now`: the watermark moved to `watermark`, the pass
    counted, and its `calls` added to the hour's idle API calls. One statement, its own
    transaction. The hourly counters are read from `state`: only the pass holding the
    pair's lock writes them, so reading then writing is safe."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    stamp = connection.ops.adapt_datetimefield_value
    params: list[str | int | None] = [stamp(watermark), stamp(now), stamp(now)]
    if state.idle_calls_hour == hour:
        sql = _idle_same_hour_sql()
        params.append(calls)
    else:
        before = state.idle_calls if state.idle_calls_hour == hour - timedelta(hours=1) else 0
        sql = _idle_new_hour_sql()
        params += [stamp(hour), calls, before]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, state.pk])


def _table(model: type[SyncState] | type[SyncRun] | type[Customer]) -> str:
    return connection.ops.quote_name(model._meta.db_table)


# The statements are built once the models are loaded (their table names); every value
# goes as a parameter. Column names are the models' fields, checked by the tests that
# run these statements.


@cache
def _customer_sql() -> str:
    return f"SELECT * FROM {_table(Customer)} WHERE id = %s"  # noqa: S608


@cache
def _unqueue_sql() -> str:
    return (
        f"UPDATE {_table(SyncState)} SET queued_at = NULL"  # noqa: S608
        " WHERE customer_id = %s AND queued_at IS NOT NULL AND source IN ({marks})"
    )


@cache
def _state_sql() -> str:
    return (
        f"SELECT s.*, EXISTS (SELECT 1 FROM {_table(SyncRun)} r"  # noqa: S608
        " WHERE r.customer_id = s.customer_id AND r.source = s.source AND r.status = %s)"
        f" AS has_open_run FROM {_table(SyncState)} s WHERE s.customer_id = %s AND s.source = %s"
    )


_IDLE_COUNT = (
    "UPDATE {table} SET watermark = %s, last_success_at = %s, last_checked_at = %s,"
    " consecutive_failures = 0, idle_passes = idle_passes + 1, {counters} WHERE id = %s"
)


@cache
def _idle_same_hour_sql() -> str:
    return _IDLE_COUNT.format(table=_table(SyncState), counters="idle_calls = idle_calls + %s")


@cache
def _idle_new_hour_sql() -> str:
    return _IDLE_COUNT.format(
        table=_table(SyncState),
        counters="idle_calls_hour = %s, idle_calls = %s, idle_calls_hour_before = %s",
    )
