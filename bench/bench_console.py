"""Benchmark of the analysts' console: the alert list on 1,000,000 alerts in PostgreSQL.

It creates a database of its own (default `bench_console`), migrates it, loads synthetic
customers and alerts with set-based SQL, then measures through the real Django views
(test Client, so middleware, sessions, scope and templates all count):

1. list-view server time p95 for 10 typical filter combinations, against the raw SQL of
   the page query the ORM emitted (and of every query the view ran), timed on the same
   connection in the same run;
2. page 1,000 against page 1 through keyset cursors;
3. the streamed CSV export's memory for 100,000 rows against 10,000 rows;
4. the counts request for the same combinations (loaded apart from the list).

It drops its database at the end, also after an error or Ctrl-C, unless asked to keep it.

    .venv/bin/python bench/bench_console.py            # 1,000,000 alerts, 500 customers
    .venv/bin/python bench/bench_console.py --quick    # 100,000 alerts, 100 customers
    .venv/bin/python bench/bench_console.py --smoke    # 3,000 alerts, 40 customers, 1 run:
                                                       # proves that it runs, measures nothing
    .venv/bin/python bench/bench_console.py --reuse    # keep the loaded database between
                                                       # runs (loads it if missing); drop it
                                                       # afterwards with --drop
    .venv/bin/python bench/bench_console.py --reuse --only list
                                                       # measure 1 (and the floor pages) only

PostgreSQL is taken from BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/),
whose user must be allowed to create databases.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def admin_sql(server: str, statement: str) -> None:
    import psycopg

    with psycopg.connect(server + "postgres", autocommit=True) as conn:
        conn.execute(statement)


def database_exists(server: str, name: str) -> bool:
    import psycopg

    with psycopg.connect(server + "postgres", autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
    return found is not None


# --- data -------------------------------------------------------------------------------------
LOAD_SQL = """
INSERT INTO alerts_alert (
    customer_id, alert_id, incident_id, investigation_id, title, description, severity,
    severity_rank, status, classification, determination, investigation_state, category,
    detection_source, threat_family_name, assigned_to, machine_id, computer_dns_name,
    related_user, mitre_techniques, created_at, first_event_at, last_event_at,
    last_updated_at, resolved_at, has_evidence, raw, synced_at,
    service_source, alert_web_url, incident_web_url, system_tags, from_graph)
SELECT
    x.cid,
    'da' || (638000000000000000 + g) || '_' || (g::bigint * 7919 %% 1000000007),
    g / 3,
    g / 3,
    x.title,
    x.title || '. Observed on ' || x.computer || '; review the process tree and the user.',
    x.severity, x.rank, x.status,
    CASE WHEN x.status = 'Resolved' THEN
        (ARRAY['TruePositive','FalsePositive','InformationalExpectedActivity'])[1 + g %% 3]
        ELSE '' END,
    '', 'SuccessfullyRemediated', x.category, x.source, '',
    CASE WHEN g %% 10 = 0 THEN 'analyst' || (g / 10 %% 20) || '@partner.example' ELSE '' END,
    md5(x.computer),
    x.computer,
    'CORP\\user' || (g %% 3000),
    x.mitre,
    x.at, x.at - interval '5 minutes', x.at - interval '1 minute', x.at + interval '10 minutes',
    CASE WHEN x.status = 'Resolved' THEN x.at + interval '2 hours' END,
    g %% 4 = 0,
    jsonb_build_object(
        'id', 'da' || (638000000000000000 + g), 'title', x.title, 'severity', x.severity,
        'status', x.status, 'category', x.category, 'detectionSource', x.source,
        'computerDnsName', x.computer, 'mitreTechniques', x.mitre,
        'comments', '[]'::jsonb, 'evidence', '[]'::jsonb, 'padding', repeat('x', %(padding)s)),
    now(),
    'microsoftDefenderForEndpoint', '', '', '[]'::jsonb, false
FROM generate_series(1, %(alerts)s) AS g
CROSS JOIN (SELECT min(id) AS first FROM tenants_customer) AS base
CROSS JOIN LATERAL (SELECT
    base.first + (hashint4(g) & 2147483647) %% %(customers)s AS cid,
    -- Row 1 is the oldest: ids grow with time, as they do when alerts arrive.
    now() - ((%(alerts)s - g)::float / %(alerts)s) * %(days)s * interval '1 day'
        - ((g * 37) %% 600) * interval '1 second' AS at,
    (ARRAY['Suspicious PowerShell command line', '''Mimikatz'' credential theft tool',
           'Suspicious access to LSASS service', 'Ransomware behavior detected in the file system',
           '''Emotet'' malware was detected', 'Suspicious scheduled task',
           'Anomalous account lookups', 'Suspicious remote activity via WMI',
           'Connection to a custom network indicator', 'Event log was cleared'
          ])[1 + (g * 13) %% 10] AS title,
    (ARRAY['Execution', 'CredentialAccess', 'CredentialAccess', 'Ransomware', 'Malware',
           'Persistence', 'Discovery', 'LateralMovement', 'CommandAndControl',
           'DefenseEvasion'])[1 + (g * 13) %% 10] AS category,
    (ARRAY['WindowsDefenderAtp', 'WindowsDefenderAv', 'WindowsDefenderAtp', 'WindowsDefenderAv',
           'WindowsDefenderAv', 'WindowsDefenderAtp', 'WindowsDefenderAtp', 'WindowsDefenderAtp',
           'CustomerTI', 'WindowsDefenderAtp'])[1 + (g * 13) %% 10] AS source,
    (ARRAY['["T1059.001","T1027"]', '["T1003"]', '["T1003.001"]', '["T1486","T1490"]',
           '["T1204"]', '["T1053.005"]', '["T1087"]', '["T1047"]', '["T1071"]',
           '["T1070.001"]']::jsonb[])[1 + (g * 13) %% 10] AS mitre,
    (ARRAY['High', 'Medium', 'Medium', 'Medium', 'Low', 'Low', 'Low', 'Informational',
           'Informational', 'Low'])[1 + (g * 7) %% 10] AS severity,
    (ARRAY[4, 3, 3, 3, 2, 2, 2, 1, 1, 2])[1 + (g * 7) %% 10] AS rank,
    (ARRAY['New', 'New', 'New', 'InProgress', 'InProgress', 'Resolved', 'Resolved',
           'Resolved', 'Resolved', 'Resolved'])[1 + (g * 3 + g / 1000) %% 10] AS status,
    'ws-' || lpad((g %% 5000)::text, 5, '0') || '.cust'
        || (base.first + (hashint4(g) & 2147483647) %% %(customers)s) || '.example' AS computer
) AS x
"""


def load_parameters(
    *, alerts: int, customers: int, days: int = 90, padding: int = 300
) -> dict[str, int]:
    """The parameters of `LOAD_SQL`: `alerts` rows spread evenly over the last `days`
    days and `customers` customers (those already stored), each `raw` padded with
    `padding` bytes. bench_partitioning.py loads its rows with the same statement."""
    return {"alerts": alerts, "customers": customers, "days": days, "padding": padding}


def load(customers: int, alerts: int) -> dict[str, Any]:
    from django.contrib.auth.models import Group
    from django.db import connection

    from partner_portal.core.access import Role
    from tenants.models import AnalystScope, Customer, CustomerStatus

    started = time.perf_counter()
    # Customers through the model, so that every column gets the model's default (a raw
    # INSERT broke when tenants.0004 added the NOT NULL expected_tenant_id); the alerts,
    # a million rows, stay set-based SQL.
    Customer.objects.bulk_create(
        Customer(
            display_name=f"Customer {i:04d}",
            tenant_id=f"00000000-0000-4000-8000-{i:012d}",
            status=CustomerStatus.ACTIVE,
        )
        for i in range(1, customers + 1)
    )
    with connection.cursor() as cursor:
        cursor.execute(LOAD_SQL, load_parameters(alerts=alerts, customers=customers))
        cursor.execute("VACUUM (ANALYZE) alerts_alert")
        cursor.execute("ANALYZE tenants_customer")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('alerts_alert'))")
        size = cursor.fetchone()[0]
    loaded = time.perf_counter() - started

    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    admin = user_model.objects.create_user("bench-admin", password="x")
    admin.groups.add(Group.objects.get(name=Role.ADMIN.value))
    analyst = user_model.objects.create_user("bench-analyst", password="x")
    analyst.groups.add(Group.objects.get(name=Role.ANALYST.value))
    scope_ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True)[::20][:25])
    AnalystScope.objects.bulk_create(
        [AnalystScope(user=analyst, customer_id=pk) for pk in scope_ids]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return {"seconds": loaded, "size": size, "admin": admin, "analyst": analyst}


def reuse_loaded(alerts: int) -> dict[str, Any] | None:
    """The users and size of a database a previous `--reuse` run loaded, or None."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM alerts_alert")
        stored = cursor.fetchone()[0]
        if stored == 0:
            return None
        if stored != alerts:
            raise SystemExit(f"{stored:,} alerts stored, {alerts:,} expected: run with --drop")
        # Migrations applied since the load (new indexes) need fresh statistics.
        cursor.execute("ANALYZE alerts_alert")
        cursor.execute("SELECT pg_size_pretty(pg_total_relation_size('alerts_alert'))")
        size = cursor.fetchone()[0]
    users = get_user_model().objects.in_bulk(
        ["bench-admin", "bench-analyst"], field_name="username"
    )
    if len(users) != 2:
        return None
    return {"seconds": 0.0, "size": size, "admin": users["bench-admin"],
            "analyst": users["bench-analyst"]}  # fmt: skip


# --- measuring --------------------------------------------------------------------------------
def client_for(user: Any) -> Any:
    from django.test import Client

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(user)
    return client


def install_floor_pages() -> None:
    """Two pages that exist for this benchmark only, to show what any signed-in page costs
    before it does any work: an empty response and the base layout with nothing in it,
    behind the same middleware, session, sign-in and role check as the list. Every other
    URL is the project's own, unchanged; the whole run uses this URL configuration."""
    import types

    from django.conf import settings
    from django.http import HttpRequest, HttpResponse
    from django.shortcuts import render
    from django.urls import clear_url_caches, path

    from partner_portal.core.access import Role, require_roles
    from partner_portal.urls import urlpatterns

    @require_roles(Role.ANALYST)
    def empty(request: HttpRequest) -> HttpResponse:
        return HttpResponse("")

    @require_roles(Role.ANALYST)
    def layout(request: HttpRequest) -> HttpResponse:
        return render(request, "base.html", {})

    module = types.ModuleType("bench_floor_urls")
    module.urlpatterns = [  # type: ignore[attr-defined]
        path("_bench/empty/", empty),
        path("_bench/layout/", layout),
        *urlpatterns,
    ]
    sys.modules[module.__name__] = module
    settings.ROOT_URLCONF = module.__name__
    clear_url_caches()


def time_calls(call: Callable[[], Any], runs: int) -> list[float]:
    call()  # warm the caches and the plan
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def time_interleaved(
    calls: list[Callable[[], Any]], runs: int, cpu: list[list[float]] | None = None
) -> list[list[float]]:
    """Time several calls taking turns, so that a busy moment on the machine falls on all
    of them alike rather than on whichever happened to run then.

    With `cpu`, also the CPU time this process spent in each call (ms), appended there:
    the Python side of a view, without the database server's work or waiting for it, and
    less disturbed by other processes on a shared machine than the wall time."""
    for call in calls:
        call()  # warm the caches and the plans
    samples: list[list[float]] = [[] for _ in calls]
    if cpu is not None:
        cpu[:] = [[] for _ in calls]
    for _ in range(runs):
        for index, call in enumerate(calls):
            started, started_cpu = time.perf_counter(), time.process_time()
            call()
            samples[index].append((time.perf_counter() - started) * 1000)
            if cpu is not None:
                cpu[index].append((time.process_time() - started_cpu) * 1000)
    return samples


def capture(client: Any, url: str) -> list[dict[str, Any]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.content[:500])
    return list(queries.captured_queries)


def raw_timer(sql: str) -> Callable[[], Any]:
    """Time the exact statement the ORM sent (parameters already inlined by the driver)."""
    from django.db import connection

    def run() -> Any:
        with connection.cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    return run


def page_query(queries: list[dict[str, Any]]) -> str:
    for query in queries:
        sql = query["sql"]
        if sql.startswith('SELECT "alerts_alert"."id"') and "LIMIT" in sql:
            return sql
    raise RuntimeError("no page query captured")


def combos(customer_ids: list[int], analyst_scope: list[int]) -> list[tuple[str, str, dict]]:
    one = customer_ids[len(customer_ids) // 2]
    five = customer_ids[10:15]
    return [
        ("1 default view (newest first, every customer)", "admin", {}),
        ("2 analyst scoped to 25 customers, default view", "analyst", {}),
        ("3 open high severity (High; New + InProgress)", "admin",
         {"severity": ["High"], "status": ["New", "InProgress"]}),
        ("4 new in the last 24 h", "admin", {"status": ["New"], "period": "24h"}),
        ("5 one customer", "admin", {"customer": [one]}),
        ("6 five customers, High + Medium, 7 days", "admin",
         {"customer": five, "severity": ["High", "Medium"], "period": "7d"}),
        ("7 text search for one computer", "admin", {"q": "ws-01234.cust"}),
        ("8 category CredentialAccess, 30 days", "admin",
         {"category": "CredentialAccess", "period": "30d"}),
        ("9 sorted by severity, status New", "admin", {"status": ["New"], "sort": "severity"}),
        ("10 analyst: assigned to one person, open", "analyst",
         {"assigned_to": "analyst3@partner.example", "status": ["New", "InProgress"]}),
    ]  # fmt: skip


def run(args: argparse.Namespace) -> list[str]:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    out: list[str] = []

    def say(line: str = "") -> None:
        print(line, flush=True)
        out.append(line)

    call_command("migrate", verbosity=0)
    info = reuse_loaded(args.alerts) if args.reuse else None
    if info is None:
        info = load(args.customers, args.alerts)
        say(f"Loaded {args.alerts:,} alerts for {args.customers} customers in "
            f"{info['seconds']:.1f} s (table with indexes: {info['size']}).")  # fmt: skip
    else:
        say(f"Reused the loaded database: {args.alerts:,} alerts "
            f"(table with indexes: {info['size']}).")  # fmt: skip

    from tenants.models import AnalystScope, Customer

    customer_ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    scope = list(AnalystScope.objects.values_list("customer_id", flat=True))
    clients = {"admin": client_for(info["admin"]), "analyst": client_for(info["analyst"])}
    install_floor_pages()

    # 1. list view vs raw SQL ------------------------------------------------------------------
    say()
    say(f"List view, {args.runs} runs each after one warm-up; times in ms (p95 / median).")
    say()
    say("| Filter | view p95 | view median | view CPU median | page SQL p95 | view / page SQL "
        "| all SQL p95 | view / all SQL | counts p95 |")  # fmt: skip
    say("|---|---|---|---|---|---|---|---|---|")
    worst_view = 0.0
    for label, who, params in combos(customer_ids, scope):
        client = clients[who]
        url = "/alerts/?" + urlencode(params, doseq=True)
        queries = capture(client, url)
        statements = [q["sql"] for q in queries]

        def all_sql(statements: list[str] = statements) -> None:
            for statement in statements:
                raw_timer(statement)()

        cpu: list[list[float]] = []
        view, page_sql, every = time_interleaved(
            [lambda c=client, u=url: c.get(u), raw_timer(page_query(queries)), all_sql],
            args.runs,
            cpu,
        )
        counts_url = "/alerts/counts/?" + urlencode(params, doseq=True)
        counts = time_calls(lambda c=client, u=counts_url: c.get(u), args.counts_runs)
        p95 = percentile(view, 0.95)
        worst_view = max(worst_view, p95)
        say(f"| {label} | {p95:.1f} | {statistics.median(view):.1f} | "
            f"{statistics.median(cpu[0]):.1f} | {percentile(page_sql, 0.95):.1f} | "
            f"{p95 / percentile(page_sql, 0.95):.1f}x | "
            f"{percentile(every, 0.95):.1f} | {p95 / percentile(every, 0.95):.1f}x | "
            f"{percentile(counts, 0.95):.1f} |")  # fmt: skip
    say()
    say(f"Slowest list-view p95: {worst_view:.1f} ms (target <= 150 ms).")
    say()
    say("What a signed-in page costs before it does any work (same middleware, session, "
        "user, roles), timed in turns with the default list view, p95 / median in ms:")  # fmt: skip
    say()
    say("| Page | admin | scoped analyst |")
    say("|---|---|---|")
    pages = [("default list view", "/alerts/"), ("empty response", "/_bench/empty/"),
             ("base layout", "/_bench/layout/")]  # fmt: skip
    cells: dict[str, list[str]] = {label: [] for label, _ in pages}
    for who in ("admin", "analyst"):
        timed = time_interleaved(
            [lambda c=clients[who], u=url: c.get(u) for _, url in pages], args.runs
        )
        for (label, _), samples in zip(pages, timed, strict=True):
            p95, median = percentile(samples, 0.95), statistics.median(samples)
            cells[label].append(f"{p95:.1f} / {median:.1f}")
    for label, row in cells.items():
        say(f"| {label} | {row[0]} | {row[1]} |")
    say()
    if args.only == "list":
        return out

    # 2. page 1,000 vs page 1 ------------------------------------------------------------------
    from partner_portal.alerts.reads import alert_list, keyset

    page_1000 = args.deep_pages * alert_list.PAGE_SIZE - 1  # the row that ends page 999
    deep_page = f"page {args.deep_pages + 1:,}"
    say()
    say(f"Deep pages against page 1 (keyset cursor of the {page_1000 + 1:,}th row unless said), "
        "p95 in ms:")  # fmt: skip
    say()
    say("| Sort / filter | page 1 | deep page | ratio |")
    say("|---|---|---|---|")
    # (label, filter, the anchor row's position, or a fraction of the matching rows,
    # and which way the page goes from it)
    deep_cases: list[tuple[str, dict[str, Any], int | float, str]] = [
        ("newest, no filter", {}, page_1000, "after"),
        ("severity sort, no filter", {"sort": "severity"}, page_1000, "after"),
        ("oldest, status Resolved", {"sort": "oldest", "status": ["Resolved"]}, page_1000, "after"),
        ("customer, then newest, no filter", {"sort": "customer"}, page_1000, "after"),
        ("customer order, 96 % of the way, next page", {"sort": "customer"}, 0.96, "after"),
        ("customer order, 96 % of the way, previous page", {"sort": "customer"}, 0.96, "before"),
        (f"customer order, {deep_page}, previous page", {"sort": "customer"}, page_1000, "before"),
    ]
    for label, params, position, direction in deep_cases:
        query = alert_list.AlertQuery(
            statuses=tuple(params.get("status", ())), sort=params.get("sort", "newest")
        )
        spec = keyset.SORTS[query.sort]
        ordered = alert_list.filtered_alerts(user=info["admin"], query=query).order_by(
            *keyset._ordering(spec, True)
        )
        if isinstance(position, float):
            position = int(position * ordered.count())
        # Setup only: find the anchor row (the benchmark may use OFFSET).
        anchor = ordered[position]
        cursor = keyset.encode_cursor(anchor, query.sort)
        first_url = "/alerts/?" + urlencode(params, doseq=True)
        deep_url = "/alerts/?" + urlencode({**params, direction: cursor}, doseq=True)
        client = clients["admin"]
        first_samples, deep_samples = time_interleaved(
            [lambda c=client, u=first_url: c.get(u), lambda c=client, u=deep_url: c.get(u)],
            args.runs,
        )
        first, deep = percentile(first_samples, 0.95), percentile(deep_samples, 0.95)
        say(f"| {label} | {first:.1f} | {deep:.1f} | {deep / first:.2f} |")
        if label.startswith("newest"):
            plan_sql = page_query(capture(client, deep_url))
            with connection.cursor() as cur:
                cur.execute("EXPLAIN (ANALYZE, BUFFERS) " + plan_sql)
                plan = [row[0] for row in cur.fetchall()]
    say()
    say(f"Plan of the {deep_page} query (newest first):")
    say()
    say("```")
    for line in plan:
        say(line)
    say("```")

    # 3. export memory -------------------------------------------------------------------------
    say()
    say("Streamed CSV export through the view, consumed chunk by chunk:")
    say()
    say("| Rows | seconds | rows/s | tracemalloc peak | peak RSS growth | CSV size |")
    say("|---|---|---|---|---|---|")
    peaks = {}
    per_customer = max(1, args.alerts // args.customers)
    small_export, large_export = args.export_rows
    for rows_wanted in args.export_rows:
        needed = min(len(customer_ids), max(1, round(rows_wanted / per_customer)))
        url = "/alerts/export.csv?" + urlencode(
            {"customer": customer_ids[:needed], "status": "all"}, doseq=True
        )
        client = clients["admin"]
        # Speed without tracing first (tracemalloc slows every allocation), then memory.
        started = time.perf_counter()
        for _ in client.get(url).streaming_content:
            pass
        untraced = time.perf_counter() - started
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        tracemalloc.start()
        started = time.perf_counter()
        response = client.get(url)
        size = lines = 0
        for chunk in response.streaming_content:
            size += len(chunk)
            lines += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rss_growth = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before
        peaks[rows_wanted] = peak
        say(f"| {lines - 1:,} | {untraced:.1f} | {(lines - 1) / untraced:,.0f} | "
            f"{peak / 1024 / 1024:.1f} MiB | {rss_growth / 1024:.1f} MiB | "
            f"{size / 1024 / 1024:.1f} MiB |")  # fmt: skip
    say()
    say(f"Peak memory ratio {large_export:,} / {small_export:,} rows: "
        f"{peaks[large_export] / peaks[small_export]:.2f} "
        "(flat means close to 1; linear growth would be about 10).")  # fmt: skip
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="100,000 alerts, 100 customers")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="3,000 alerts, 40 customers, 1 run: every measure once, no meaningful figures",
    )
    parser.add_argument("--runs", type=int, default=None, help="timed runs per measure (40)")
    parser.add_argument("--database", default="bench_console")
    parser.add_argument("--keep", action="store_true", help="leave the database behind")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure on the database a previous --reuse run loaded (load it if missing) "
        "and leave it behind for the next run",
    )
    parser.add_argument("--drop", action="store_true", help="only drop the database")
    parser.add_argument(
        "--only",
        choices=("all", "list"),
        default="all",
        help="list: measure the list view and the floor pages only (no deep pages, exports)",
    )
    args = parser.parse_args()
    args.alerts, args.customers = (100_000, 100) if args.quick else (1_000_000, 500)
    # Page 1,000 and exports of 10,000 and 100,000 rows; a smoke load holds fewer rows.
    args.deep_pages, args.export_rows = 999, (10_000, 100_000)
    if args.smoke:
        args.alerts, args.customers = 3_000, 40
        args.deep_pages, args.export_rows = 20, (300, 1_500)
    args.runs = args.runs or (1 if args.smoke else 40)
    args.counts_runs = args.runs if args.smoke else max(5, args.runs // 4)
    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/")
    if not server.endswith("/"):
        server += "/"

    if args.drop:
        admin_sql(server, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
        return 0
    if not (args.reuse and database_exists(server, args.database)):
        admin_sql(server, f'DROP DATABASE IF EXISTS "{args.database}"')
        admin_sql(server, f'CREATE DATABASE "{args.database}"')
    os.environ["DATABASE_URL"] = server + args.database
    os.environ["DJANGO_SETTINGS_MODULE"] = "partner_portal.settings_test"
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    try:
        run(args)
    finally:
        from django.db import connections

        connections.close_all()
        if not (args.keep or args.reuse):
            admin_sql(server, f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
