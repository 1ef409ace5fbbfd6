"""The statements of an idle customer task: built by the ORM on every call, against
written once as SQL (`alerts/sync/pass_sql.py`).

An idle customer task (both Graph sources, nothing new) makes six statements: it reads
the customer, marks both sources as having left the queue, and for each source reads the
pair's state (with whether a run of it was left "running") and counts the idle pass on
it. A fleet makes them thousands of times a minute, so what a worker spends *building*
them counts. This bench times each of them both ways, in one process and on one
database, on the same rows:

* before: the ORM, as `passes` built them (`filter(...).first()`; `update()` with `F()`
  expressions; the state read as an `Exists` annotation; the idle count inside
  `transaction.atomic`, the decorator `_finish_succeeded` had);
* now: `pass_sql`'s statements, sent as written (the idle count in a transaction of
  its own, one statement).

`--customers` Graph customers, each with its two state rows and `--runs` finished runs
per source (the state read's EXISTS looks among them). Rounds take the two ways in turn
(the order reversed every other round); a round makes one kind of statement for every
customer. Measured per statement: this process's CPU time (what the worker spends) and
the wall time (which includes the database's answer, and the BEGIN and COMMIT the
atomic block sent). The medians of the rounds are printed, then a task's total (one of
each, the state read and the idle count twice) and its ratio.

Needs PostgreSQL (BENCH_PG, as bench_sync.py).

    .venv/bin/python bench/bench_pass_statements.py                 # 500 customers, 9 rounds
    .venv/bin/python bench/bench_pass_statements.py --smoke         # proves that it runs

(Until 2026-12-02 this was `bench_state_read.py`, which timed the state read alone.)
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from typing import Any

import bench_dispatch
import bench_sync
import fleet_measures as fm

#: How many of each statement an idle task of a Graph customer makes.
PER_TASK = {"customer": 1, "unqueue": 1, "state": 2, "idle count": 2}


def make_fleet(customers_n: int, runs_n: int) -> list[Any]:
    """`customers_n` Graph customers (as bench_dispatch makes them, with their state rows)
    and `runs_n` finished runs of each of their sources."""
    from partner_portal.alerts.models import SyncRun, SyncStatus
    from tenants.models import Customer

    bench_dispatch.make_fleet(customers_n)
    customers = list(Customer.objects.order_by("pk"))
    SyncRun.objects.bulk_create(
        (
            SyncRun(customer=c, source=source, status=SyncStatus.SUCCEEDED)
            for c in customers
            for source in bench_sync.sources_of(True)
            for _ in range(runs_n)
        ),
        batch_size=5000,
    )
    return customers


# Each way of each statement takes a customer and the state row of its alerts source.


def orm_customer(customer: Any, _state: Any) -> None:
    from tenants.models import Customer

    assert Customer.objects.filter(pk=customer.pk).first() is not None


def sql_customer(customer: Any, _state: Any) -> None:
    from partner_portal.alerts.sync import pass_sql

    assert pass_sql.customer(customer.pk) is not None


def orm_unqueue(customer: Any, _state: Any) -> None:
    from partner_portal.alerts.models import SyncState

    names = bench_sync.sources_of(True)
    SyncState.objects.filter(
        customer_id=customer.pk, source__in=names, queued_at__isnull=False
    ).update(queued_at=None)


def sql_unqueue(customer: Any, _state: Any) -> None:
    from partner_portal.alerts.sync import pass_sql

    pass_sql.unqueue(customer_id=customer.pk, sources=bench_sync.sources_of(True))


def orm_state(customer: Any, state: Any) -> None:
    from django.db.models import Exists

    from partner_portal.alerts.models import SyncRun, SyncState, SyncStatus

    runs = SyncRun.objects.filter(customer=customer, source=state.source, status=SyncStatus.RUNNING)
    found = (
        SyncState.objects.filter(customer=customer, source=state.source)
        .annotate(has_open_run=Exists(runs))
        .first()
    )
    assert found is not None and not found.has_open_run


def sql_state(customer: Any, state: Any) -> None:
    from partner_portal.alerts.sync import pass_sql

    found, left_running = pass_sql.state_for_pass(customer_id=customer.pk, source=state.source)
    assert found is not None and found.pk == state.pk and not left_running


def orm_idle_count(_customer: Any, state: Any) -> None:
    from django.db import transaction
    from django.db.models import F
    from django.utils import timezone

    from partner_portal.alerts.models import SyncState

    now = timezone.now()
    with transaction.atomic():
        SyncState.objects.filter(pk=state.pk).update(
            watermark=now, last_success_at=now, last_checked_at=now, consecutive_failures=0,
            idle_passes=F("idle_passes") + 1, idle_calls=F("idle_calls") + 1,
        )  # fmt: skip


def sql_idle_count(_customer: Any, state: Any) -> None:
    from django.utils import timezone

    from partner_portal.alerts.sync import pass_sql

    pass_sql.count_idle_pass(state=state, watermark=timezone.now(), now=timezone.now(), calls=1)


WAYS: dict[str, dict[str, Callable[[Any, Any], None]]] = {
    "customer": {"ORM": orm_customer, "SQL": sql_customer},
    "unqueue": {"ORM": orm_unqueue, "SQL": sql_unqueue},
    "state": {"ORM": orm_state, "SQL": sql_state},
    "idle count": {"ORM": orm_idle_count, "SQL": sql_idle_count},
}


def one_round(
    make: Callable[[Any, Any], None], pairs: list[tuple[Any, Any]]
) -> tuple[float, float]:
    """CPU and wall seconds a statement, making it once for every customer."""
    cpu, wall = time.process_time(), time.perf_counter()
    for customer, state in pairs:
        make(customer, state)
    n = len(pairs)
    return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n


def bench(customers_n: int, runs_n: int, rounds: int) -> dict[str, dict[str, dict[str, float]]]:
    from django.utils import timezone

    from partner_portal.alerts.models import SyncState

    customers = make_fleet(customers_n, runs_n)
    alerts_source = bench_sync.sources_of(True)[0]
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    # The idle counts land in this hour (the SQL way's common case, as the ORM's above).
    SyncState.objects.update(idle_calls_hour=hour)
    states = {s.customer_id: s for s in SyncState.objects.filter(source=alerts_source)}
    pairs = [(c, states[c.pk]) for c in customers]
    for ways in WAYS.values():  # warm-up: imports, the cached statements, the connection
        for make in ways.values():
            one_round(make, pairs[:20])
    got: dict[str, dict[str, list[tuple[float, float]]]] = {
        kind: {way: [] for way in ways} for kind, ways in WAYS.items()
    }
    for round_no in range(rounds):
        for kind, ways in WAYS.items():
            order = list(ways) if round_no % 2 == 0 else list(reversed(ways))
            for way in order:
                got[kind][way].append(one_round(ways[way], pairs))
    return {
        kind: {
            way: {
                "cpu": statistics.median(c for c, _ in runs),
                "wall": statistics.median(w for _, w in runs),
            }
            for way, runs in ways.items()
        }
        for kind, ways in got.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves that it runs")
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20, help="finished runs per source")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--database", default="bench_pass_statements", help="scratch database")
    args = parser.parse_args()
    if args.smoke:
        args.customers, args.runs, args.rounds = 20, 2, 1
    tag = "smoke: " if args.smoke else ""
    try:
        bench_sync.DB_NAME = args.database
        bench_sync.prepare_environment(tempfile.mkdtemp(prefix="bench-pass-statements-"))
        measured = bench(args.customers, args.runs, args.rounds)
        head = f"{tag}{args.customers} customers x {args.runs} runs, medians of {args.rounds}"
        task = {"ORM": {"cpu": 0.0, "wall": 0.0}, "SQL": {"cpu": 0.0, "wall": 0.0}}
        for kind, ways in measured.items():
            orm, sql = ways["ORM"], ways["SQL"]
            for way in task:
                for key in ("cpu", "wall"):
                    task[way][key] += ways[way][key] * PER_TASK[kind]
            print(
                f"{head}: {kind}: CPU {orm['cpu'] * 1000:.3f} ms through the ORM, "
                f"{sql['cpu'] * 1000:.3f} ms as SQL ({sql['cpu'] / orm['cpu']:.2f}x); wall "
                f"{orm['wall'] * 1000:.3f} ms, {sql['wall'] * 1000:.3f} ms"
            )
        orm, sql = task["ORM"], task["SQL"]
        print(
            f"{head}: an idle task's six statements: CPU {orm['cpu'] * 1000:.3f} ms before, "
            f"{sql['cpu'] * 1000:.3f} ms now ({sql['cpu'] / orm['cpu']:.2f}x); wall "
            f"{orm['wall'] * 1000:.3f} ms, {sql['wall'] * 1000:.3f} ms "
            f"({sql['wall'] / orm['wall']:.2f}x); {fm.load()}"
        )
    finally:
        bench_sync.drop_database()


if __name__ == "__main__":
    main()
