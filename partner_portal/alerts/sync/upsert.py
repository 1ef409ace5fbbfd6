"""Storing what a sync read: alerts upserted idempotently, a page at a time (incidents:
`incident_upsert.py`).

Each call takes one page of parsed records and writes it in one transaction. A stored row
is rewritten only when Microsoft's copy is newer, so running a page twice, or a stale
page from a pass that lost its lock, changes nothing. Alerts also keep the evidence that
was fetched for them once, when later updates arrive without it.

Alerts come from two APIs into one table: the Defender for Endpoint API's records and
Microsoft Graph's (`graph_rows.py` maps those to the same columns). A row first written
from the Defender for Endpoint API is rewritten by Graph's copy of the same alert even
when nothing changed since, so a customer's switch to Graph refreshes every row in place
(same row, same local history) rather than adding one.

Alerts have two writers with one outcome. On PostgreSQL the page is streamed with COPY:
straight into the table when none of its alerts is stored yet (a backfill), otherwise
into a temporary table and merged with one INSERT ... ON CONFLICT that writes only what
changed and reports which alerts were new. Any other database reads what is stored and
writes with one bulk INSERT ... ON CONFLICT. The write-back (`writeback.py`) stores
Defender's answers here too.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, Field, Model
from django.db.models.expressions import RawSQL
from django.utils import timezone

from partner_portal.alerts.models import SEVERITY_RANK, Alert
from partner_portal.alerts.sync.graph_rows import as_is, graph_alert_row
from partner_portal.alerts.sync.stored import StoredChanges, announce_stored
from partner_portal.defender import AlertRecord, GraphAlert

M = TypeVar("M", bound=Model)
#: An alert as either API sends it.
AnyAlert = AlertRecord | GraphAlert

ALERT_FIELDS = [
    "incident_id", "investigation_id", "title", "description", "severity", "severity_rank",
    "status", "classification", "determination", "investigation_state", "category",
    "detection_source", "threat_family_name", "assigned_to", "machine_id",
    "computer_dns_name", "related_user", "mitre_techniques", "created_at", "first_event_at",
    "last_event_at", "last_updated_at", "resolved_at", "has_evidence", "raw", "synced_at",
    "service_source", "alert_web_url", "incident_web_url", "system_tags", "from_graph",
]  # fmt: skip


# --- rows -----------------------------------------------------------------------------------
def _user(record: AlertRecord) -> str:
    user = record.related_user
    if user is None or not user.user_name:
        return ""
    return f"{user.domain_name}\\{user.user_name}" if user.domain_name else user.user_name


ROW_NAMES = ["customer_id", "alert_id", *ALERT_FIELDS]

# One encoder for every COPY row: `json.dumps` with options builds a new encoder per call,
# which costs as much as encoding a small alert. The API's JSON cannot hold cycles.
json_text = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _alert_row(
    customer_id: int,
    record: AlertRecord,
    now: datetime,
    json_value: Callable[[Any], Any] = as_is,
) -> tuple[Any, ...]:
    """The columns of one alert row, in `ROW_NAMES` order. `json_value` turns the two JSON
    columns (MITRE techniques, raw) into what the writer takes: text for COPY."""
    raw = record.raw
    return (
        customer_id,
        record.id,
        record.incident_id,
        record.investigation_id,
        (record.title or "")[:500],
        record.description or "",
        record.severity,
        SEVERITY_RANK.get(record.severity, 0),
        record.status,
        record.classification or "",
        record.determination or "",
        (record.investigation_state or "")[:64],
        (record.category or "")[:64],
        (record.detection_source or "")[:64],
        (record.threat_family_name or "")[:200],
        (record.assigned_to or "")[:255],
        (record.machine_id or "")[:64],
        (record.computer_dns_name or "")[:255],
        _user(record)[:255],
        json_value(list(record.mitre_techniques)),
        record.alert_creation_time,
        record.first_event_time,
        record.last_event_time,
        record.last_update_time,
        record.resolved_time,
        bool(record.evidence),
        json_value(raw if type(raw) is dict else dict(raw)),
        now,
        _ENDPOINT,
        "",
        "",
        json_value([]),
        False,
    )


#: Every alert of the Defender for Endpoint API comes from that product.
_ENDPOINT = "microsoftDefenderForEndpoint"


def _row(
    customer_id: int, record: AnyAlert, now: datetime, json_value: Callable[[Any], Any] = as_is
) -> tuple[Any, ...]:
    if type(record) is GraphAlert:
        return graph_alert_row(customer_id, record, now, json_value)
    assert isinstance(record, AlertRecord)
    return _alert_row(customer_id, record, now, json_value)


def _updated(record: AnyAlert) -> datetime | None:
    if type(record) is GraphAlert:
        return record.last_update_date_time
    assert isinstance(record, AlertRecord)
    return record.last_update_time


def _alert_values(customer_id: int, record: AnyAlert, now: datetime) -> dict[str, Any]:
    """The columns of one alert row, by model field name."""
    values = dict(zip(ROW_NAMES, _row(customer_id, record, now), strict=True))
    values["raw"] = dict(record.raw)  # a copy: the model may be changed, the record not
    return values


def alert_from_record(customer_id: int, record: AnyAlert, now: datetime) -> Alert:
    return Alert(**_alert_values(customer_id, record, now))


# --- alerts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class UpsertResult:
    """What one upsert wrote: rows created and updated, the IDs of the new alerts (a
    source may fetch more for those, e.g. evidence) and of the rewritten ones."""

    created: int
    updated: int
    new_ids: tuple[str, ...] = ()
    changed_ids: tuple[str, ...] = ()


def _latest_per_id(records: Iterable[AnyAlert]) -> dict[str, AnyAlert]:
    """One record per alert ID, the most recently updated (a page may repeat one)."""
    latest: dict[str, AnyAlert] = {}
    for record in records:
        seen = latest.get(record.id)
        if seen is None or _newer_or_same(_updated(record), _updated(seen)):
            latest[record.id] = record
    return latest


def newer(candidate: datetime | None, known: datetime | None) -> bool:
    return candidate is None or known is None or candidate > known


def _newer_or_same(candidate: datetime | None, known: datetime | None) -> bool:
    return candidate is None or known is None or candidate >= known


@transaction.atomic
def alerts_upsert(*, customer_id: int, records: Iterable[AnyAlert]) -> UpsertResult:
    """Insert new alerts and update changed ones, in one transaction.

    A row is rewritten only when the API's copy is newer (`lastUpdateTime`), brings
    evidence the row lacks, or is Graph's copy of a row the Defender for Endpoint API
    wrote, so a repeated page changes nothing and an older copy (from a pass that lost
    its lock) never overwrites a newer one. Evidence, fetched once for a new alert, is
    kept when later updates from the same API arrive without it. Records of either API
    may be given, even mixed.
    """
    latest = _latest_per_id(records)
    if not latest:
        return UpsertResult(0, 0)
    if connection.vendor == "postgresql":
        result = _alerts_upsert_postgres(customer_id, latest)
    else:
        result = _alerts_upsert_portable(customer_id, latest)
    announce_stored(
        StoredChanges(
            customer_id=customer_id,
            new_alert_ids=result.new_ids,
            changed_alert_ids=result.changed_ids,
        )
    )
    return result


def _alerts_upsert_portable(customer_id: int, latest: dict[str, AnyAlert]) -> UpsertResult:
    """Any database: read what is there, then one bulk INSERT ... ON CONFLICT."""
    existing = {
        alert_id: (updated_at, has_evidence, from_graph)
        for alert_id, updated_at, has_evidence, from_graph in Alert.objects.filter(
            customer_id=customer_id, alert_id__in=list(latest)
        ).values_list("alert_id", "last_updated_at", "has_evidence", "from_graph")
    }
    now = timezone.now()
    rows: list[Alert] = []
    new_ids: list[str] = []
    keep_evidence: list[str] = []
    for alert_id, record in latest.items():
        known = existing.get(alert_id)
        if known is None:
            new_ids.append(alert_id)
        else:
            known_updated, known_evidence, known_graph = known
            graph = type(record) is GraphAlert
            updated = _updated(record)
            rewrite = newer(updated, known_updated) or (graph and not known_graph)
            gains_evidence = bool(record.evidence) and not known_evidence
            if not rewrite and not (updated == known_updated and gains_evidence):
                continue
            if known_evidence and not record.evidence and graph == known_graph:
                keep_evidence.append(alert_id)
        rows.append(alert_from_record(customer_id, record, now))
    if keep_evidence:
        evidence = dict(
            Alert.objects.filter(customer_id=customer_id, alert_id__in=keep_evidence).values_list(
                "alert_id", "raw__evidence"
            )
        )
        for row in rows:
            if evidence.get(row.alert_id):
                row.raw = {**row.raw, "evidence": evidence[row.alert_id]}
                row.has_evidence = True
    insert_or_update(Alert, rows, key="alert_id", fields=ALERT_FIELDS, batch_size=2000)
    fresh = set(new_ids)
    changed = tuple(row.alert_id for row in rows if row.alert_id not in fresh)
    return UpsertResult(len(new_ids), len(changed), tuple(new_ids), changed)


def insert_or_update(
    model: type[M], rows: list[M], *, key: str, fields: list[str], batch_size: int
) -> None:
    """One bulk INSERT ... ON CONFLICT: new rows are added, and a row whose customer and
    `key` are stored already overwrites that row's `fields`."""
    if rows:
        model._default_manager.bulk_create(
            rows,
            batch_size=batch_size,
            update_conflicts=True,
            unique_fields=["customer", key],
            update_fields=fields,
        )


def _alert_columns() -> list[str]:
    columns = []
    for name in ["customer", "alert_id", *ALERT_FIELDS]:
        field = Alert._meta.get_field(name)
        assert isinstance(field, Field) and field.column
        columns.append(field.column)
    return columns


def _alerts_upsert_postgres(customer_id: int, latest: dict[str, AnyAlert]) -> UpsertResult:
    """PostgreSQL: COPY the page into a temporary table, then one INSERT ... ON CONFLICT
    that writes only rows that changed and reports which were new.

    This is several times faster than `bulk_create` for pages of thousands of alerts: no
    read-before-write, one statement, and COPY instead of a huge parameter list.
    """
    table = Alert._meta.db_table
    columns = _alert_columns()
    names = ROW_NAMES
    column_list = ", ".join(columns)
    keys = {"customer_id", "alert_id"}
    assignments = []
    for name, column in zip(names, columns, strict=True):
        if column in keys:
            continue
        if name == "has_evidence":
            assignments.append(
                f"{column} = CASE WHEN a.from_graph = EXCLUDED.from_graph "
                f"THEN a.{column} OR EXCLUDED.{column} ELSE EXCLUDED.{column} END"
            )
        elif name == "raw":
            # Keep the evidence fetched earlier when an update arrives without it (from
            # the same API: the two APIs shape evidence differently).
            assignments.append(
                f"{column} = CASE WHEN a.has_evidence AND NOT EXCLUDED.has_evidence "
                f"AND a.from_graph = EXCLUDED.from_graph "
                f"AND a.{column} -> 'evidence' IS NOT NULL "
                f"THEN jsonb_set(EXCLUDED.{column}, '{{evidence}}', a.{column} -> 'evidence') "
                f"ELSE EXCLUDED.{column} END"
            )
        else:
            assignments.append(f"{column} = EXCLUDED.{column}")
    now = timezone.now()
    import psycopg

    ids = list(latest)
    # One array parameter instead of an IN list of up to 10,000: building and quoting
    # that list took longer than the look-up itself.
    any_known = (
        Alert.objects.filter(customer_id=customer_id)
        .alias(known=RawSQL("alert_id = ANY(%s)", (ids,), output_field=BooleanField()))
        .filter(known=True)
    )
    if not any_known.exists():
        # A backfill page: nothing to merge, so COPY straight into the table. Should a
        # concurrent pass have written one of these alerts meanwhile, the unique
        # constraint stops the COPY and the merging path below takes over.
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                _copy_rows(cursor.cursor, table, column_list, customer_id, latest, now)
            return UpsertResult(len(ids), 0, tuple(ids))
        except (IntegrityError, psycopg.errors.UniqueViolation):
            # psycopg's own error: the COPY runs on the driver's cursor, unwrapped.
            pass
    # The statements below interpolate only table and column names from the model.
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS alert_upsert_stage ON COMMIT DROP AS "  # noqa: S608
            f"SELECT {column_list} FROM {table} WITH NO DATA"
        )
        # Within an enclosing transaction the table survives between calls.
        cursor.execute("TRUNCATE alert_upsert_stage")
        _copy_rows(cursor.cursor, "alert_upsert_stage", column_list, customer_id, latest, now)
        cursor.execute(
            f"INSERT INTO {table} AS a ({column_list}) "  # noqa: S608
            f"SELECT {column_list} FROM alert_upsert_stage "
            f"ON CONFLICT (customer_id, alert_id) DO UPDATE SET {', '.join(assignments)} "
            "WHERE a.last_updated_at IS NULL OR EXCLUDED.last_updated_at IS NULL "
            "OR EXCLUDED.last_updated_at > a.last_updated_at "
            "OR (EXCLUDED.last_updated_at = a.last_updated_at "
            "AND EXCLUDED.has_evidence AND NOT a.has_evidence) "
            "OR (EXCLUDED.from_graph AND NOT a.from_graph) "
            "RETURNING a.alert_id, (a.xmax = 0)"
        )
        written: Sequence[tuple[str, bool]] = cursor.fetchall()
    new_ids = tuple(alert_id for alert_id, inserted in written if inserted)
    changed = tuple(alert_id for alert_id, inserted in written if not inserted)
    return UpsertResult(len(new_ids), len(changed), new_ids, changed)


def _copy_rows(
    raw_cursor: Any,
    table: str,
    column_list: str,
    customer_id: int,
    latest: dict[str, AnyAlert],
    now: datetime,
) -> None:
    """COPY the alerts of `latest` into `table` (psycopg's COPY, text format).

    Rows are built while they are sent, so the server parses and indexes the first rows
    while later ones are still being encoded.
    """
    with raw_cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
        write_row = copy.write_row
        for record in latest.values():
            write_row(_row(customer_id, record, now, json_text))
