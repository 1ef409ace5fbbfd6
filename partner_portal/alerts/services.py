"""The sync: pull one customer's alerts or incidents from Defender into the database.

A pass reads every change since the watermark (less an overlap, for Microsoft's
ingestion delay and clock skew) and upserts page by page, each page in one
transaction. The watermark moves only when the whole pass has been committed, to the
instant the pass started, so a pass that dies half way is simply repeated: the upsert
is idempotent, nothing is lost and nothing is doubled.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import BooleanField, F, Field
from django.db.models.expressions import RawSQL
from django.utils import timezone

from partner_portal.alerts.models import (
    SEVERITY_RANK,
    Alert,
    Incident,
    Source,
    SyncRun,
    SyncState,
    SyncStatus,
)
from partner_portal.core.locks import CacheLock, LockUnavailable, try_lock
from partner_portal.defender import (
    ALERT_READ,
    INCIDENT_READ,
    AlertRecord,
    ApiError,
    ConsentMissing,
    DefenderError,
    Forbidden,
    IncidentRecord,
    TokenError,
    Unauthorized,
)
from tenants import microsoft, verification
from tenants.models import Customer, CustomerStatus

logger = logging.getLogger(__name__)

COLLECTING = (CustomerStatus.ACTIVE, CustomerStatus.MISSING_PERMISSIONS)

ALERT_FIELDS = [
    "incident_id", "investigation_id", "title", "description", "severity", "severity_rank",
    "status", "classification", "determination", "investigation_state", "category",
    "detection_source", "threat_family_name", "assigned_to", "machine_id",
    "computer_dns_name", "related_user", "mitre_techniques", "created_at", "first_event_at",
    "last_event_at", "last_updated_at", "resolved_at", "has_evidence", "raw", "synced_at",
]  # fmt: skip
INCIDENT_FIELDS = [
    "name", "status", "severity", "severity_rank", "classification", "determination",
    "assigned_to", "tags", "alert_ids", "created_at", "last_updated_at", "raw", "synced_at",
]  # fmt: skip


class LockLost(Exception):
    """Another worker took over this customer's sync (our lock expired)."""


# --- rows -----------------------------------------------------------------------------------
def _user(record: AlertRecord) -> str:
    user = record.related_user
    if user is None or not user.user_name:
        return ""
    return f"{user.domain_name}\\{user.user_name}" if user.domain_name else user.user_name


ROW_NAMES = ["customer_id", "alert_id", *ALERT_FIELDS]

# One encoder for every COPY row: `json.dumps` with options builds a new encoder per call,
# which costs as much as encoding a small alert. The API's JSON cannot hold cycles.
_json_text = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _as_is(value: Any) -> Any:
    return value


def _alert_row(
    customer_id: int,
    record: AlertRecord,
    now: datetime,
    json_value: Callable[[Any], Any] = _as_is,
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
    )


def _alert_values(customer_id: int, record: AlertRecord, now: datetime) -> dict[str, Any]:
    """The columns of one alert row, by model field name."""
    values = dict(zip(ROW_NAMES, _alert_row(customer_id, record, now), strict=True))
    values["raw"] = dict(record.raw)  # a copy: the model may be changed, the record not
    return values


def alert_from_record(customer_id: int, record: AlertRecord, now: datetime) -> Alert:
    return Alert(**_alert_values(customer_id, record, now))


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


@dataclass(frozen=True)
class UpsertResult:
    created: int
    updated: int
    new_ids: tuple[str, ...] = ()


def _latest_per_id(records: Iterable[AlertRecord]) -> dict[str, AlertRecord]:
    """One record per alert ID, the most recently updated (a page may repeat one)."""
    latest: dict[str, AlertRecord] = {}
    for record in records:
        seen = latest.get(record.id)
        if seen is None or _newer_or_same(record.last_update_time, seen.last_update_time):
            latest[record.id] = record
    return latest


def _newer_or_same(candidate: datetime | None, known: datetime | None) -> bool:
    return candidate is None or known is None or candidate >= known


@transaction.atomic
def alerts_upsert(*, customer_id: int, records: Iterable[AlertRecord]) -> UpsertResult:
    """Insert new alerts and update changed ones, in one transaction.

    A row is rewritten only when the API's copy is newer (`lastUpdateTime`) or brings
    evidence the row lacks, so a repeated page changes nothing and an older copy (from
    a pass that lost its lock) never overwrites a newer one. Evidence, fetched once for
    a new alert, is kept when later updates arrive without it.
    """
    latest = _latest_per_id(records)
    if not latest:
        return UpsertResult(0, 0)
    if connection.vendor == "postgresql":
        return _alerts_upsert_postgres(customer_id, latest)
    return _alerts_upsert_portable(customer_id, latest)


def _alerts_upsert_portable(customer_id: int, latest: dict[str, AlertRecord]) -> UpsertResult:
    """Any database: read what is there, then one bulk INSERT ... ON CONFLICT."""
    existing = {
        alert_id: (updated_at, has_evidence)
        for alert_id, updated_at, has_evidence in Alert.objects.filter(
            customer_id=customer_id, alert_id__in=list(latest)
        ).values_list("alert_id", "last_updated_at", "has_evidence")
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
            known_updated, known_evidence = known
            newer = (
                known_updated is None
                or record.last_update_time is None
                or record.last_update_time > known_updated
            )
            gains_evidence = bool(record.evidence) and not known_evidence
            if not newer and not (record.last_update_time == known_updated and gains_evidence):
                continue
            if known_evidence and not record.evidence:
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
    if rows:
        Alert.objects.bulk_create(
            rows,
            batch_size=2000,
            update_conflicts=True,
            unique_fields=["customer", "alert_id"],
            update_fields=ALERT_FIELDS,
        )
    return UpsertResult(len(new_ids), len(rows) - len(new_ids), tuple(new_ids))


def _alert_columns() -> list[str]:
    columns = []
    for name in ["customer", "alert_id", *ALERT_FIELDS]:
        field = Alert._meta.get_field(name)
        assert isinstance(field, Field) and field.column
        columns.append(field.column)
    return columns


def _alerts_upsert_postgres(customer_id: int, latest: dict[str, AlertRecord]) -> UpsertResult:
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
            assignments.append(f"{column} = a.{column} OR EXCLUDED.{column}")
        elif name == "raw":
            # Keep the evidence fetched earlier when an update arrives without it.
            assignments.append(
                f"{column} = CASE WHEN a.has_evidence AND NOT EXCLUDED.has_evidence "
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
            "RETURNING a.alert_id, (a.xmax = 0)"
        )
        written: Sequence[tuple[str, bool]] = cursor.fetchall()
    new_ids = tuple(alert_id for alert_id, inserted in written if inserted)
    return UpsertResult(len(new_ids), len(written) - len(new_ids), new_ids)


def _newer(candidate: datetime | None, known: datetime | None) -> bool:
    return candidate is None or known is None or candidate > known


@transaction.atomic
def incidents_upsert(*, customer_id: int, records: Iterable[IncidentRecord]) -> UpsertResult:
    """Insert new incidents and update those whose copy is newer, in one transaction."""
    latest = {record.incident_id: record for record in records}
    if not latest:
        return UpsertResult(0, 0)
    existing = dict(
        Incident.objects.filter(customer_id=customer_id, incident_id__in=list(latest)).values_list(
            "incident_id", "last_updated_at"
        )
    )
    now = timezone.now()
    rows, created, updated = [], 0, 0
    for incident_id, record in latest.items():
        if incident_id not in existing:
            created += 1
        elif not _newer(record.last_update_time, existing[incident_id]):
            continue
        else:
            updated += 1
        rows.append(incident_from_record(customer_id, record, now))
    if rows:
        Incident.objects.bulk_create(
            rows,
            batch_size=1000,
            update_conflicts=True,
            unique_fields=["customer", "incident_id"],
            update_fields=INCIDENT_FIELDS,
        )
    return UpsertResult(created, updated)


# --- one pass ----------------------------------------------------------------------------------
def source_enabled(customer: Customer, source: str) -> bool:
    """Whether `source` is collected for `customer` right now."""
    if customer.status not in COLLECTING or not customer.tenant_id:
        return False
    if source == Source.ALERTS:
        return customer.collect_alerts and ALERT_READ not in customer.missing_roles
    if source == Source.INCIDENTS:
        return customer.collect_incidents and INCIDENT_READ not in customer.missing_roles
    return False


def lock_name(customer_id: int, source: str) -> str:
    return f"sync:{customer_id}:{source}"


ProgressCallback = Callable[[SyncRun], None]


def sync_source(
    *, customer_id: int, source: str, progress: ProgressCallback | None = None
) -> SyncRun | None:
    """Run one pass for one customer and source; None if not due to run (gone, paused,
    or another worker holds its lock).

    Never raises for a failure of the pass itself: every failure is recorded on the
    run, on the source's backoff and, for access problems, on the customer.
    """
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None or not source_enabled(customer, source):
        return None
    try:
        lock = try_lock(lock_name(customer_id, source), ttl=settings.SYNC_LOCK_SECONDS)
    except LockUnavailable as exc:
        # Without the lock store nobody can prove a pass is alone: record and back off.
        state, _ = SyncState.objects.get_or_create(customer=customer, source=source)
        run = SyncRun.objects.create(customer=customer, source=source, since=state.watermark)
        return _finish_failed(run, state, customer, source, exc)
    if lock is None:
        logger.info("Sync of customer %s %s already running elsewhere", customer_id, source)
        return None
    try:
        return _run_pass(customer, source, lock, progress)
    finally:
        lock.release()


def _close_abandoned_runs(customer: Customer, source: str) -> None:
    """Runs left "running" by a worker that died; we hold the lock, so none is alive."""
    SyncRun.objects.filter(customer=customer, source=source, status=SyncStatus.RUNNING).update(
        status=SyncStatus.FAILED,
        finished_at=timezone.now(),
        error_code="worker_lost",
        error_message="The worker stopped during this pass; a later pass repeated it.",
    )


def _run_pass(
    customer: Customer, source: str, lock: CacheLock, progress: ProgressCallback | None
) -> SyncRun:
    _close_abandoned_runs(customer, source)
    state, _ = SyncState.objects.get_or_create(customer=customer, source=source)
    started = timezone.now()
    backfill = state.watermark is None
    if state.watermark is None:
        since = started - timedelta(days=settings.SYNC_BACKFILL_DAYS)
    else:
        since = state.watermark - timedelta(seconds=settings.SYNC_OVERLAP_SECONDS)
    run = SyncRun.objects.create(
        customer=customer, source=source, backfill=backfill, since=since, started_at=started
    )
    token_sources: list[str] = []
    client: Any = None
    try:
        if source == Source.ALERTS:
            client = microsoft.mde_client(customer, token_sources=token_sources)
            pages: Iterable[list[Any]] = client.iter_alert_pages(
                since=since, page_size=settings.SYNC_PAGE_SIZE
            )
        else:
            client = microsoft.xdr_client(customer, token_sources=token_sources)
            pages = client.iter_incident_pages(since=since)
        for page in pages:
            if source == Source.ALERTS:
                result = alerts_upsert(customer_id=customer.pk, records=page)
                _fetch_evidence(client, customer, page, result)
            else:
                result = incidents_upsert(customer_id=customer.pk, records=page)
            run.pages += 1
            run.fetched += len(page)
            run.created += result.created
            run.updated += result.updated
            _copy_stats(run, client, token_sources)
            run.save(
                update_fields=[
                    "pages", "fetched", "created", "updated", "api_calls", "retries",
                    "throttled_waits", "throttled_seconds", "token_source",
                ]
            )  # fmt: skip
            if progress:
                progress(run)
            if not lock.extend():
                raise LockLost
    except Exception as exc:  # every failure must land on the run
        if not isinstance(exc, DefenderError | LockLost | microsoft.PartnerAppNotConfigured):
            logger.exception("Sync of customer %s %s failed unexpectedly", customer.pk, source)
        _copy_stats(run, client, token_sources)
        return _finish_failed(run, state, customer, source, exc)
    _copy_stats(run, client, token_sources)
    return _finish_succeeded(run, state, started)


def _fetch_evidence(
    client: Any, customer: Customer, page: list[AlertRecord], result: UpsertResult
) -> None:
    """Evidence for new alerts of the chosen severities, in as few calls as possible."""
    wanted = set(settings.SYNC_EVIDENCE_SEVERITIES)
    if not wanted or not result.new_ids:
        return
    new = set(result.new_ids)
    ids = [r.id for r in page if r.id in new and r.severity in wanted and not r.evidence]
    fetch = getattr(client, "iter_alerts_by_id", None)
    if not ids or fetch is None:
        return
    records = list(fetch(ids, expand_evidence=True))
    if records:
        alerts_upsert(customer_id=customer.pk, records=records)


def _copy_stats(run: SyncRun, client: Any, token_sources: list[str]) -> None:
    if client is not None:
        stats = client.stats
        run.api_calls = stats.api_calls
        run.retries = stats.retries
        run.throttled_waits = stats.throttled_waits
        run.throttled_seconds = round(stats.throttled_seconds, 3)
    if token_sources:
        # "identity_provider" if any token of the pass was freshly requested.
        run.token_source = (
            "identity_provider" if "identity_provider" in token_sources else token_sources[-1]
        )


@transaction.atomic
def _finish_succeeded(run: SyncRun, state: SyncState, started: datetime) -> SyncRun:
    now = timezone.now()
    run.status = SyncStatus.SUCCEEDED
    run.finished_at = now
    run.save(
        update_fields=[
            "status", "finished_at", "api_calls", "retries", "throttled_waits",
            "throttled_seconds", "token_source",
        ]
    )  # fmt: skip
    SyncState.objects.filter(pk=state.pk).update(
        watermark=started, last_success_at=now, last_run=run, consecutive_failures=0
    )
    return run


def _describe(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, LockLost):
        return "lock_lost", "Another worker took over this sync; it carries on from there."
    if isinstance(exc, LockUnavailable):
        return "lock_unavailable", "The shared lock store (Redis) did not answer; retried later."
    if isinstance(exc, microsoft.PartnerAppNotConfigured):
        return "not_configured", str(exc)
    if isinstance(exc, TokenError):
        code = f"AADSTS{exc.aadsts_code}" if exc.aadsts_code else type(exc).__name__
        return code, exc.explanation
    if isinstance(exc, ApiError):
        code = type(exc).__name__ + (f" {exc.status}" if exc.status else "")
        return code, exc.explanation
    # Not the protocol core's: a database or Redis problem, or a time limit. The message
    # may hold connection details, so only the kind of failure is shown.
    return type(exc).__name__, "The pass stopped on an internal error; it is retried later."


def _finish_failed(
    run: SyncRun, state: SyncState, customer: Customer, source: str, exc: Exception
) -> SyncRun:
    code, message = _describe(exc)
    logger.warning("Sync of customer %s %s failed: %s", customer.pk, source, code)
    with transaction.atomic():
        run.status = SyncStatus.FAILED
        run.finished_at = timezone.now()
        run.error_code = code[:64]
        run.error_message = message
        run.save(
            update_fields=[
                "status", "finished_at", "error_code", "error_message", "api_calls",
                "retries", "throttled_waits", "throttled_seconds", "token_source",
            ]
        )  # fmt: skip
        failures = state.consecutive_failures + 1
        backoff = min(
            settings.SYNC_MAX_BACKOFF_SECONDS, customer.sync_interval_seconds * 2 ** (failures - 1)
        )
        SyncState.objects.filter(pk=state.pk).update(
            last_run=run,
            consecutive_failures=F("consecutive_failures") + 1,
            next_due_at=timezone.now() + timedelta(seconds=backoff),
        )
    if isinstance(exc, ConsentMissing | Unauthorized):
        verification.customer_record_access_problem(customer_id=customer.pk, exc=exc)
    elif isinstance(exc, Forbidden):
        needed = ALERT_READ if source == Source.ALERTS else INCIDENT_READ
        verification.customer_record_access_problem(
            customer_id=customer.pk, exc=exc, missing_permission=needed
        )
    return run


# --- scheduling -------------------------------------------------------------------------------
def dispatch_due_syncs(*, now: datetime | None = None) -> list[tuple[int, str]]:
    """Queue one sync for every collecting customer and source that is due.

    Moving `next_due_at` forward here means a customer is queued once per interval even
    if its task is slow or lost; the per-customer lock stops two passes overlapping.
    """
    now = now or timezone.now()
    customers = list(
        Customer.objects.filter(status__in=COLLECTING, tenant_id__isnull=False).only(
            "id", "status", "tenant_id", "collect_alerts", "collect_incidents", "missing_roles",
            "sync_interval_seconds",
        )
    )  # fmt: skip
    wanted: dict[tuple[int, str], Customer] = {
        (c.pk, str(source)): c
        for c in customers
        for source in (Source.ALERTS, Source.INCIDENTS)
        if source_enabled(c, source)
    }
    known = set(SyncState.objects.values_list("customer_id", "source"))
    SyncState.objects.bulk_create(
        [
            SyncState(customer_id=cid, source=source, next_due_at=now)
            for (cid, source) in wanted
            if (cid, source) not in known
        ],
        ignore_conflicts=True,
    )
    queued = _claim_due(wanted, now)
    if queued:
        from partner_portal.alerts.tasks import sync_customer_source

        for customer_id, source in queued:
            sync_customer_source.apply_async(args=(customer_id, source))
    return queued


@transaction.atomic
def _claim_due(wanted: dict[tuple[int, str], Customer], now: datetime) -> list[tuple[int, str]]:
    """Move `next_due_at` of every due source one interval on, and return them.

    Rows another dispatcher is claiming at this moment are skipped (PostgreSQL's SKIP
    LOCKED; SQLite serialises writers), so a sync is queued once per interval; one
    UPDATE per distinct interval keeps a cycle over thousands of customers cheap.
    """
    due = (
        SyncState.objects.select_for_update(skip_locked=True)
        .filter(next_due_at__lte=now, customer_id__in={cid for cid, _ in wanted})
        .values_list("pk", "customer_id", "source")
    )
    by_interval: dict[int, list[int]] = {}
    queued: list[tuple[int, str]] = []
    for pk, customer_id, source in due:
        customer = wanted.get((customer_id, source))
        if customer is None:
            continue
        interval = customer.sync_interval_seconds or settings.SYNC_DEFAULT_INTERVAL_SECONDS
        by_interval.setdefault(interval, []).append(pk)
        queued.append((customer_id, source))
    for interval, pks in by_interval.items():
        SyncState.objects.filter(pk__in=pks).update(next_due_at=now + timedelta(seconds=interval))
    return queued


def _copy_rows(
    raw_cursor: Any,
    table: str,
    column_list: str,
    customer_id: int,
    latest: dict[str, AlertRecord],
    now: datetime,
) -> None:
    """COPY the alerts of `latest` into `table` (psycopg's COPY, text format).

    Rows are built while they are sent, so the server parses and indexes the first rows
    while later ones are still being encoded.
    """
    with raw_cursor.copy(f"COPY {table} ({column_list}) FROM STDIN") as copy:
        write_row = copy.write_row
        for record in latest.values():
            write_row(_alert_row(customer_id, record, now, _json_text))
