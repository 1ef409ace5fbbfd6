"""The Microsoft Graph half of `bench_sync.py`: the backfill of a customer on Graph (its
`graph_alerts` and `graph_incidents` sources) against a bare fetch of the same pages and
a COPY of the same rows, measured the way the MDE backfill is, in the same run.

The bare side sends the sync's own requests with a Graph token already in hand:
`alerts_v2` oldest change first (`$orderby`, `$top`, `$filter`), following every
`@odata.nextLink`, and `incidents` with `$expand=alerts` and the same `$filter`, each page
decoded with `json`; then it COPYs the rows the sync writes, built beforehand, into
tables made `LIKE alerts_alert INCLUDING ALL` and `LIKE alerts_incident INCLUDING ALL`
(same columns and indexes). The sync does everything for real: token through MSAL, typed
parsing of every alert with its evidence and of every incident with its alerts, the rows,
the upsert, the run's bookkeeping and the lock. Rounds alternate which side goes first
and settle the server (vacuum, checkpoint) between phases, untimed.

The steady-state and freshness measures of Graph customers are `bench_sync.py`'s own,
run with `graph=True` (see `make_customers` there).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from backfill_rounds import alternate_rounds, summary

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_SOURCES = ("graph_alerts", "graph_incidents")
#: The headers the Graph client sends with every request.
GRAPH_HEADERS = {"Accept": "application/json", "Prefer": "include-unknown-enum-members"}


def graph_tokens(session: Any, config: dict[str, Any], customers: list[Any]) -> dict[str, str]:
    """A Graph token per customer's tenant, asked for once, outside every timing."""
    tokens = {}
    for c in customers:
        answer = session.post(
            f"{config['login_url']}/{c.tenant_id}/oauth2/v2.0/token",
            data={
                "client_id": config["client_id"], "client_secret": config["client_secret"],
                "scope": GRAPH_SCOPE, "grant_type": "client_credentials",
            },
        )  # fmt: skip
        answer.raise_for_status()
        tokens[c.tenant_id] = answer.json()["access_token"]
    return tokens


def follow(session: Any, url: str, params: dict[str, Any] | None, token: str) -> list[Any]:
    """Every item of a Graph listing, following `@odata.nextLink`."""
    items: list[Any] = []
    headers = {**GRAPH_HEADERS, "Authorization": f"Bearer {token}"}
    next_url: str | None = url
    while next_url is not None:
        answer = session.get(next_url, params=params, headers=headers)
        answer.raise_for_status()
        body = answer.json()
        items.extend(body["value"])
        next_url, params = body.get("@odata.nextLink"), None
    return items


def incident_columns() -> list[str]:
    from partner_portal.alerts.models import Incident

    return [f.column for f in Incident._meta.concrete_fields if not f.primary_key]


def incident_row(incident: Any, as_json: Callable[[Any], str]) -> tuple[Any, ...]:
    """An incident model's columns, in `incident_columns` order, as COPY takes them."""
    from django.db.models import JSONField

    from partner_portal.alerts.models import Incident

    return tuple(
        as_json(getattr(incident, f.attname))
        if isinstance(f, JSONField)
        else getattr(incident, f.attname)
        for f in Incident._meta.concrete_fields
        if not f.primary_key
    )


def bench_graph_backfill(
    tenants: int,
    per_tenant: int,
    rounds: int,
    *,
    as_json: Callable[[Any], str],
    customers_of: Callable[[Any], list[Any]],
) -> dict[str, Any]:
    """`customers_of(sandbox)` points the portal at the sandbox and returns its tenants
    as customers on Graph that collect incidents (`bench_sync.py` owns both)."""
    import requests
    from django.conf import settings
    from django.db import connection
    from django.utils import timezone

    from partner_portal.alerts.models import Alert, Incident, SyncRun, SyncState
    from partner_portal.alerts.sync import graph_rows, passes, upsert
    from partner_portal.defender import GRAPH_MAX_TOP
    from partner_portal.defender.graph_records import parse_graph_alerts, parse_graph_incidents
    from partner_portal.sandbox.testing import SandboxProcess

    with SandboxProcess(
        tenants=tenants, consented=tenants, alerts_per_tenant=per_tenant, arrival_rate=0,
        no_rate_limit=True, seed=31, timeout=120,
    ) as sandbox:  # fmt: skip
        customers = customers_of(sandbox)
        # The sandbox's alerts span the 30 days before it started, the sync's default
        # horizon: both sides read everything, so that they read the same pages.
        settings.SYNC_BACKFILL_DAYS = 3650
        config = sandbox.config
        session = requests.Session()
        session.trust_env = False
        session.verify = config["ca_file"]
        tokens = graph_tokens(session, config, customers)
        since = "2000-01-01T00:00:00Z"
        top = min(settings.SYNC_PAGE_SIZE, GRAPH_MAX_TOP)
        base = f"{config['graph_url']}/v1.0/security"

        alert_query = {
            "$orderby": "lastUpdateDateTime asc", "$top": top,
            "$filter": f"lastUpdateDateTime gt {since}",
        }  # fmt: skip
        incident_query = {"$filter": f"lastUpdateDateTime gt {since}", "$expand": "alerts"}

        def bare_fetch() -> tuple[list[Any], list[Any]]:
            alerts: list[Any] = []
            incidents: list[Any] = []
            for c in customers:
                token = tokens[c.tenant_id]
                got = follow(session, f"{base}/alerts_v2", alert_query, token)
                alerts += [(c.pk, item) for item in got]
                got = follow(session, f"{base}/incidents", incident_query, token)
                incidents += [(c.pk, item) for item in got]
            return alerts, incidents

        # The sandbox builds each tenant's Graph data on its first Graph call and
        # serialises an alert on its first read: this untimed fetch pays for both, and
        # gives the rows the sync writes, built here for the COPY.
        raw_alerts, raw_incidents = bare_fetch()
        now = timezone.now()
        alert_rows = [
            graph_rows.graph_alert_row(pk, record, now, as_json)
            for (pk, _), record in zip(
                raw_alerts, parse_graph_alerts(i for _, i in raw_alerts), strict=True
            )
        ]
        incident_rows = []
        for (pk, _), record in zip(
            raw_incidents, parse_graph_incidents(i for _, i in raw_incidents), strict=True
        ):
            number = graph_rows.numeric_id(record.id)
            assert number is not None
            incident_rows.append(
                incident_row(graph_rows.graph_incident(pk, number, record, now), as_json)
            )
        alert_columns = ", ".join(upsert._alert_columns())
        incident_column_list = ", ".join(incident_columns())
        pks = [c.pk for c in customers]

        def sql(*statements: str) -> None:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)

        def settle() -> None:
            sql(
                "VACUUM (ANALYZE) alerts_alert", "VACUUM (ANALYZE) alerts_incident",
                "VACUUM (ANALYZE) bench_copy", "VACUUM (ANALYZE) bench_copy_incident",
                "CHECKPOINT",
            )  # fmt: skip

        def reset() -> None:
            SyncRun.objects.filter(customer_id__in=pks).delete()
            SyncState.objects.filter(customer_id__in=pks).delete()
            sql(
                "TRUNCATE alerts_alert, alerts_incident",
                "DROP TABLE IF EXISTS bench_copy, bench_copy_incident",
                "CREATE TABLE bench_copy (LIKE alerts_alert INCLUDING ALL)",
                "CREATE TABLE bench_copy_incident (LIKE alerts_incident INCLUDING ALL)",
            )
            settle()

        def copy_rows(table: str, columns: str, batch: list[tuple[Any, ...]]) -> float:
            began = time.perf_counter()
            with (
                connection.cursor() as cursor,
                cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy,
            ):
                for row in batch:
                    copy.write_row(row)
            return time.perf_counter() - began

        def sync(chosen: list[Any]) -> float:
            began = time.perf_counter()
            runs = [
                passes.sync_source(customer_id=c.pk, source=source)
                for c in chosen
                for source in GRAPH_SOURCES
            ]
            elapsed = time.perf_counter() - began
            failed = [r for r in runs if r is None or r.status != "succeeded"]
            assert not failed, [(r.source, r.error_code, r.error_message) for r in failed if r]
            return elapsed

        def baseline() -> None:
            began = time.perf_counter()
            fetched_alerts, fetched_incidents = bare_fetch()
            t_http.append(time.perf_counter() - began)
            assert len(fetched_alerts) == len(alert_rows)
            assert len(fetched_incidents) == len(incident_rows)
            t_copy.append(
                copy_rows("bench_copy", alert_columns, alert_rows)
                + copy_rows("bench_copy_incident", incident_column_list, incident_rows)
            )

        def end_to_end() -> None:
            t_sync.append(sync(customers))
            assert Alert.objects.count() == len(alert_rows)
            assert Incident.objects.count() == len(incident_rows)

        reset()
        sync(customers[:1])
        copy_rows("bench_copy", alert_columns, alert_rows[:1000])
        t_http: list[float] = []
        t_copy: list[float] = []
        t_sync: list[float] = []
        alternate_rounds(
            rounds, reset=reset, baseline=baseline, end_to_end=end_to_end, settle=settle
        )
        stored = Alert.objects.count()
        incidents = Incident.objects.count()
    timed = summary(stored=stored, rounds=rounds, t_http=t_http, t_copy=t_copy, t_sync=t_sync)
    return {**timed, "incidents": incidents}
