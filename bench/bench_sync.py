"""Benchmarks of the alert sync into PostgreSQL, against the sandbox.

1. Backfill throughput end to end (`sync_source` for every customer, one process) as a
   ratio to the sum of two baselines measured in the same run: a bare `requests` loop
   fetching the same pages, and a COPY of the same rows into a table shaped like the
   alerts table (same columns, indexes and unique constraint). Target <= 1.5.
2. A steady-state cycle over many customers with 1 % changing: wall time, API calls
   and token requests per customer.
3. Freshness: seconds from an alert's creation in the sandbox to its row being
   committed, with real Celery workers and beat, p50/p95/max. Target p95 <= 30 s.

Each measure runs twice in one run, side by side: for customers on the Defender for
Endpoint API (the MDE alerts source) and for customers on Microsoft Graph (alerts_v2 and
incidents, both sources; the Graph backfill's baselines are in `graph_backfill.py`).
The steady cycle also reports what a customer with nothing new costs per source and
cycle (API calls), and the token requests of the whole cycle (0: tokens are cached).
`--api mde` or `--api graph` runs one side only.

Needs PostgreSQL (the server at BENCH_PG, default postgres://postgres@127.0.0.1:5432,
where a scratch database, `bench_sync` unless `--database` names another, is created and
dropped) and `redis-server` on the PATH (a private one on a free port).

    .venv/bin/python bench/bench_sync.py            # full run
    .venv/bin/python bench/bench_sync.py --quick    # smaller sizes
    .venv/bin/python bench/bench_sync.py --only backfill --api graph   # one measure, one API
    .venv/bin/python bench/bench_sync.py --smoke    # tiny sizes, pages of 100, one round:
                                                    # proves that it runs, measures nothing
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from backfill_rounds import alternate_rounds, summary
from graph_backfill import GRAPH_SOURCES, bench_graph_backfill

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SERVER = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432").rstrip("/")
DB_NAME = "bench_sync"


def prepare_environment(data_dir: str, *, broker: str = "memory://") -> None:
    import psycopg

    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
    os.environ.update(
        DJANGO_SETTINGS_MODULE="partner_portal.settings",
        DATABASE_URL=f"{SERVER}/{DB_NAME}",
        SECRET_KEY="bench-only-" + "x" * 40,
        PORTAL_DATA_DIR=data_dir,
        CELERY_BROKER_URL=broker,
        CACHE_URL="locmemcache://",
        DEBUG="false",
    )
    for name in ("REDIS_URL", "PARTNER_APP_CLIENT_ID"):
        os.environ.pop(name, None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def drop_database() -> None:
    import psycopg
    from django.db import connections

    connections.close_all()
    with psycopg.connect(f"{SERVER}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


def point_at(sandbox: Any) -> None:
    from django.conf import settings

    from tenants import microsoft

    settings.SANDBOX_CONFIG_FILE = str(Path(sandbox.state_dir) / "sandbox.json")
    microsoft.reset_for_tests()


def make_customers(sandbox: Any, *, graph: bool = False, **fields: Any) -> list[Any]:
    """The sandbox's consented tenants as active customers. On the Defender APIs (the MDE
    alerts source) their Graph roles are left out, which would otherwise move them to
    Microsoft Graph; with `graph`, they keep every role and are on Graph."""
    from django.db import connection

    from tenants.models import GRAPH_ALERT_ROLES, Customer, CustomerStatus

    # Every measure starts without the customers of the one before (whose sandbox is
    # gone), so that no dispatcher or cycle spends time on them.
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Customer._meta.db_table} CASCADE")

    def roles(granted: list[str]) -> list[str]:
        return sorted(set(granted) if graph else set(granted) - set(GRAPH_ALERT_ROLES))

    customers = [
        Customer.objects.create(
            display_name=t["name"][:200],
            tenant_id=t["tenant_id"],
            status=CustomerStatus.ACTIVE,
            granted_roles=roles(t["roles"]),
            **fields,
        )
        for t in sandbox.tenants
        if t["consented"]
    ]
    assert all(c.on_graph == graph for c in customers)
    return customers


def sources_of(graph: bool) -> tuple[str, ...]:
    """The sources a benchmark's customers sync: the MDE alerts source alone, or both of
    Graph's (alerts and incidents), as a customer on Graph collects them."""
    return GRAPH_SOURCES if graph else ("alerts",)


# --- 1. backfill throughput ----------------------------------------------------------------
def as_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def bench_backfill(tenants: int, per_tenant: int, rounds: int) -> dict[str, Any]:
    import requests
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from partner_portal.alerts.models import Alert, SyncRun, SyncState
    from partner_portal.alerts.sync import passes, upsert
    from partner_portal.defender import parse_alert
    from partner_portal.sandbox.testing import SandboxProcess

    settings.SYNC_EVIDENCE_SEVERITIES = []  # the baselines fetch no evidence either
    # The sandbox's alerts span the 30 days before it started, the sync's default horizon:
    # a sync that starts minutes later would leave the oldest out. Both sides read all.
    settings.SYNC_BACKFILL_DAYS = 3650
    with SandboxProcess(
        tenants=tenants, consented=tenants, alerts_per_tenant=per_tenant, arrival_rate=0,
        no_rate_limit=True, seed=31, timeout=120,
    ) as sandbox:  # fmt: skip
        point_at(sandbox)
        customers = make_customers(sandbox, collect_incidents=False)
        config = sandbox.config
        session = requests.Session()
        session.trust_env = False
        session.verify = config["ca_file"]
        tokens = {}
        for c in customers:
            answer = session.post(
                f"{config['login_url']}/{c.tenant_id}/oauth2/v2.0/token",
                data={
                    "client_id": config["client_id"], "client_secret": config["client_secret"],
                    "scope": "https://api.securitycenter.microsoft.com/.default",
                    "grant_type": "client_credentials",
                },
            )  # fmt: skip
            tokens[c.tenant_id] = answer.json()["access_token"]
        since = "2000-01-01T00:00:00Z"
        page = settings.SYNC_PAGE_SIZE

        def bare_fetch() -> list[dict[str, Any]]:
            items: list[dict[str, Any]] = []
            for c in customers:
                skip = 0
                while True:
                    r = session.get(
                        f"{config['api_url']}/api/alerts",
                        params={"$filter": f"lastUpdateTime ge {since}", "$top": page,
                                "$skip": skip},
                        headers={"Authorization": f"Bearer {tokens[c.tenant_id]}"},
                    )  # fmt: skip
                    value = r.json()["value"]
                    items.extend(value)
                    if len(value) < page:
                        break
                    skip += page
            return items

        # The same rows the sync writes, built beforehand (not timed), for the COPY.
        items = bare_fetch()  # also warms the sandbox's serialisation cache for both sides
        now = timezone.now()
        by_tenant = {c.tenant_id: c.pk for c in customers}
        rows = [
            upsert._alert_row(by_tenant[i["aadTenantId"]], parse_alert(i), now, as_json)
            for i in items
        ]
        columns = ", ".join(upsert._alert_columns())
        pks = [c.pk for c in customers]

        def sql(*statements: str) -> None:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)

        def settle() -> None:
            # Neither side may pay for the other's leftovers: vacuum (which also merges
            # the trigram indexes' pending entries) and a checkpoint, untimed.
            sql("VACUUM (ANALYZE) alerts_alert", "VACUUM (ANALYZE) bench_copy", "CHECKPOINT")

        def reset() -> None:
            # Both sides write into an empty table with the same indexes: the COPY into
            # a copy of alerts_alert's definition (LIKE ... INCLUDING ALL takes the
            # trigram and expression indexes too), the sync into alerts_alert itself.
            SyncRun.objects.filter(customer_id__in=pks).delete()
            SyncState.objects.filter(customer_id__in=pks).delete()
            sql(
                "TRUNCATE alerts_alert",
                "DROP TABLE IF EXISTS bench_copy",
                "CREATE TABLE bench_copy (LIKE alerts_alert INCLUDING ALL)",
            )
            settle()

        def copy_rows(batch: list[tuple[Any, ...]]) -> float:
            began = time.perf_counter()
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(f"COPY bench_copy ({columns}) FROM STDIN") as copy,
            ):
                for row in batch:
                    copy.write_row(row)
            return time.perf_counter() - began

        def sync(chosen: list[Any]) -> float:
            began = time.perf_counter()
            runs = [passes.sync_source(customer_id=c.pk, source="alerts") for c in chosen]
            elapsed = time.perf_counter() - began
            assert all(r is not None and r.status == "succeeded" for r in runs)
            return elapsed

        def baseline() -> None:
            began = time.perf_counter()
            fetched = bare_fetch()
            t_http.append(time.perf_counter() - began)
            assert len(fetched) == len(rows)
            t_copy.append(copy_rows(rows))

        def end_to_end() -> None:
            t_sync.append(sync(customers))
            assert Alert.objects.count() == len(rows) == tenants * per_tenant

        # Warm-up of both sides (connections, token cache, code paths), not counted.
        reset()
        sync(customers[:1])
        copy_rows(rows[:1000])
        t_http: list[float] = []
        t_copy: list[float] = []
        t_sync: list[float] = []
        alternate_rounds(
            rounds, reset=reset, baseline=baseline, end_to_end=end_to_end, settle=settle
        )
        stored = Alert.objects.count()
    return summary(stored=stored, rounds=rounds, t_http=t_http, t_copy=t_copy, t_sync=t_sync)


# --- 2. steady-state cycle -------------------------------------------------------------------
def bench_steady(
    customers_n: int, per_tenant: int, threads: int, *, graph: bool = False
) -> dict[str, Any]:
    from django.db import connections

    from partner_portal.alerts.models import SyncRun
    from partner_portal.alerts.sync import passes
    from partner_portal.sandbox.testing import SandboxProcess

    names = sources_of(graph)
    with SandboxProcess(
        tenants=customers_n, consented=customers_n, alerts_per_tenant=per_tenant,
        arrival_rate=0, seed=32, timeout=120,
    ) as sandbox:  # fmt: skip
        point_at(sandbox)
        customers = make_customers(sandbox, graph=graph, collect_incidents=graph)

        def one(pair: tuple[int, str]) -> Any:
            try:
                return passes.sync_source(customer_id=pair[0], source=pair[1])
            finally:
                connections.close_all()

        def cycle() -> tuple[float, list[Any]]:
            began = time.perf_counter()
            with ThreadPoolExecutor(threads) as pool:
                runs = list(pool.map(one, [(c.pk, name) for c in customers for name in names]))
            return time.perf_counter() - began, runs

        t_backfill, _ = cycle()
        changing = random.Random(5).sample(customers, max(1, customers_n // 100))
        for c in changing:
            path = f"/_sandbox/tenants/{c.tenant_id}/alerts"
            sandbox.control("POST", path, json={"count": 3}).raise_for_status()
            sandbox.control("PATCH", path, json={"count": 2}).raise_for_status()
        sandbox.control("POST", "/_sandbox/stats/reset").raise_for_status()
        wall, runs = cycle()
        stats = sandbox.control("GET", "/_sandbox/stats").json()
        ok = [r for r in runs if r is not None and r.status == "succeeded"]
        changed_rows = sum(r.created + r.updated for r in ok)
        calls = sum(r.api_calls for r in ok)
        assert len(ok) == customers_n * len(names)
        assert SyncRun.objects.filter(status="failed").count() == 0
        # What a customer with nothing new costs, per source: its pass's calls.
        quiet = {c.pk for c in customers} - {c.pk for c in changing}
        idle = {
            name: [r.api_calls for r in ok if r.source == name and r.customer_id in quiet]
            for name in names
        }
        apis = stats["apis"]
        sandbox_calls = sum(
            apis[api]["calls_total"]
            for api in (("graph_alerts", "graph_incidents") if graph else ("alerts",))
        )
    return {
        "api": "graph" if graph else "mde",
        "customers": customers_n,
        "changing": len(changing),
        "threads": threads,
        "backfill_seconds": t_backfill,
        "cycle_seconds": wall,
        "api_calls_per_customer": calls / customers_n,
        "idle_calls": {n: (statistics.mean(v), max(v)) for n, v in idle.items()},
        "sandbox_calls": sandbox_calls,
        "token_requests": stats["token_requests"],
        "rows_written": changed_rows,
    }


# --- 3. freshness ---------------------------------------------------------------------------
def create_alerts_steadily(
    sandbox: Any, customers: list[Any], *, seconds: float, every: float, seed: int
) -> list[tuple[str, str]]:
    """New alerts in the sandbox, one every `every` seconds for `seconds`, each at a
    customer picked at random: (tenant ID, alert ID) of each, in order."""
    rng = random.Random(seed)
    created: list[tuple[str, str]] = []
    began = time.monotonic()
    while time.monotonic() - began < seconds:
        c = rng.choice(customers)
        answer = sandbox.control(
            "POST", f"/_sandbox/tenants/{c.tenant_id}/alerts", json={"count": 1}
        ).json()
        created += [(c.tenant_id, i) for i in answer["ids"]]
        time.sleep(every)
    return created


def bench_freshness(
    customers_n: int,
    interval: int,
    duration: float,
    concurrency: int,
    *,
    dispatch_seconds: int = 5,
    wait_for_all: bool = False,
    graph: bool = False,
) -> dict[str, Any]:
    from django.utils import timezone

    from partner_portal.alerts.models import Alert, SyncState
    from partner_portal.defender import parse_timestamp
    from partner_portal.sandbox.testing import SandboxProcess
    from tests.alerts.worker_support import Cluster, PrivateRedis

    tmp = Path(tempfile.mkdtemp(prefix="bench-fresh-"))
    server = PrivateRedis(tmp).start()
    with SandboxProcess(
        tenants=customers_n, consented=customers_n, alerts_per_tenant=20, arrival_rate=0,
        seed=33, timeout=120,
    ) as sandbox:  # fmt: skip
        point_at(sandbox)
        customers = make_customers(
            sandbox, graph=graph, collect_incidents=graph, sync_interval_seconds=interval
        )
        cluster = Cluster(server, sandbox, tmp)
        try:
            cluster.start_worker(concurrency=concurrency, SYNC_EVIDENCE_SEVERITIES="")
            cluster.start_beat(SYNC_DISPATCH_SECONDS=str(dispatch_seconds))
            deadline = time.monotonic() + 300
            expected = customers_n * len(sources_of(graph))
            while SyncState.objects.filter(watermark__isnull=False).count() < expected:
                if time.monotonic() > deadline:
                    raise RuntimeError("backfill did not finish\n" + cluster.logs())
                time.sleep(1)
            created = create_alerts_steadily(
                sandbox, customers, seconds=duration, every=0.5, seed=9
            )
            settle = time.monotonic() + interval + 15
            ids = [i for _, i in created]
            while time.monotonic() < settle:
                # A smoke run stops waiting once every alert has arrived.
                if wait_for_all and Alert.objects.filter(alert_id__in=ids).count() == len(ids):
                    break
                time.sleep(0.5)
            truth: dict[str, dict[str, Any]] = {}
            for tenant in {t for t, _ in created}:
                gt = sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant}").json()
                truth.update({a["id"]: a for a in gt["value"]})
            rows = {a.alert_id: a.synced_at for a in Alert.objects.filter(
                alert_id__in=[i for _, i in created])}  # fmt: skip
            lags = []
            missing = 0
            for _, alert_id in created:
                born = parse_timestamp(truth[alert_id]["alertCreationTime"])
                if alert_id not in rows or born is None:
                    missing += 1
                    continue
                lags.append((rows[alert_id] - born).total_seconds())
            calls_now = timezone.now()
        finally:
            cluster.stop()
            server.stop()
    lags.sort()
    return {
        "api": "graph" if graph else "mde",
        "customers": customers_n,
        "interval": interval,
        "alerts": len(created),
        "missing": missing,
        "p50": statistics.median(lags),
        "p95": lags[int(0.95 * (len(lags) - 1))],
        "max": lags[-1],
        "measured_at": calls_now.isoformat(),
    }


def main() -> None:
    global DB_NAME
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, pages of 100, one round: proves that it runs, measures nothing",
    )
    parser.add_argument("--only", choices=["backfill", "steady", "freshness"])
    parser.add_argument(
        "--api",
        choices=["mde", "graph", "both"],
        default="both",
        help="the customers' API: the Defender for Endpoint API, Microsoft Graph, or each "
        "in turn (default)",
    )
    parser.add_argument("--rounds", type=int, default=None, help="backfill rounds (median; 3)")
    parser.add_argument("--database", default=DB_NAME, help="scratch database (created, dropped)")
    args = parser.parse_args()
    quick, smoke = args.quick, args.smoke
    DB_NAME = args.database
    apis = [False, True] if args.api == "both" else [args.api == "graph"]
    if smoke:
        # Several pages per tenant, so that the paging code runs as it does at full size.
        os.environ["SYNC_PAGE_SIZE"] = "100"
    prepare_environment(tempfile.mkdtemp(prefix="bench-sync-"))
    try:
        if args.only in (None, "backfill"):
            size = (
                {"tenants": 2, "per_tenant": 300, "rounds": args.rounds or 1}
                if smoke
                else {
                    "tenants": 4 if quick else 10,
                    "per_tenant": 5000 if quick else 10000,
                    "rounds": args.rounds or 3,
                }
            )
            for graph in apis:
                report_backfill(graph, size)
        if args.only in (None, "steady"):
            for graph in apis:
                if smoke:
                    r = bench_steady(customers_n=3, per_tenant=20, threads=2, graph=graph)
                else:
                    r = bench_steady(
                        customers_n=100 if quick else 500, per_tenant=20, threads=8, graph=graph
                    )
                report_steady(r)
        if args.only in (None, "freshness"):
            for graph in apis:
                if smoke:
                    r = bench_freshness(
                        customers_n=2, interval=2, duration=2, concurrency=1,
                        dispatch_seconds=1, wait_for_all=True, graph=graph,
                    )  # fmt: skip
                else:
                    r = bench_freshness(
                        customers_n=50 if quick else 200, interval=20,
                        duration=30 if quick else 90, concurrency=4, graph=graph,
                    )  # fmt: skip
                print(
                    f"{prefix(r)}freshness: {r['customers']} customers, interval "
                    f"{r['interval']} s, {r['alerts']} alerts ({r['missing']} missing): "
                    f"p50 {r['p50']:.1f} s, p95 {r['p95']:.1f} s, max {r['max']:.1f} s",
                    flush=True,
                )
    finally:
        drop_database()


def prefix(result: dict[str, Any]) -> str:
    """Graph's lines start with "graph "; the MDE lines read as they always have."""
    return "graph " if result["api"] == "graph" else ""


def report_backfill(graph: bool, size: dict[str, int]) -> None:
    if graph:
        r = bench_graph_backfill(**size, as_json=as_json, customers_of=graph_customers)
        what = f"graph backfill: {r['alerts']} alerts and {r['incidents']} incidents"
    else:
        r = bench_backfill(**size)
        what = f"backfill: {r['alerts']} alerts"
    print(
        f"{what}, median of {r['rounds']} rounds; "
        f"sync {r['t_sync']:.2f} s ({r['per_second']:,.0f}/s); "
        f"bare HTTP {r['t_http']:.2f} s; COPY {r['t_copy']:.2f} s; "
        f"ratio sync/(HTTP+COPY) = {r['ratio']:.2f} "
        f"(rounds: {', '.join(f'{x:.2f}' for x in r['round_ratios'])})",
        flush=True,
    )


def graph_customers(sandbox: Any) -> list[Any]:
    point_at(sandbox)
    return make_customers(sandbox, graph=True, collect_incidents=True)


def report_steady(r: dict[str, Any]) -> None:
    idle = ", ".join(
        f"{name} {mean:.2f} (max {most})" for name, (mean, most) in r["idle_calls"].items()
    )
    print(
        f"{prefix(r)}steady: {r['customers']} customers, {r['changing']} changing, "
        f"{r['threads']} threads: cycle {r['cycle_seconds']:.2f} s "
        f"(backfill {r['backfill_seconds']:.1f} s); "
        f"{r['api_calls_per_customer']:.2f} API calls per customer "
        f"(sandbox count {r['sandbox_calls']}); token requests {r['token_requests']}; "
        f"rows written {r['rows_written']}; an idle customer's API calls per cycle: {idle}",
        flush=True,
    )


if __name__ == "__main__":
    main()
