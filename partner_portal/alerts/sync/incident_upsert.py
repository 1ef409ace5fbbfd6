"""Storing incidents: a page upserted idempotently, from either API.

A page is read against what is stored, then written with one bulk INSERT ... ON
CONFLICT; on PostgreSQL, a page of which nothing is stored yet (a backfill) is streamed
with COPY instead, as alert pages are (`upsert.py`): building and binding the ORM's
INSERT cost far more than the rows, about 1 ms an incident. A stored row is rewritten only when the
API's copy is newer, or when it is Graph's copy of a row the Defender XDR API wrote
(a customer's switch to Graph rewrites its incidents in place, keeping their rows).
Graph's incidents are mapped to the same columns by `graph_rows.py`; Graph's merged
incidents keep the incident they were merged into (`redirect_incident_id`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db import IntegrityError, connection, transaction
from django.db.models import JSONField
from django.utils import timezone

from partner_portal.alerts.models import SEVERITY_RANK, Incident
from partner_portal.alerts.sync.graph_rows import graph_incident, numeric_id
from partner_portal.alerts.sync.stored import StoredChanges, announce_stored
from partner_portal.alerts.sync.upsert import UpsertResult, insert_or_update, json_text, newer
from partner_portal.defender import GraphIncident, IncidentRecord

logger = logging.getLogger(__name__)

INCIDENT_FIELDS = [
    "name", "status", "severity", "severity_rank", "classification", "determination",
    "assigned_to", "tags", "alert_ids", "created_at", "last_updated_at", "raw", "synced_at",
    "custom_tags", "system_tags", "redirect_incident_id", "incident_web_url", "from_graph",
]  # fmt: skip

AnyIncident = IncidentRecord | GraphIncident


def incident_from_record(customer_id: int, record: IncidentRecord, now: datetime) -> Incident:
    return Incident(
        customer_id=customer_id,
        incident_id=record.incident_id,
        name=(record.incident_name or "")[:500],
        status=record.status or "",
        severity=record.severity or "",
        severity_rank=SEVERITY_RANK.get(record.severity or "", 0),
        classification=record.classification or "",
        determination=record.determination or "",
        assigned_to=(record.assigned_to or "")[:255],
        tags=list(record.tags),
        alert_ids=[alert.alert_id for alert in record.alerts],
        created_at=record.created_time,
        last_updated_at=record.last_update_time,
        raw=dict(record.raw),
        synced_at=now,
    )


def _row(customer_id: int, key: int, record: AnyIncident, now: datetime) -> Incident:
    if isinstance(record, GraphIncident):
        return graph_incident(customer_id, key, record, now)
    return incident_from_record(customer_id, record, now)


def _key(record: AnyIncident) -> int | None:
    if isinstance(record, GraphIncident):
        return numeric_id(record.id)
    return record.incident_id


def _updated(record: AnyIncident) -> datetime | None:
    if isinstance(record, GraphIncident):
        return record.last_update_date_time
    return record.last_update_time


@transaction.atomic
def incidents_upsert(*, customer_id: int, records: Iterable[AnyIncident]) -> UpsertResult:
    """Insert new incidents and update those whose copy is newer (or Graph's copy of one
    the Defender XDR API wrote), in one transaction."""
    latest: dict[int, AnyIncident] = {}
    for record in records:
        key = _key(record)
        if key is None:
            # The portal keys incidents by number, as both APIs have always sent them.
            logger.warning("Incident %r of customer %s has no numeric ID", record, customer_id)
            continue
        latest[key] = record
    if not latest:
        return UpsertResult(0, 0)
    existing = {
        incident_id: (updated_at, from_graph)
        for incident_id, updated_at, from_graph in Incident.objects.filter(
            customer_id=customer_id, incident_id__in=list(latest)
        ).values_list("incident_id", "last_updated_at", "from_graph")
    }
    now = timezone.now()
    rows: list[Incident] = []
    created: list[int] = []
    updated: list[int] = []
    for incident_id, record in latest.items():
        known = existing.get(incident_id)
        if known is None:
            created.append(incident_id)
        elif newer(_updated(record), known[0]) or (
            isinstance(record, GraphIncident) and not known[1]
        ):
            updated.append(incident_id)
        else:
            continue
        rows.append(_row(customer_id, incident_id, record, now))
    if existing or not _copied(rows):
        insert_or_update(Incident, rows, key="incident_id", fields=INCIDENT_FIELDS, batch_size=1000)
    announce_stored(
        StoredChanges(
            customer_id=customer_id,
            new_incident_ids=tuple(created),
            changed_incident_ids=tuple(updated),
        )
    )
    return UpsertResult(len(created), len(updated))


def _copied(rows: list[Incident]) -> bool:
    """COPY new incidents straight into the table (PostgreSQL); False when it was not
    done: another database, or a concurrent pass stored one of them meanwhile (the unique
    constraint stops the COPY, and the caller's INSERT ... ON CONFLICT takes over)."""
    if connection.vendor != "postgresql":
        return False
    import psycopg

    fields = [f for f in Incident._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(f.column for f in fields)
    encoded = [(f.attname, isinstance(f, JSONField)) for f in fields]
    try:
        with (
            transaction.atomic(),
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {Incident._meta.db_table} ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(
                    [json_text(getattr(row, a)) if j else getattr(row, a) for a, j in encoded]
                )
    except (IntegrityError, psycopg.errors.UniqueViolation):
        # psycopg's own error: the COPY runs on the driver's cursor, unwrapped.
        return False
    return True
