"""A fleet of customers on Microsoft Graph, synced by the real workers and beat.

The sandbox holds `--customers` tenants (1,000 by default), every call to its APIs slowed
by `--latency` seconds (its `rate_slow` fault, as bench_hunting.py does), as a real
network would. Beat dispatches, `--workers` worker processes sync both Graph sources of
every customer every `--interval` seconds, into PostgreSQL, through a private Redis.
Once every backfill is in, for `--minutes`, about 1 % of the customers get a new alert
each minute. Measured over that window:

* freshness: seconds from an alert's creation in the sandbox to its row, p50 and p95;
* API calls per customer and hour, against Microsoft Graph's per-tenant limit (the
  sources' declared limits); token requests per tenant and hour (tokens are cached, so
  a window shorter than a token's life sees none; the target is one per token life);
* CPU seconds of the workers and beat, and the seconds this database's backends spent
  running statements (pg_stat_database.active_time), per minute of wall time;
* database growth (pg_total_relation_size of every table) per hour and per customer.

Then two measures without workers:

* idle growth: `--idle-rounds` rounds of idle passes of `--idle-customers` customers
  (`sync_source` in threads, nothing new), with a VACUUM after each round as autovacuum
  would, extrapolated to a day of passes at the default interval (target <= 10 KB per
  customer and day); beside it, what a `SyncRun` row per pass would have cost;
* the dispatcher: one `dispatch_due_syncs` cycle over `--dispatch-customers` customers
  (5,000) with nothing due and with 1 % due, and its scan for new customers.

Needs PostgreSQL (BENCH_PG, as bench_sync.py) and `redis-server` on the PATH. The machine's
load is printed: on a shared machine the CPU figures are under contention.

    .venv/bin/python bench/bench_fleet.py                       # 1,000 customers, 10 min
    .venv/bin/python bench/bench_fleet.py --customers 5000 --workers 4
    .venv/bin/python bench/bench_fleet.py --smoke               # proves that it runs
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bench_sync
from graph_backfill import GRAPH_SOURCES

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of the processes `pids` (those still alive)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / TICKS
    return total


def group_pids(leaders: list[int]) -> list[int]:
    """Every process in the process groups of `leaders` (a worker and its pool)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) in leaders:
                found.append(int(entry.name))
    return found


def database_active_seconds() -> float:
    """Seconds this database's backends spent running statements, so far (PostgreSQL's
    pg_stat_database.active_time: CPU, and the waits for disk and locks within them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT active_time FROM pg_stat_database WHERE datname = current_database()"
        )
        return float(cursor.fetchone()[0] or 0) / 1000


def database_bytes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm')"
        )
        return int(cursor.fetchone()[0])


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f} on {os.cpu_count()} cores"


def graph_hourly_limit() -> int:
    from partner_portal.alerts.reads.health import hourly_limit
    from partner_portal.alerts.sync import sources

    found = sources.find(GRAPH_SOURCES[0])
    assert found is not None
    limit = hourly_limit(found.limits)
    assert limit is not None
    return limit


# --- 1. the fleet, with workers and beat ----------------------------------------------------
def bench_fleet(
    customers_n: int, *, workers: int, concurrency: int, interval: int, minutes: float,
    latency: float, dispatch_seconds: float,
) -> dict[str, Any]:  # fmt: skip
    from partner_portal.alerts.models import Alert, SyncRun, SyncState
    from partner_portal.defender import parse_timestamp
    from partner_portal.sandbox.testing import SandboxProcess
    from tests.alerts.worker_support import Cluster, PrivateRedis

    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    server = PrivateRedis(tmp).start()
    with SandboxProcess(
        tenants=customers_n, consented=customers_n, alerts_per_tenant=5, arrival_rate=0,
        seed=41, timeout=600,
    ) as sandbox:  # fmt: skip
        bench_sync.point_at(sandbox)
        customers = bench_sync.make_customers(
            sandbox, graph=True, collect_incidents=True, sync_interval_seconds=interval
        )
        sandbox.control(
            "PUT", "/_sandbox/faults", json={"rate_slow": 1.0, "slow_seconds": latency}
        ).raise_for_status()
        cluster = Cluster(server, sandbox, tmp)
        try:
            settings = {"SYNC_EVIDENCE_SEVERITIES": "", "SYNC_LOCK_SECONDS": "120"}
            leaders = [
                cluster.start_worker(concurrency=concurrency, **settings).pid
                for _ in range(workers)
            ]
            leaders.append(cluster.start_beat(SYNC_DISPATCH_SECONDS=str(dispatch_seconds)).pid)
            began_backfill = time.monotonic()
            expected = customers_n * len(GRAPH_SOURCES)
            while SyncState.objects.filter(watermark__isnull=False).count() < expected:
                if time.monotonic() - began_backfill > 3600:
                    raise RuntimeError("the backfills did not finish\n" + cluster.logs())
                time.sleep(2)
            backfill_seconds = time.monotonic() - began_backfill
            # A quiet interval, so that the window starts in steady state.
            time.sleep(min(interval, 30))
            sandbox.control("POST", "/_sandbox/stats/reset").raise_for_status()
            pids = group_pids(leaders)
            db_before = database_active_seconds()
            size_before, runs_before = database_bytes(), SyncRun.objects.count()
            cpu_before, wall_before = cpu_seconds(pids), time.monotonic()
            rng = random.Random(7)
            created: list[str] = []
            tenants: set[str] = set()
            window = minutes * 60
            per_minute = max(1, customers_n // 100)
            gap = 60 / per_minute
            next_at = wall_before
            while time.monotonic() - wall_before < window:
                if time.monotonic() >= next_at:
                    c = rng.choice(customers)
                    answer = sandbox.control(
                        "POST", f"/_sandbox/tenants/{c.tenant_id}/alerts", json={"count": 1}
                    ).json()
                    created += answer["ids"]
                    tenants.add(c.tenant_id)
                    next_at += gap
                time.sleep(min(1.0, max(0.05, next_at - time.monotonic())))
            wall = time.monotonic() - wall_before
            worker_cpu = cpu_seconds(pids) - cpu_before
            db_active = database_active_seconds() - db_before
            stats = sandbox.control("GET", "/_sandbox/stats").json()
            size_after, runs_after = database_bytes(), SyncRun.objects.count()
            settle = time.monotonic() + interval + 60
            while Alert.objects.filter(alert_id__in=created).count() < len(created):
                if time.monotonic() > settle:
                    break
                time.sleep(1)
            truth: dict[str, str] = {}
            for tenant in tenants:
                answer = sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant}")
                truth.update({a["id"]: a["alertCreationTime"] for a in answer.json()["value"]})
            stored = dict(
                Alert.objects.filter(alert_id__in=created).values_list("alert_id", "synced_at")
            )
        finally:
            cluster.stop()
            server.stop()
    lags = []
    for alert_id in created:
        born = parse_timestamp(truth.get(alert_id))
        if alert_id in stored and born is not None:
            lags.append((stored[alert_id] - born).total_seconds())
    lags.sort()
    hours = wall / 3600
    calls = sum(stats["apis"].get(api, {}).get("calls_total", 0) for api in GRAPH_SOURCES)
    busiest = max(
        stats["apis"].get(api, {}).get("max_calls_per_minute", 0) for api in GRAPH_SOURCES
    )
    return {
        "customers": customers_n, "workers": workers, "concurrency": concurrency,
        "interval": interval, "latency": latency, "minutes": wall / 60,
        "backfill_seconds": backfill_seconds, "alerts": len(created),
        "missing": len(created) - len(lags),
        "p50": statistics.median(lags) if lags else float("nan"),
        "p95": lags[int(0.95 * (len(lags) - 1))] if lags else float("nan"),
        "calls_per_customer_hour": calls / customers_n / hours,
        "all_tenants_max_per_minute": busiest,
        "limit_per_hour": graph_hourly_limit(),
        "tokens_per_tenant_hour": stats["token_requests"] / customers_n / hours,
        "throttled": stats["throttled_total"],
        "worker_cpu_per_min": worker_cpu / (wall / 60),
        "db_active_per_min": db_active / (wall / 60),
        "growth_per_hour": (size_after - size_before) / hours,
        "runs_per_hour": (runs_after - runs_before) / hours,
        "load": load(),
    }  # fmt: skip


# --- 2. idle growth, without workers --------------------------------------------------------
def bench_idle_growth(customers_n: int, rounds: int, threads: int) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection, connections

    from partner_portal.alerts.models import SyncRun
    from partner_portal.alerts.sync import passes
    from partner_portal.sandbox.testing import SandboxProcess

    def vacuum() -> None:  # what autovacuum does between passes on a real server
        with connection.cursor() as cursor:
            cursor.execute("VACUUM")

    with SandboxProcess(
        tenants=customers_n, consented=customers_n, alerts_per_tenant=5, arrival_rate=0,
        seed=43, timeout=300,
    ) as sandbox:  # fmt: skip
        bench_sync.point_at(sandbox)
        customers = bench_sync.make_customers(sandbox, graph=True, collect_incidents=True)
        pairs = [(c.pk, name) for c in customers for name in GRAPH_SOURCES]

        def one(pair: tuple[int, str]) -> Any:
            try:
                return passes.sync_source(customer_id=pair[0], source=pair[1])
            finally:
                connections.close_all()

        def round_() -> list[Any]:
            with ThreadPoolExecutor(threads) as pool:
                return list(pool.map(one, pairs))

        round_()  # the backfills
        round_()  # a first idle round: the state rows take their final shape
        vacuum()
        size_before, runs_before = database_bytes(), SyncRun.objects.count()
        idle = 0
        for _ in range(rounds):
            runs = round_()
            idle += sum(1 for r in runs if r is not None and r.pk is None)
            vacuum()
        size_after, runs_after = database_bytes(), SyncRun.objects.count()
        # What a row per pass would have cost: as many rows as passes, measured.
        template = SyncRun.objects.filter(backfill=True).first()
        assert template is not None
        with_rows_before = database_bytes()
        SyncRun.objects.bulk_create(
            [
                SyncRun(
                    customer_id=pk,
                    source=name,
                    status="succeeded",
                    since=template.since,
                    finished_at=template.finished_at,
                    api_calls=1,
                    token_source="cache",
                )
                for _ in range(rounds)
                for pk, name in pairs
            ],
            batch_size=2000,
        )
        row_bytes = (database_bytes() - with_rows_before) / (rounds * len(pairs))
    per_day = 86400 / settings.SYNC_DEFAULT_INTERVAL_SECONDS
    per_pass = (size_after - size_before) / (rounds * customers_n)
    return {
        "customers": customers_n, "rounds": rounds, "passes": rounds * len(pairs),
        "idle_passes": idle, "rows_written": runs_after - runs_before,
        "growth": size_after - size_before,
        "per_customer_day": per_pass * per_day,
        "rows_per_customer_day": row_bytes * len(GRAPH_SOURCES) * per_day,
        "passes_per_day": per_day, "load": load(),
    }  # fmt: skip


# --- 3. the dispatcher over many customers ------------------------------------------------
def bench_dispatch(customers_n: int, repeats: int) -> dict[str, Any]:
    import uuid
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from partner_portal.alerts.models import SyncState
    from partner_portal.alerts.sync.dispatch import dispatch_due_syncs, ensure_states
    from tenants.models import GRAPH_ALERT_ROLES, Customer, CustomerStatus

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Customer._meta.db_table} CASCADE")
    Customer.objects.bulk_create(
        [
            Customer(
                display_name=f"Fleet {n}",
                tenant_id=str(uuid.UUID(int=n + 1)),
                status=CustomerStatus.ACTIVE,
                granted_roles=sorted(GRAPH_ALERT_ROLES),
                collect_incidents=True,
            )
            for n in range(customers_n)
        ],
        batch_size=2000,
    )
    dispatch_due_syncs()  # creates every state and claims it (queued to memory)
    states = SyncState.objects.order_by("pk")

    def timed(due: int) -> float:
        later = timezone.now() + timedelta(hours=1)
        states.update(next_due_at=later)
        if due:
            pks = list(states.values_list("pk", flat=True)[:due])
            SyncState.objects.filter(pk__in=pks).update(next_due_at=timezone.now())
        began = time.perf_counter()
        queued = dispatch_due_syncs()
        seconds = time.perf_counter() - began
        assert len(queued) == due, (len(queued), due)
        return seconds

    pairs = states.count()
    idle = statistics.median(timed(0) for _ in range(repeats))
    busy = statistics.median(timed(pairs // 100) for _ in range(repeats))

    def scan() -> float:
        began = time.perf_counter()
        ensure_states(now=timezone.now(), force=True)
        return time.perf_counter() - began

    full = statistics.median(scan() for _ in range(repeats))
    return {
        "customers": customers_n, "pairs": pairs, "idle": idle, "busy": busy, "scan": full,
        "load": load(),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves that it runs")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--workers", type=int, choices=[1, 2, 4], default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="per worker process")
    parser.add_argument("--interval", type=int, default=60, help="seconds between passes")
    parser.add_argument("--minutes", type=float, default=10.0, help="the measured window")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per API call")
    parser.add_argument("--dispatch-seconds", type=float, default=5.0)
    parser.add_argument("--idle-customers", type=int, default=200)
    parser.add_argument("--idle-rounds", type=int, default=20)
    parser.add_argument("--dispatch-customers", type=int, default=5000)
    parser.add_argument("--only", choices=["fleet", "idle", "dispatch"])
    parser.add_argument("--database", default="bench_fleet", help="scratch database")
    args = parser.parse_args()
    if args.smoke:
        args.customers, args.workers, args.concurrency, args.interval = 3, 1, 2, 2
        args.minutes, args.latency, args.dispatch_seconds = 0.25, 0.01, 1.0
        args.idle_customers, args.idle_rounds, args.dispatch_customers = 3, 2, 20
    bench_sync.DB_NAME = args.database
    bench_sync.prepare_environment(tempfile.mkdtemp(prefix="bench-fleet-"))
    tag = "smoke: " if args.smoke else ""
    try:
        if args.only in (None, "fleet"):
            r = bench_fleet(
                args.customers, workers=args.workers, concurrency=args.concurrency,
                interval=args.interval, minutes=args.minutes, latency=args.latency,
                dispatch_seconds=args.dispatch_seconds,
            )  # fmt: skip
            print(
                f"{tag}fleet: {r['customers']} customers, {r['workers']} worker(s) x "
                f"{r['concurrency']}, interval {r['interval']} s, {r['latency']:.2f} s a call, "
                f"{r['minutes']:.1f} min (backfill {r['backfill_seconds']:.0f} s): "
                f"freshness p50 {r['p50']:.1f} s p95 {r['p95']:.1f} s ({r['alerts']} alerts, "
                f"{r['missing']} missing); API calls per customer-hour "
                f"{r['calls_per_customer_hour']:.0f} (limit {r['limit_per_hour']}), throttled "
                f"{r['throttled']}; token requests per tenant-hour "
                f"{r['tokens_per_tenant_hour']:.2f}; CPU s/min workers "
                f"{r['worker_cpu_per_min']:.1f}, database busy {r['db_active_per_min']:.1f}; "
                f"growth "
                f"{r['growth_per_hour'] / 1024:.0f} KB/h ({r['runs_per_hour']:.0f} sync rows/h); "
                f"{r['load']}"
            )
        if args.only in (None, "idle"):
            r = bench_idle_growth(args.idle_customers, args.idle_rounds, threads=8)
            print(
                f"{tag}idle growth: {r['customers']} customers x {r['rounds']} rounds "
                f"({r['passes']} passes, {r['idle_passes']} idle, {r['rows_written']} rows): "
                f"{r['growth'] / 1024:.0f} KB, {r['per_customer_day'] / 1024:.2f} KB per "
                f"customer-day at {r['passes_per_day']:.0f} passes a day (a row per pass: "
                f"{r['rows_per_customer_day'] / 1024:.0f} KB); {r['load']}"
            )
        if args.only in (None, "dispatch"):
            r = bench_dispatch(args.dispatch_customers, repeats=1 if args.smoke else 5)
            print(
                f"{tag}dispatch: {r['customers']} customers, {r['pairs']} sources: a cycle "
                f"{r['idle'] * 1000:.0f} ms with nothing due, {r['busy'] * 1000:.0f} ms with "
                f"1 % due; the scan for new customers (once a minute, or when they change) "
                f"{r['scan'] * 1000:.0f} ms; {r['load']}"
            )
    finally:
        bench_sync.drop_database()


if __name__ == "__main__":
    main()
