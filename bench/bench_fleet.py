"""A fleet of customers on Microsoft Graph, synced by the real workers and beat.

The sandbox holds `--customers` tenants (1,000 by default, `--alerts-per-tenant` alerts
each), every customer on Microsoft Graph (both sources: alerts_v2 and incidents). Beat
dispatches and `--workers` worker processes, each running `--concurrency` passes at once
(in child processes, Celery's default, or in threads with `--pool threads`), sync every
customer every `--interval` seconds into PostgreSQL through a private Redis.
The fleet's own backfill runs first, at full speed and on every worker: it only sets the
stage. Then every call to the sandbox's APIs is slowed by `--latency` seconds (its
`rate_slow` fault), as a real network would; the workers restart in the `--layout`
measured (`all`: every worker on every queue, as a worker without `-Q`; `compose`: the
workers on `celery,notify`, one backfill worker of concurrency 2 on `backfill` and the
dispatcher's worker of one child process on `dispatch`, as docker-compose.yml), every cached
token is deleted, and once every source has had a pass, for `--minutes`, about 1 % of
the customers get a new alert each minute. Measured over that window:

* freshness: seconds from an alert's creation in the sandbox to its row, p50 and p95;
* API calls per customer and hour, against Microsoft Graph's per-tenant limit (the
  sources' declared limits), the busiest tenant's most calls in a minute on one API and
  calls in an hour, and the 429s; the token requests of each tenant since no token was
  cached anywhere (a token lives about an hour, so a window of minutes sees each
  tenant's first, and must see no more);
* passes a minute and the dispatcher's cycle times, from the workers' logs;
* CPU seconds of the workers and beat, of the sandbox (on a real deployment, Microsoft's
  servers, not this machine) and of the PostgreSQL server, and the seconds this
  database's backends spent running statements (pg_stat_database.active_time), per
  minute of wall time;
* database growth (pg_total_relation_size of every table) per hour and per customer.
* how fast the machine's cores were, before the fleet started and after it stopped (the
  CPU time of a fixed Python loop): a shared VM's figures move with it from hour to hour.

With `--big-backfill ALERTS`, a new customer joins a minute into the window (a quarter
of it, if shorter), its tenant holding ALERTS alerts; the window lasts until its backfill
is in, and the others' freshness is given during the backfill and outside it, beside how
long the backfill took.

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
    .venv/bin/python bench/bench_fleet.py --only fleet --layout compose --big-backfill 50000
    .venv/bin/python bench/bench_fleet.py --only fleet --workers 4 --pool threads --interval 25
    .venv/bin/python bench/bench_fleet.py --smoke               # proves that it runs
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import bench_sync
import fleet_measures as fm
from bench_dispatch import make_fleet
from graph_backfill import GRAPH_SOURCES


# --- 1. the fleet, with workers and beat ----------------------------------------------------
def bench_fleet(
    customers_n: int, *, workers: int, concurrency: int, interval: int, minutes: float,
    latency: float, dispatch_seconds: float, layout: str = "all", alerts_per_tenant: int = 5,
    big_backfill: int = 0, pool: str = "prefork", dispatcher_pool: str = "prefork",
) -> dict[str, Any]:  # fmt: skip
    from django.utils import timezone

    from partner_portal.alerts.models import Alert, SyncRun, SyncState
    from partner_portal.defender import parse_timestamp
    from partner_portal.sandbox.testing import SandboxProcess
    from tenants.models import GRAPH_ALERT_ROLES, Customer, CustomerStatus
    from tests.alerts.worker_support import Cluster, PrivateRedis

    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    server = PrivateRedis(tmp).start()
    big: Any = None
    with SandboxProcess(
        tenants=customers_n, consented=customers_n, alerts_per_tenant=alerts_per_tenant,
        arrival_rate=0, seed=41, timeout=900,
    ) as sandbox:  # fmt: skip
        bench_sync.point_at(sandbox)
        customers = bench_sync.make_customers(
            sandbox, graph=True, collect_incidents=True, sync_interval_seconds=interval
        )
        cluster = Cluster(server, sandbox, tmp)
        try:
            # Every alert of the sandbox is read, however old (the big tenant's span 30 days).
            settings = {
                "SYNC_EVIDENCE_SEVERITIES": "", "SYNC_LOCK_SECONDS": "120",
                "SYNC_BACKFILL_DAYS": "3650",
            }  # fmt: skip
            # 1. The fleet's own backfill, at full speed, every worker on every queue: it
            # only sets the stage.
            fillers = [
                cluster.start_worker(concurrency=concurrency, pool=pool, **settings)
                for _ in range(workers)
            ]
            beat = cluster.start_beat(SYNC_DISPATCH_SECONDS=str(dispatch_seconds))
            began_backfill = time.monotonic()
            expected = customers_n * len(GRAPH_SOURCES)
            while SyncState.objects.filter(watermark__isnull=False).count() < expected:
                if time.monotonic() - began_backfill > 3600:
                    raise RuntimeError("the backfills did not finish\n" + cluster.logs())
                time.sleep(2)
            backfill_seconds = time.monotonic() - began_backfill
            # 2. The steady state: every call slowed, the workers restarted in the layout
            # measured, and no token cached anywhere, so that each tenant must ask again.
            for process in fillers:
                fm.stop_worker(process)
            sandbox.control(
                "PUT", "/_sandbox/faults", json={"rate_slow": 1.0, "slow_seconds": latency}
            ).raise_for_status()
            if big_backfill:  # its tenant now (making its alerts holds the sandbox a while)
                answer = sandbox.control(
                    "POST", "/_sandbox/tenants", json={"alerts": big_backfill, "consented": True}
                )
                answer.raise_for_status()
                big = answer.json()
            fm.forget_tokens(server.url(1))
            sandbox.control("POST", "/_sandbox/stats/reset").raise_for_status()
            switched, switched_at = time.monotonic(), timezone.now()
            main_queues = "celery,notify" if layout == "compose" else None  # as compose
            running = [
                cluster.start_worker(
                    concurrency=concurrency, pool=pool, queues=main_queues, **settings
                )
                for _ in range(workers)
            ]
            if layout == "compose":  # as compose's backfill-worker and dispatcher
                running.append(cluster.start_worker(concurrency=2, queues="backfill", **settings))
                dispatcher = cluster.start_worker(
                    concurrency=1, pool=dispatcher_pool, queues="dispatch", **settings
                )
                running.append(dispatcher)
            # The window opens once every source has had a pass in this layout.
            settle_until = switched + 2 * interval + 60
            while (
                time.monotonic() < settle_until
                and SyncState.objects.filter(last_checked_at__lt=switched_at).exists()
            ):
                time.sleep(2)
            time.sleep(min(interval, 30) / 2)
            stats_before = sandbox.control("GET", "/_sandbox/stats").json()
            pids = fm.group_pids([p.pid for p in [*running, beat]])
            db_before = fm.database_active_seconds()
            size_before, runs_before = fm.database_bytes(), SyncRun.objects.count()
            sandbox_pids = [sandbox.process.pid] if sandbox.process else []
            sandbox_before, pg_before = fm.cpu_seconds(sandbox_pids), fm.postgres_cpu_seconds()
            cpu_before, wall_before = fm.cpu_seconds(pids), time.monotonic()
            logs_before = fm.log_offsets(tmp)
            rng = random.Random(7)
            created: list[tuple[str, float]] = []
            tenants: set[str] = set()
            window = minutes * 60
            per_minute = max(1, customers_n // 100)
            gap = 60 / per_minute
            next_at = wall_before
            big_at = wall_before + min(60.0, window / 4) if big else float("inf")
            big_began = big_done = float("nan")
            big_customer: Any = None
            while True:
                now = time.monotonic()
                if big_customer is None and now >= big_at:
                    big_customer = Customer.objects.create(
                        display_name=big["name"][:200], tenant_id=big["tenant_id"],
                        status=CustomerStatus.ACTIVE,
                        granted_roles=sorted(set(big["roles"]) | set(GRAPH_ALERT_ROLES)),
                        collect_incidents=True, sync_interval_seconds=interval,
                    )  # fmt: skip
                    big_began = now
                if (
                    big_customer is not None
                    and math.isnan(big_done)
                    and (
                        SyncState.objects.filter(
                            customer=big_customer, watermark__isnull=False
                        ).count()
                        == len(GRAPH_SOURCES)
                    )
                ):
                    big_done = time.monotonic()
                waiting_for_big = big is not None and math.isnan(big_done)
                if now - wall_before >= window and not waiting_for_big:
                    break
                if now - wall_before > window + 1800:
                    break  # the big backfill did not finish in half an hour more
                if now >= next_at:
                    c = rng.choice(customers)
                    answer = sandbox.control(
                        "POST", f"/_sandbox/tenants/{c.tenant_id}/alerts", json={"count": 1}
                    ).json()
                    created += [(alert_id, now) for alert_id in answer["ids"]]
                    tenants.add(c.tenant_id)
                    next_at += gap
                time.sleep(min(1.0, max(0.05, next_at - time.monotonic())))
            wall = time.monotonic() - wall_before
            worker_cpu = fm.cpu_seconds(pids) - cpu_before
            sandbox_cpu = fm.cpu_seconds(sandbox_pids) - sandbox_before
            pg_cpu = fm.postgres_cpu_seconds() - pg_before
            ran = fm.task_seconds(tmp, logs_before)
            passes_ran = fm.sync_passes(tmp, logs_before)
            customer_tasks = [t for task in fm.CUSTOMER_TASKS for t in ran.get(task, [])]
            db_active = fm.database_active_seconds() - db_before
            stats = sandbox.control("GET", "/_sandbox/stats").json()
            size_after, runs_after = fm.database_bytes(), SyncRun.objects.count()
            since_switch = (time.monotonic() - switched) / 3600
            usage = fm.tenant_usage(sandbox, [c.tenant_id for c in customers], since_switch)
            big_usage = fm.tenant_usage(sandbox, [big["tenant_id"]], since_switch) if big else None
            ids = [alert_id for alert_id, _ in created]
            settle = time.monotonic() + interval + 60
            while Alert.objects.filter(alert_id__in=ids).count() < len(ids):
                if time.monotonic() > settle:
                    break
                time.sleep(1)
            truth: dict[str, str] = {}
            for tenant in tenants:
                answer = sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant}")
                truth.update({a["id"]: a["alertCreationTime"] for a in answer.json()["value"]})
            stored = dict(
                Alert.objects.filter(alert_id__in=ids).values_list("alert_id", "synced_at")
            )
            big_stored = Alert.objects.filter(customer=big_customer).count() if big_customer else 0
        finally:
            cluster.stop()
            server.stop()
    lags, during, outside = [], [], []
    for alert_id, at in created:
        lag = fm.lag_seconds(parse_timestamp(truth.get(alert_id)), stored.get(alert_id))
        if lag is None:
            continue
        lags.append(lag)
        (during if big_began <= at <= big_done else outside).append(lag)
    hours = wall / 3600

    def calls(snapshot: dict[str, Any]) -> int:
        return sum(snapshot["apis"].get(api, {}).get("calls_total", 0) for api in GRAPH_SOURCES)

    window_calls = calls(stats) - calls(stats_before)
    if big_usage is not None:  # the big backfill's calls are not the fleet's
        window_calls -= big_usage["calls_total"]
    return {
        "customers": customers_n, "workers": workers, "concurrency": concurrency,
        "pool": pool, "dispatcher_pool": dispatcher_pool, "layout": layout,
        "interval": interval, "latency": latency,
        "minutes": wall / 60,
        "backfill_seconds": backfill_seconds, "alerts_per_tenant": alerts_per_tenant,
        "alerts": len(created), "missing": len(created) - len(lags),
        **fm.freshness(lags),
        "calls_per_customer_hour": window_calls / customers_n / hours,
        "usage": usage, "limit_per_minute": fm.per_minute_limit(GRAPH_SOURCES[0]),
        "limit_per_hour": fm.graph_hourly_limit(),
        "token_minutes": since_switch * 60,
        "throttled": stats["throttled_total"],
        "worker_cpu_per_min": worker_cpu / (wall / 60),
        "sandbox_cpu_per_min": sandbox_cpu / (wall / 60),
        "postgres_cpu_per_min": pg_cpu / (wall / 60),
        "db_active_per_min": db_active / (wall / 60),
        "growth_per_hour": (size_after - size_before) / hours,
        "runs_per_hour": (runs_after - runs_before) / hours,
        "big": big_backfill, "big_stored": big_stored, "big_usage": big_usage,
        "big_seconds": big_done - big_began,
        "during": fm.freshness(during), "outside": fm.freshness(outside),
        "passes_per_min": passes_ran / (wall / 60),
        "tasks_per_min": len(customer_tasks) / (wall / 60),
        "task_p50": statistics.median(customer_tasks or [math.nan]),
        "cycles": sorted(ran.get("alerts.dispatch_due_syncs", [])),
        "load": fm.load(),
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
        size_before, runs_before = fm.database_bytes(), SyncRun.objects.count()
        idle = 0
        for _ in range(rounds):
            runs = round_()
            idle += sum(1 for r in runs if r is not None and r.pk is None)
            vacuum()
        size_after, runs_after = fm.database_bytes(), SyncRun.objects.count()
        # What a row per pass would have cost: as many rows as passes, measured.
        template = SyncRun.objects.filter(backfill=True).first()
        assert template is not None
        with_rows_before = fm.database_bytes()
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
        row_bytes = (fm.database_bytes() - with_rows_before) / (rounds * len(pairs))
    per_day = 86400 / settings.SYNC_DEFAULT_INTERVAL_SECONDS
    per_pass = (size_after - size_before) / (rounds * customers_n)
    return {
        "customers": customers_n, "rounds": rounds, "passes": rounds * len(pairs),
        "idle_passes": idle, "rows_written": runs_after - runs_before,
        "growth": size_after - size_before,
        "per_customer_day": per_pass * per_day,
        "rows_per_customer_day": row_bytes * len(GRAPH_SOURCES) * per_day,
        "passes_per_day": per_day, "load": fm.load(),
    }  # fmt: skip


# --- 3. the dispatcher over many customers ------------------------------------------------
def bench_dispatch(customers_n: int, repeats: int) -> dict[str, Any]:
    from datetime import timedelta

    from django.utils import timezone

    from partner_portal.alerts.models import SyncState
    from partner_portal.alerts.sync.dispatch import dispatch_due_syncs, ensure_states

    make_fleet(customers_n)
    states = SyncState.objects.order_by("pk")

    def timed(due: int) -> float:
        later = timezone.now() + timedelta(hours=1)
        states.update(next_due_at=later, queued_at=None)
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
        "load": fm.load(),
    }  # fmt: skip


def print_fleet(r: dict[str, Any], tag: str) -> None:
    u = r["usage"]
    print(
        f"{tag}fleet: {r['customers']} customers, {r['workers']} worker(s) x "
        f"{r['concurrency']} ({r['pool']}), interval {r['interval']} s, "
        f"{r['latency']:.2f} s a call, "
        f"layout {r['layout']} (dispatcher's pool {r['dispatcher_pool']}), "
        f"{r['minutes']:.1f} min (backfill of {r['alerts_per_tenant']} "
        f"alerts a tenant, at full speed: {r['backfill_seconds']:.0f} s): "
        f"freshness p50 {r['p50']:.1f} s p95 {r['p95']:.1f} s ({r['alerts']} alerts, "
        f"{r['missing']} missing); API calls per customer-hour "
        f"{r['calls_per_customer_hour']:.0f} (limit {r['limit_per_hour']}), busiest tenant "
        f"{u['max_per_minute']} calls in a minute on one API (limit {r['limit_per_minute']}) "
        f"and {u['max_per_hour']:.0f} an hour, throttled {r['throttled']}; token requests per "
        f"tenant-hour: from no cached token, {u['tokens_min']}-{u['tokens_max']} a tenant "
        f"({u['tokens_total']} for {r['customers']} tenants) in {r['token_minutes']:.1f} min; "
        f"CPU s/min workers {r['worker_cpu_per_min']:.1f}, sandbox "
        f"{r['sandbox_cpu_per_min']:.1f}, PostgreSQL {r['postgres_cpu_per_min']:.1f}, "
        f"database busy "
        f"{r['db_active_per_min']:.1f}; growth {r['growth_per_hour'] / 1024:.0f} KB/h "
        f"({r['runs_per_hour']:.0f} sync rows/h); {r['load']}"
    )
    cycles = r["cycles"] or [math.nan]
    print(
        f"{tag}passes (the workers' logs, in the window): {r['passes_per_min']:.0f} a minute "
        f"in {r['tasks_per_min']:.0f} customer tasks (of one customer or a few quiet ones), "
        f"a task p50 {r['task_p50']:.2f} s; "
        f"dispatcher cycles: {len(r['cycles'])}, p50 "
        f"{statistics.median(cycles):.2f} s, p95 {cycles[int(0.95 * (len(cycles) - 1))]:.2f} s, "
        f"longest {cycles[-1]:.2f} s"
    )
    if r["big"]:
        d, o, b = r["during"], r["outside"], r["big_usage"]
        print(
            f"{tag}big backfill: {r['big']} alerts of a new customer ({r['big_stored']} "
            f"stored) in {r['big_seconds']:.0f} s, its busiest minute {b['max_per_minute']} "
            f"calls on one API, throttled {b['throttled']}; the others' freshness during it "
            f"p50 {d['p50']:.1f} s p95 {d['p95']:.1f} s ({d['n']} alerts), outside it p50 "
            f"{o['p50']:.1f} s p95 {o['p95']:.1f} s ({o['n']} alerts); layout {r['layout']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves that it runs")
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--workers", type=int, choices=[1, 2, 4], default=2)
    parser.add_argument("--concurrency", type=int, default=4, help="per worker process")
    parser.add_argument(
        "--pool", choices=["prefork", "threads"], default="prefork",
        help="the workers' pool: prefork (a child process per pass at once) or threads",
    )  # fmt: skip
    parser.add_argument("--interval", type=int, default=60, help="seconds between passes")
    parser.add_argument("--minutes", type=float, default=10.0, help="the measured window")
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per API call")
    parser.add_argument("--dispatch-seconds", type=float, default=5.0)
    parser.add_argument("--idle-customers", type=int, default=200)
    parser.add_argument("--idle-rounds", type=int, default=20)
    parser.add_argument("--dispatch-customers", type=int, default=5000)
    parser.add_argument(
        "--layout", choices=["all", "compose"], default="all",
        help="all: every worker on every queue; compose: the workers on celery,notify, "
        "one backfill worker (concurrency 2) on backfill and one of concurrency 1 on "
        "dispatch, as docker-compose.yml",
    )  # fmt: skip
    parser.add_argument(
        "--dispatcher-pool", choices=["prefork", "solo"], default="prefork",
        help="the pool of the dispatcher's worker in the compose layout",
    )  # fmt: skip
    parser.add_argument("--alerts-per-tenant", type=int, default=5)
    parser.add_argument(
        "--big-backfill", type=int, default=0, metavar="ALERTS",
        help="once the fleet is steady, a new customer whose tenant holds ALERTS alerts",
    )  # fmt: skip
    parser.add_argument("--only", choices=["fleet", "idle", "dispatch"])
    parser.add_argument("--database", default="bench_fleet", help="scratch database")
    args = parser.parse_args()
    if args.smoke:
        args.customers, args.workers, args.concurrency, args.interval = 3, 1, 2, 2
        args.minutes, args.latency, args.dispatch_seconds = 0.25, 0.01, 1.0
        args.idle_customers, args.idle_rounds, args.dispatch_customers = 3, 2, 20
        args.layout, args.big_backfill, args.pool = "compose", 40, "threads"
    bench_sync.DB_NAME = args.database
    bench_sync.prepare_environment(tempfile.mkdtemp(prefix="bench-fleet-"))
    tag = "smoke: " if args.smoke else ""
    try:
        if args.only in (None, "fleet"):
            speed = fm.host_speed()
            r = bench_fleet(
                args.customers, workers=args.workers, concurrency=args.concurrency,
                interval=args.interval, minutes=args.minutes, latency=args.latency,
                dispatch_seconds=args.dispatch_seconds, layout=args.layout,
                alerts_per_tenant=args.alerts_per_tenant, big_backfill=args.big_backfill,
                pool=args.pool, dispatcher_pool=args.dispatcher_pool,
            )  # fmt: skip
            print_fleet(r, tag)
            print(
                f"{tag}host speed: a 20,000,000-step Python loop took {speed:.2f} s of CPU "
                f"before the fleet started and {fm.host_speed():.2f} s after it stopped"
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
