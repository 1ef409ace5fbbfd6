"""What an idle pass costs: a task per source or per customer, a database connection per
task or kept, measured side by side in one run.

Most passes of a fleet find nothing new. This bench makes `--customers` customers on
Microsoft Graph (both sources: alerts_v2 and incidents) in a sandbox without latency,
backfills them, and starts two real Celery workers (`--pool`, `--concurrency`) on a
private Redis: one on the portal's settings, which keep a worker's database connections
between tasks, and one on `per_task_connections.py`, which opens a new one for every task
(Celery's default, and the portal's before). Then, in rounds that take the four ways in
turn, it queues every customer's two idle passes either as two tasks
(`alerts.sync_customer_source`, a task per source, as the dispatcher queued them before)
or as one (`alerts.sync_customer`, as it queues a customer that is not quiet), or four
customers to a task (`alerts.sync_customers`, as it queues quiet customers now:
SYNC_QUIET_BATCH) to one of the workers, and
waits until the state rows have counted every pass. Measured per pass, for each way:

* the worker's CPU time (user and system, the process and its pool);
* the PostgreSQL server's CPU time (its processes, and the backends that ended, which
  the postmaster reaped: a connection opened for one task ends with it);
* the transactions the database committed (Django runs each statement outside a
  transaction block as one, so this counts the statements a pass makes, near enough;
  read 11 s after the round, once the workers' idle connections have reported them);
* the database's statement time (pg_stat_database.active_time);
* the wall time of the round.

Rounds alternate so that both ways see the same machine; the medians of the rounds and
the ratio of the two are printed. The sandbox's work is the same for both ways (the same
calls) and is not counted.

Needs PostgreSQL (BENCH_PG, as bench_sync.py) and `redis-server` on the PATH.

    .venv/bin/python bench/bench_pass_cost.py --customers 500 --rounds 6
    .venv/bin/python bench/bench_pass_cost.py --smoke          # proves that it runs
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bench_sync
import fleet_measures as fm
from graph_backfill import GRAPH_SOURCES

ROOT = Path(__file__).resolve().parents[1]

STATS_FLUSH_SECONDS = 11
BEFORE = "a task per source, a new connection per task (before)"
PER_CUSTOMER = "a task per customer, connections kept"
NOW = "quiet customers four to a task, connections kept (now)"
#: Quiet customers to a task in the last way (the default of SYNC_QUIET_BATCH).
QUIET_BATCH = 4
#: Each way: its task, and whether its worker keeps its connections.
WAYS = {
    BEFORE: ("alerts.sync_customer_source", False),
    "a task per customer, a new connection per task": ("alerts.sync_customer", False),
    "a task per source, connections kept": ("alerts.sync_customer_source", True),
    PER_CUSTOMER: ("alerts.sync_customer", True),
    NOW: ("alerts.sync_customers", True),
}
#: The queue of each worker, named for whether it keeps its connections.
QUEUES = {True: "bench_kept", False: "bench_per_task"}


def passes_counted() -> int:
    from django.db.models import Sum

    from partner_portal.alerts.models import SyncState

    return SyncState.objects.aggregate(n=Sum("idle_passes"))["n"] or 0


def queue_round(cluster: Any, customer_ids: list[int], task: str, queue: str) -> None:
    """Every customer's two passes, the way `task` takes them, through one connection."""
    with cluster.app.connection_for_write(cluster.redis.url(0)) as conn:
        calls: list[tuple[object, ...]]
        if task == "alerts.sync_customers":
            ids = customer_ids
            batches = [ids[i : i + QUIET_BATCH] for i in range(0, len(ids), QUIET_BATCH)]
            calls = [([(cid, list(GRAPH_SOURCES)) for cid in batch],) for batch in batches]
        elif task == "alerts.sync_customer":
            calls = [(customer_id, list(GRAPH_SOURCES)) for customer_id in customer_ids]
        else:
            calls = [(cid, source) for cid in customer_ids for source in GRAPH_SOURCES]
        for args in calls:
            cluster.app.send_task(task, args=args, connection=conn, queue=queue)


def one_round(
    cluster: Any, pids: list[int], customer_ids: list[int], task: str, queue: str
) -> dict[str, float]:
    passes = len(customer_ids) * len(GRAPH_SOURCES)
    before = passes_counted()
    cpu, xacts, active = fm.cpu_seconds(pids), fm.database_commits(), fm.database_active_seconds()
    server = fm.postgres_cpu_seconds()
    began = time.monotonic()
    queue_round(cluster, customer_ids, task, queue)
    while passes_counted() < before + passes:
        if time.monotonic() - began > 1800:
            raise RuntimeError("the passes did not finish\n" + cluster.logs())
        time.sleep(0.2)
    wall = time.monotonic() - began
    cpu = fm.cpu_seconds(pids) - cpu
    server = fm.postgres_cpu_seconds() - server
    # The workers' connections stay open between tasks; an idle backend hands its
    # statistics to pg_stat_database within 10 s (PostgreSQL's PGSTAT_IDLE_INTERVAL).
    time.sleep(STATS_FLUSH_SECONDS)
    return {
        "cpu_ms": cpu / passes * 1000,
        "postgres_ms": server / passes * 1000,
        "xacts": (fm.database_commits() - xacts) / passes,
        "active_ms": (fm.database_active_seconds() - active) / passes * 1000,
        "wall_s": wall,
    }


def bench(customers_n: int, rounds: int, pool: str, concurrency: int) -> dict[str, Any]:
    from partner_portal.alerts.sync.passes import sync_sources
    from partner_portal.sandbox.testing import SandboxProcess
    from tests.alerts.worker_support import Cluster, PrivateRedis

    tmp = Path(tempfile.mkdtemp(prefix="bench-pass-cost-"))
    server = PrivateRedis(tmp).start()
    with SandboxProcess(
        tenants=customers_n, consented=customers_n, alerts_per_tenant=1, arrival_rate=0, seed=43
    ) as sandbox:
        bench_sync.point_at(sandbox)
        customers = bench_sync.make_customers(sandbox, graph=True, collect_incidents=True)
        ids = [c.pk for c in customers]

        def backfill(customer_id: int) -> None:
            from django.db import connection

            try:
                sync_sources(customer_id=customer_id, sources=list(GRAPH_SOURCES))
            finally:
                connection.close()

        with ThreadPoolExecutor(8) as threads:
            list(threads.map(backfill, ids))
        cluster = Cluster(server, sandbox, tmp)
        try:
            per_task = {"PYTHONPATH": f"{ROOT}:{ROOT / 'bench'}",
                        "DJANGO_SETTINGS_MODULE": "per_task_connections"}  # fmt: skip
            workers = {
                kept: cluster.start_worker(
                    concurrency=concurrency,
                    pool=pool,
                    queues=QUEUES[kept],
                    SYNC_EVIDENCE_SEVERITIES="",
                    **({} if kept else per_task),
                )
                for kept in (True, False)
            }
            for kept in workers:  # a first round each starts the pools
                warm = ids[: max(1, len(ids) // 10)]
                one_round(cluster, [], warm, "alerts.sync_customer", QUEUES[kept])
            pids = {kept: fm.group_pids([w.pid]) for kept, w in workers.items()}
            measured: dict[str, list[dict[str, float]]] = {way: [] for way in WAYS}
            for n in range(rounds):
                order = list(WAYS) if n % 2 == 0 else list(reversed(WAYS))
                for way in order:
                    task, kept = WAYS[way]
                    measured[way].append(one_round(cluster, pids[kept], ids, task, QUEUES[kept]))
        finally:
            cluster.stop()
            server.stop()
    medians = {
        way: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        for way, runs in measured.items()
    }
    return {"customers": customers_n, "rounds": rounds, "pool": pool,
            "concurrency": concurrency, "medians": medians, "load": fm.load()}  # fmt: skip


def _ratio(now: float, before: float) -> str:
    """`now` against `before`; "n/a" where nothing was measured before (a smoke run's
    few passes may take no clock tick of the database's CPU)."""
    return f"{now / before:.2f}x" if before else "n/a"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves that it runs")
    parser.add_argument("--customers", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--pool", choices=["prefork", "threads"], default="threads")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--database", default="bench_pass_cost", help="scratch database")
    args = parser.parse_args()
    if args.smoke:
        args.customers, args.rounds, args.concurrency = 4, 2, 2
    bench_sync.DB_NAME = args.database
    bench_sync.prepare_environment(tempfile.mkdtemp(prefix="bench-pass-cost-"))
    tag = "smoke: " if args.smoke else ""
    try:
        r = bench(args.customers, args.rounds, args.pool, args.concurrency)
        before, now = r["medians"][BEFORE], r["medians"][NOW]
        for way, m in r["medians"].items():
            print(
                f"{tag}idle passes of {r['customers']} customers (2 sources each), "
                f"{r['pool']} x {r['concurrency']}, {way}: worker CPU {m['cpu_ms']:.2f} ms, "
                f"PostgreSQL CPU {m['postgres_ms']:.2f} ms, "
                f"{m['xacts']:.1f} database transactions, statement time "
                f"{m['active_ms']:.2f} ms a pass; a round {m['wall_s']:.1f} s "
                f"(medians of {r['rounds']} rounds)"
            )
        print(
            f"{tag}now against before: worker CPU "
            f"{now['cpu_ms'] / before['cpu_ms']:.2f}x, PostgreSQL CPU "
            f"{now['postgres_ms'] / before['postgres_ms']:.2f}x, transactions "
            f"{now['xacts'] / before['xacts']:.2f}x, statement time "
            f"{now['active_ms'] / before['active_ms']:.2f}x, round "
            f"{now['wall_s'] / before['wall_s']:.2f}x; {r['load']}"
        )
        one = r["medians"][PER_CUSTOMER]
        print(
            f"{tag}quiet customers four to a task against a task per customer: worker CPU "
            f"{_ratio(now['cpu_ms'], one['cpu_ms'])}, PostgreSQL CPU "
            f"{_ratio(now['postgres_ms'], one['postgres_ms'])}, round "
            f"{_ratio(now['wall_s'], one['wall_s'])}"
        )
    finally:
        bench_sync.drop_database()


if __name__ == "__main__":
    main()
