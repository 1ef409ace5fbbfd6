"""Benchmark: does partitioning the alert table by month pay at 5 million alerts?

It builds two PostgreSQL databases holding the same rows:

* `<database>`: the portal's schema exactly as its migrations make it;
* `<database>_part`: a copy of it in which `alerts_alert` is replaced by a table of the
  same columns, RANGE-partitioned by month on `created_at` (declarative partitioning).
  PostgreSQL then requires every unique constraint to include `created_at`: the primary
  key becomes (id, created_at), the sync's key (customer_id, alert_id) becomes
  (customer_id, alert_id, created_at), and no foreign key can point at the alert's id
  alone, so the ones that did (the correlation index's sightings) are dropped.

The alerts are loaded once, with `bench_console.LOAD_SQL` (set-based INSERT ... SELECT,
~400 customers, spread evenly over 460 days: 15 months, so that a whole calendar month is
past the 400-day retention; the console's severity and status mix; a small `raw` of ~350
bytes), into the first database, whose indexes are then rebuilt, and copied into the
second with a binary COPY, so both hold the same rows. Then it times, taking turns
between the two databases, the statements the console sends (built by its own selectors
and printed by the ORM): the list's first page newest first for every customer and for
an analyst's 10 customers, a severity filter, a 24 h window, the counts, one customer's
alerts, the detail by pk, and an upsert page of 500 alerts of one customer (rolled back
each time). Last it applies the retention of 400 days once to each: batched deletes
(`core.pruning.delete_in_batches`) on the plain table, DROP of the partitions wholly
older than the cut plus batched deletes of the rest on the partitioned one.

    .venv/bin/python bench/bench_partitioning.py                  # 5,000,000 alerts
    .venv/bin/python bench/bench_partitioning.py --alerts 1000000 # a smaller load
    .venv/bin/python bench/bench_partitioning.py --smoke          # 4,000 alerts, 1 run

PostgreSQL is taken from BENCH_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/),
whose user must be allowed to create databases. Both databases are dropped at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_console import (  # noqa: E402
    LOAD_SQL,
    admin_sql,
    load_parameters,
    percentile,
    time_interleaved,
)

PART = "partitioned"
DAYS = 460  # 15 months: a whole calendar month (and a bit either side) is past 400 days
RETAIN_DAYS = 400
RAW_PADDING = 20  # bytes of padding in `raw`; the rest of it is ~330 bytes of fields


# --- building the two databases --------------------------------------------------------------
def setup_people(customers: int) -> None:
    """Customers, an admin and an analyst of 10 customers, in the plain database."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    from partner_portal.core.access import Role
    from tenants.models import AnalystScope, Customer, CustomerStatus

    Customer.objects.bulk_create(
        Customer(display_name=f"Customer {i:04d}", tenant_id=f"00000000-0000-4000-8000-"
                 f"{i:012d}", status=CustomerStatus.ACTIVE)
        for i in range(1, customers + 1)
    )  # fmt: skip
    users = get_user_model().objects
    admin = users.create_user("bench-admin", password="x")
    admin.groups.add(Group.objects.get(name=Role.ADMIN.value))
    analyst = users.create_user("bench-analyst", password="x")
    analyst.groups.add(Group.objects.get(name=Role.ANALYST.value))
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    step = max(1, len(ids) // 10)
    AnalystScope.objects.bulk_create(
        AnalystScope(user=analyst, customer_id=pk) for pk in ids[::step][:10]
    )


def partition(cursor: Any, first_month: str, months: int) -> list[str]:
    """Replace the (empty) alerts_alert by a table partitioned by month on created_at."""
    cursor.execute(
        "SELECT indexdef FROM pg_indexes WHERE tablename = 'alerts_alert' AND indexname NOT IN "
        "(SELECT conname FROM pg_constraint WHERE conrelid = 'alerts_alert'::regclass "
        "AND contype IN ('p', 'u'))"
    )
    plain_indexes = [row[0] for row in cursor.fetchall() if " UNIQUE " not in row[0]]
    cursor.execute(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint "
        "WHERE conrelid = 'alerts_alert'::regclass AND contype = 'c'"
    )
    checks = [row[0] for row in cursor.fetchall()]
    cursor.execute("ALTER TABLE alerts_alert RENAME TO alerts_alert_plain")
    cursor.execute(
        "CREATE TABLE alerts_alert (LIKE alerts_alert_plain INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (created_at)"
    )
    # The identity column becomes a plain bigint fed by a sequence of its own.
    cursor.execute("CREATE SEQUENCE alerts_alert_part_id_seq OWNED BY alerts_alert.id")
    cursor.execute(
        "ALTER TABLE alerts_alert ALTER id SET DEFAULT nextval('alerts_alert_part_id_seq')"
    )
    for check in checks:
        cursor.execute(f"ALTER TABLE alerts_alert ADD CHECK {check.removeprefix('CHECK ')}")
    cursor.execute("DROP TABLE alerts_alert_plain CASCADE")  # and the foreign keys to it
    for index in range(months):
        cursor.execute(
            f"CREATE TABLE alerts_alert_m{index:02d} PARTITION OF alerts_alert FOR VALUES "
            f"FROM (date '{first_month}' + interval '{index} month') "
            f"TO (date '{first_month}' + interval '{index + 1} month')"
        )
    cursor.execute("CREATE TABLE alerts_alert_default PARTITION OF alerts_alert DEFAULT")
    return plain_indexes


def index_partitioned(cursor: Any, plain_indexes: list[str]) -> None:
    cursor.execute("ALTER TABLE alerts_alert ADD PRIMARY KEY (id, created_at)")
    cursor.execute(
        "ALTER TABLE alerts_alert ADD CONSTRAINT alert_unique_per_customer_created "
        "UNIQUE (customer_id, alert_id, created_at)"
    )
    for definition in plain_indexes:
        cursor.execute(definition.replace(" ON public.alerts_alert ", " ON alerts_alert "))
    cursor.execute("SELECT setval('alerts_alert_part_id_seq', (SELECT max(id) FROM alerts_alert))")


def build(args: argparse.Namespace, server: str, names: dict[str, str]) -> dict[str, float]:
    import psycopg
    from django.db import connection, connections

    seconds: dict[str, float] = {}
    setup_people(args.customers)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT to_char(date_trunc('month', now() - interval '{DAYS + 1} days'), "  # noqa: S608
            "'YYYY-MM-DD'), (SELECT count(*) FROM pg_constraint WHERE confrelid = "
            "'alerts_alert'::regclass)"
        )
        first_month, foreign_keys = cursor.fetchone()
    connections.close_all()
    admin_sql(server, f'CREATE DATABASE "{names[PART]}" TEMPLATE "{names["default"]}"')
    with psycopg.connect(server + names[PART], autocommit=True) as part:
        plain_indexes = partition(part.cursor(), first_month, months=DAYS // 28 + 3)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            LOAD_SQL,
            load_parameters(
                alerts=args.alerts, customers=args.customers, days=DAYS, padding=RAW_PADDING
            ),
        )
    seconds["load plain (INSERT ... SELECT, indexes in place)"] = time.perf_counter() - started
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # Indexes filled row by row come out larger than the partitioned table's, built
        # after its COPY: rebuilt, both start equally compact, so neither wins on that.
        cursor.execute("REINDEX TABLE alerts_alert")
        cursor.execute("VACUUM (ANALYZE) alerts_alert")
    seconds["reindex + analyze of plain"] = time.perf_counter() - started
    started = time.perf_counter()
    with (
        psycopg.connect(server + names["default"]) as source,
        psycopg.connect(server + names[PART], autocommit=True) as target,
    ):
        with (
            source.cursor().copy("COPY alerts_alert TO STDOUT (FORMAT BINARY)") as out,
            target.cursor().copy("COPY alerts_alert FROM STDIN (FORMAT BINARY)") as into,
        ):
            for chunk in out:
                into.write(chunk)
        copied = time.perf_counter() - started
        index_partitioned(target.cursor(), plain_indexes)
        target.execute("VACUUM (ANALYZE) alerts_alert")
    seconds["copy into partitioned (binary COPY, then indexes)"] = copied
    seconds["indexes + analyze of partitioned"] = time.perf_counter() - started - copied
    seconds["foreign keys to the alert dropped"] = foreign_keys
    return seconds


# --- the statements --------------------------------------------------------------------------
def console_statements(runs_on: str) -> list[tuple[str, str]]:
    """(label, SQL) of the console's reads, as its selectors build them."""
    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.utils import timezone

    from partner_portal.alerts.models import Alert
    from partner_portal.alerts.reads import alert_list, keyset
    from partner_portal.alerts.reads.alert_list import AlertQuery
    from tenants.models import AnalystScope

    users = get_user_model().objects
    admin, analyst = users.get(username="bench-admin"), users.get(username="bench-analyst")
    one = AnalystScope.objects.filter(user=analyst).order_by("customer_id").first()
    assert one is not None
    day_ago = timezone.now() - timedelta(hours=24)
    newest = keyset._ordering(keyset.SORTS["newest"], True)

    def page(user: Any, query: AlertQuery) -> Any:
        rows = alert_list.filtered_alerts(user=user, query=query).order_by(*newest)
        return rows.values_list(*alert_list.LIST_COLUMNS)[: alert_list.PAGE_SIZE + 1]

    def counts(user: Any, query: AlertQuery) -> Any:
        rows = alert_list.filtered_alerts(user=user, query=query)
        return rows.values_list("severity", "status").annotate(n=Count("*")).order_by()

    from django.db.models import Count

    middle = Alert.objects.order_by("pk").values_list("pk", flat=True)[Alert.objects.count() // 2]
    querysets = [
        ("first page, newest first, every customer", page(admin, AlertQuery())),
        ("first page, analyst of 10 customers", page(analyst, AlertQuery())),
        ("severity High, every customer", page(admin, AlertQuery(severities=("High",)))),
        ("last 24 h, every customer", page(admin, AlertQuery(since=day_ago))),
        ("counts, every customer", counts(admin, AlertQuery())),
        ("counts, analyst of 10 customers", counts(analyst, AlertQuery())),
        ("one customer's alerts", page(admin, AlertQuery(customers=(one.customer_id,)))),
        ("detail by pk", Alert.objects.select_related("customer").filter(pk=middle)),
    ]
    statements = []
    for label, queryset in querysets:
        sql, params = queryset.query.sql_with_params()
        statements.append((label, connection.ops.compose_sql(sql, params)))
    return statements


def upsert_sql(partitioned: bool, customer_id: int) -> str:
    """500 alerts of one customer, 400 known (newer last_updated_at) and 100 new, merged on
    the sync's key. The partitioned table's key has to carry created_at too, and it cannot
    return the system column xmax that tells the sync an insert from an update."""
    key = "customer_id, alert_id" + (", created_at" if partitioned else "")
    returning = "a.alert_id" if partitioned else "a.alert_id, (a.xmax = 0)"
    return f"""
    INSERT INTO alerts_alert AS a (customer_id, alert_id, incident_id, investigation_id,
        title, description, severity, severity_rank, status, classification, determination,
        investigation_state, category, detection_source, threat_family_name, assigned_to,
        machine_id, computer_dns_name, related_user, mitre_techniques, created_at,
        first_event_at, last_event_at, last_updated_at, resolved_at, has_evidence, raw,
        synced_at, service_source, alert_web_url, incident_web_url, system_tags, from_graph)
    SELECT customer_id, alert_id || CASE WHEN n > 400 THEN '-new' ELSE '' END, incident_id,
        investigation_id, title, description, severity, severity_rank, 'InProgress',
        classification, determination, investigation_state, category, detection_source,
        threat_family_name, assigned_to, machine_id, computer_dns_name, related_user,
        mitre_techniques, created_at, first_event_at, last_event_at,
        last_updated_at + interval '1 hour', resolved_at, has_evidence, raw, now(),
        service_source, alert_web_url, incident_web_url, system_tags, from_graph
    FROM (SELECT *, row_number() OVER () AS n FROM (SELECT * FROM alerts_alert
          WHERE customer_id = {customer_id} ORDER BY created_at DESC LIMIT 500) AS s) AS page
    ON CONFLICT ({key}) DO UPDATE SET status = EXCLUDED.status,
        last_updated_at = EXCLUDED.last_updated_at, raw = EXCLUDED.raw,
        synced_at = EXCLUDED.synced_at
    WHERE EXCLUDED.last_updated_at > a.last_updated_at
    RETURNING {returning}
    """  # noqa: S608


def rolled_back(alias: str, sql: str) -> Callable[[], Any]:
    from django.db import connections, transaction

    def run() -> Any:
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.execute(sql)
            rows = cursor.fetchall()
            transaction.set_rollback(True, using=alias)
        return rows

    return run


def plain(alias: str, sql: str) -> Callable[[], Any]:
    from django.db import connections

    def run() -> Any:
        with connections[alias].cursor() as cursor:
            cursor.execute(sql)
            return cursor.fetchall()

    return run


def buffers(alias: str, sql: str) -> str:
    """Shared buffers the statement touched and its planning time, from EXPLAIN."""
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
        lines = [row[0] for row in cursor.fetchall()]
    touched = next((x.strip() for x in lines if "Buffers:" in x), "Buffers: none")
    planning = next((x.strip() for x in lines if x.startswith("Planning Time")), "")
    hits = sum(
        int(part.split("=")[1])
        for part in touched.removeprefix("Buffers: shared ").split(",")[0].split()
        if "=" in part
    )
    return f"{hits:,} buf, plan {planning.split(': ')[1] if planning else '?'}"


def size(alias: str) -> str:
    from django.db import connections

    with connections[alias].cursor() as cursor:
        cursor.execute(
            "SELECT pg_size_pretty(coalesce((SELECT sum(pg_total_relation_size(relid)) "
            "FROM pg_partition_tree('alerts_alert') WHERE isleaf AND relid <> "
            "'alerts_alert'::regclass), pg_total_relation_size('alerts_alert')))"
        )
        return cursor.fetchone()[0]


def retention(alias: str, partitioned: bool, batch: int) -> tuple[int, int, float, int, float]:
    """(partitions dropped, their rows, seconds, rows deleted in batches, seconds) of one
    retention pass of 400 days."""
    from django.db import connections
    from django.utils import timezone

    from partner_portal.alerts.models import Alert
    from partner_portal.core.pruning import delete_in_batches

    cut = timezone.now() - timedelta(days=RETAIN_DAYS)
    dropped = rows = 0
    started = time.perf_counter()
    if partitioned:
        with connections[alias].cursor() as cursor:
            # Partitions whose every row was created before the cut. (Retention goes by
            # last_updated_at; a partition by created_at holds rows changed later, which
            # this would take too: here no alert changes after 10 minutes.)
            cursor.execute(
                "SELECT c.relname "
                "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                "WHERE i.inhparent = 'alerts_alert'::regclass AND c.relname <> "
                "'alerts_alert_default' AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), "
                "'TO \\(''([^'']+)''\\)'))[1]::timestamptz <= %s",
                [cut],
            )
            for (name,) in cursor.fetchall():
                cursor.execute(f"SELECT count(*) FROM {name}")  # noqa: S608
                count = cursor.fetchone()[0]
                cursor.execute(f"ALTER TABLE alerts_alert DETACH PARTITION {name}")
                cursor.execute(f"DROP TABLE {name}")
                dropped, rows = dropped + 1, rows + count
    dropping = time.perf_counter() - started
    # delete_in_batches deletes through the default database: point it at this one.
    default = connections["default"]
    default.close()
    default.settings_dict["NAME"] = connections[alias].settings_dict["NAME"]
    old = Alert.objects.filter(last_updated_at__lt=cut)
    started = time.perf_counter()
    deleted = delete_in_batches(old, batch_size=batch)
    return dropped, rows, dropping, deleted, time.perf_counter() - started


# --- the run ---------------------------------------------------------------------------------
def run(args: argparse.Namespace, server: str, names: dict[str, str]) -> None:
    import django
    from django.conf import settings

    settings.DATABASES[PART] = {**settings.DATABASES["default"], "NAME": names[PART]}
    settings.DATABASES[PART]["TEST"] = {"MIRROR": None}
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    loaded = build(args, server, names)
    say = print
    load_avg = os.getloadavg()
    say(f"Loaded {args.alerts:,} alerts for {args.customers} customers over {DAYS} days "
        f"(load average {load_avg[0]:.1f} / {load_avg[1]:.1f} / {load_avg[2]:.1f}):")  # fmt: skip
    for label, value in loaded.items():
        say(f"  {label}: {value:.1f} s" if "dropped" not in label else f"  {label}: {value:.0f}")
    say(f"Table + indexes: plain {size('default')}, partitioned {size(PART)}")
    say()
    say(f"{args.runs} runs each, in turns plain / partitioned; ms; EXPLAIN (ANALYZE, BUFFERS) "
        "of one more run: shared buffers touched and planning time.")  # fmt: skip
    say()
    say("| Statement | plain median | plain p95 | partitioned median | partitioned p95 | "
        "partitioned / plain (median) | plain EXPLAIN | partitioned EXPLAIN |")  # fmt: skip
    say("|---|---|---|---|---|---|---|---|")
    from tenants.models import AnalystScope

    customer = AnalystScope.objects.order_by("customer_id").values_list("customer_id", flat=True)
    cases = [(label, plain("default", sql), plain(PART, sql), sql, sql)
             for label, sql in console_statements("default")]  # fmt: skip
    upserts = (upsert_sql(False, customer[0]), upsert_sql(True, customer[0]))
    upsert = "upsert 500 (400 changed, 100 new), rolled back"
    cases.append((upsert, rolled_back("default", upserts[0]), rolled_back(PART, upserts[1]),
                  *upserts))  # fmt: skip
    for label, on_plain, on_part, sql_plain, sql_part in cases:
        first, second = time_interleaved([on_plain, on_part], args.runs)
        if "upsert" in label:
            explained = ["(rolled back; not explained)"] * 2
        else:
            explained = [buffers("default", sql_plain), buffers(PART, sql_part)]
        say(f"| {label} | {statistics.median(first):.1f} | {percentile(first, 0.95):.1f} | "
            f"{statistics.median(second):.1f} | {percentile(second, 0.95):.1f} | "
            f"{statistics.median(second) / statistics.median(first):.2f} | "
            f"{explained[0]} | {explained[1]} |")  # fmt: skip
    say()
    for alias, name in (("default", "plain"), (PART, "partitioned")):
        dropped, rows, dropping, deleted, deleting = retention(alias, alias == PART, args.batch)
        say(f"Retention {RETAIN_DAYS} days, {name}: {rows + deleted:,} alerts in "
            f"{dropping + deleting:.1f} s ({dropped} partitions dropped: {rows:,} alerts in "
            f"{dropping:.2f} s; {deleted:,} deleted in batches of {args.batch:,} in "
            f"{deleting:.1f} s); table + indexes after it: {size(alias)}.")  # fmt: skip
    say("(A DELETE frees no disk until VACUUM lets it be reused; a DROP frees it at once.)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--alerts", type=int, default=5_000_000)
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--runs", type=int, default=15, help="timed runs per statement")
    parser.add_argument("--batch", type=int, default=2000, help="retention batch size")
    parser.add_argument("--smoke", action="store_true", help="4,000 alerts, 1 run")
    parser.add_argument("--database", default="bench_partitioning")
    args = parser.parse_args()
    if args.smoke:
        args.alerts, args.customers, args.runs = 4_000, 40, 1
    server = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/")
    server = server if server.endswith("/") else server + "/"
    names = {"default": args.database, PART: f"{args.database}_part"[:63]}
    for name in names.values():
        admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin_sql(server, f'CREATE DATABASE "{names["default"]}"')
    os.environ["DATABASE_URL"] = server + names["default"]
    os.environ["DJANGO_SETTINGS_MODULE"] = "partner_portal.settings_test"
    os.environ.setdefault("CELERY_BROKER_URL", "memory://")
    try:
        run(args, server, names)
    finally:
        from django.db import connections

        connections.close_all()
        for name in names.values():
            admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
