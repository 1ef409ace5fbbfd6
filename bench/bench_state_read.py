"""The statement every pass begins with: the ORM's `Exists` annotation against `raw()`.

A pass reads its pair's state together with whether a run of the pair was left
"running" (by a worker that died): one SELECT with an EXISTS. A fleet makes thousands a
minute, so what the worker spends building that statement counts. This bench times, in
one process and on one database, the two ways of reading the same row:

* before: `SyncState.objects.filter(...).annotate(has_open_run=Exists(runs)).first()`,
  the ORM compiling the query on every call;
* now: `passes._state_for_pass`, the same statement written once and read through
  `raw()`.

`--customers` Graph customers, each with its two state rows and `--runs` finished runs
per source (the EXISTS looks among them); rounds take the two ways in turn (the order
reversed every other round), each reading every customer's alerts state once. Measured
per read: this process's CPU time (what the worker spends; the database's work is the
same statement both ways) and the wall time; the medians of the rounds and their ratio.

Needs PostgreSQL (BENCH_PG, as bench_sync.py).

    .venv/bin/python bench/bench_state_read.py                 # 500 customers, 9 rounds
    .venv/bin/python bench/bench_state_read.py --smoke         # proves that it runs
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


def orm_read(customer: Any, source: Any) -> tuple[Any, bool]:
    """The read as it was: the ORM builds the statement, with its Exists, on every call."""
    from django.db.models import Exists

    from partner_portal.alerts.models import SyncState
    from partner_portal.alerts.sync.passes import _open_runs

    found = (
        SyncState.objects.filter(customer=customer, source=source.name)
        .annotate(has_open_run=Exists(_open_runs(customer, source)))
        .first()
    )
    assert found is not None
    return found, bool(found.has_open_run)


def raw_read(customer: Any, source: Any) -> tuple[Any, bool]:
    """The read now (`passes._state_for_pass`)."""
    from partner_portal.alerts.sync.passes import _state_for_pass

    return _state_for_pass(customer, source)


def one_round(
    read: Callable[[Any, Any], tuple[Any, bool]], customers: list[Any]
) -> tuple[float, float]:
    """CPU and wall seconds a read, reading every customer's alerts state once."""
    from partner_portal.alerts.sync import sources

    source = sources.find(bench_sync.sources_of(True)[0])
    cpu, wall = time.process_time(), time.perf_counter()
    for customer in customers:
        state, left_running = read(customer, source)
        assert state.customer_id == customer.pk and not left_running
    n = len(customers)
    return (time.process_time() - cpu) / n, (time.perf_counter() - wall) / n


def bench(customers_n: int, runs_n: int, rounds: int) -> list[dict[str, Any]]:
    customers = make_fleet(customers_n, runs_n)
    ways = {"ORM, Exists annotation (before)": orm_read, "raw() (now)": raw_read}
    for read in ways.values():  # warm-up: imports, the cached statement, the connection
        one_round(read, customers[:20])
    measured: dict[str, list[tuple[float, float]]] = {label: [] for label in ways}
    for round_no in range(rounds):
        order = list(ways) if round_no % 2 == 0 else list(reversed(ways))
        for label in order:
            measured[label].append(one_round(ways[label], customers))
    return [
        {
            "label": label,
            "cpu": statistics.median(c for c, _ in got),
            "wall": statistics.median(w for _, w in got),
            "cpus": [c for c, _ in got],
        }
        for label, got in measured.items()
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves that it runs")
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20, help="finished runs per source")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--database", default="bench_state_read", help="scratch database")
    args = parser.parse_args()
    if args.smoke:
        args.customers, args.runs, args.rounds = 20, 2, 1
    tag = "smoke: " if args.smoke else ""
    try:
        bench_sync.DB_NAME = args.database
        bench_sync.prepare_environment(tempfile.mkdtemp(prefix="bench-state-read-"))
        rows = bench(args.customers, args.runs, args.rounds)
        before, now = rows
        for r in rows:
            cpus = ", ".join(f"{c * 1000:.3f}" for c in r["cpus"])
            print(
                f"{tag}a pass's state read, {args.customers} customers x {args.runs} runs, "
                f"{r['label']}: CPU {r['cpu'] * 1000:.3f} ms a read (median of "
                f"{args.rounds}; rounds {cpus}), wall {r['wall'] * 1000:.3f} ms"
            )
        ratio = now["cpu"] / before["cpu"] if before["cpu"] else float("nan")
        print(f"{tag}now against before: CPU {ratio:.2f}x; {fm.load()}")
    finally:
        bench_sync.drop_database()


if __name__ == "__main__":
    main()
