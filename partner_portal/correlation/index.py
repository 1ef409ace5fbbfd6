"""Filling the indicator index as alerts are stored, and for alerts stored before it.

`index_stored` is a store listener (`alerts/sync/stored.py`): inside the transaction
that stores a page of alerts it only writes one `PendingIndex` row naming the page's new
and changed alerts (an outbox, so nothing is lost and the sync's pass is not slowed),
and after commit queues `correlation.index_pending`, which indexes waiting pages: each
shareable indicator (`indicators.py`) and where it was seen; a page that added sightings
is announced to the index's listeners (`indexed.py`) in the same transaction. Beat runs
the same task every minute for pages whose task was lost. Indicators are only ever
inserted, in digest order, and sightings belong to one alert, so pages indexed side by
side never wait on each other. A changed alert keeps its earlier sightings and gains
those its new evidence brings. `index_alerts` does the same for any alerts, in batches:
`manage.py index_indicators` fills the index for alerts stored before it existed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.db.models import QuerySet

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.stored import StoredChanges
from partner_portal.correlation.indexed import IndexedAlerts, announce_indexed
from partner_portal.correlation.indicators import alert_indicators
from partner_portal.correlation.models import Indicator, PendingIndex, Sighting

LISTENER = "correlation.index"
ROW_FIELDS = ("pk", "customer_id", "raw", "mitre_techniques", "created_at", "synced_at")
Row = tuple[int, int, Any, Any, datetime | None, datetime]
Sighted = list[tuple[str, str, int, int, datetime]]


def digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def _record(seen: Sighted) -> int:
    """Record sightings `(kind, value, alert pk, customer pk, seen at)`; return how many
    were new."""
    if not seen:
        return 0
    if connection.vendor == "postgresql":
        return _record_postgres(seen)
    wanted = {digest(kind, value): (kind, value) for kind, value, *_ in seen}
    keys = sorted(wanted)  # one order for every writer: concurrent inserts never deadlock
    Indicator.objects.bulk_create(
        [Indicator(kind=wanted[k][0], value=wanted[k][1][:1000], digest=k) for k in keys],
        ignore_conflicts=True,
        batch_size=1000,
    )
    ids = dict(Indicator.objects.filter(digest__in=keys).values_list("digest", "pk"))
    known = set(
        Sighting.objects.filter(alert_id__in={row[2] for row in seen}).values_list(
            "indicator_id", "alert_id"
        )
    )
    new = {}
    for kind, value, alert_pk, customer_id, at in seen:
        indicator_id = ids[digest(kind, value)]
        if (indicator_id, alert_pk) not in known:
            new[(indicator_id, alert_pk)] = Sighting(
                indicator_id=indicator_id, alert_id=alert_pk, customer_id=customer_id, seen_at=at
            )
    Sighting.objects.bulk_create(list(new.values()), ignore_conflicts=True, batch_size=2000)
    return len(new)


# A staging table per connection (rows deleted at each commit): the page's sightings are
# copied in with COPY, then indicators and sightings are inserted from it.
STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS correlation_stage (kind text, value text, "
    "digest text, alert_id bigint, customer_id bigint, seen_at timestamptz) "
    "ON COMMIT DELETE ROWS"
)


def _record_postgres(seen: Sighted) -> int:
    """The same in a few statements whatever the page's size: COPY into the staging
    table, new indicators inserted in digest order (so concurrent pages never deadlock),
    sightings joined to them; conflicts are left to the unique keys."""
    with connection.cursor() as cursor:
        cursor.execute(STAGE)
        cursor.execute("TRUNCATE correlation_stage")
        with cursor.cursor.copy("COPY correlation_stage FROM STDIN") as copy:
            for kind, value, alert_pk, customer_id, at in seen:
                key = digest(kind, value)
                copy.write_row((kind, value[:1000], key, alert_pk, customer_id, at))
        cursor.execute(
            "INSERT INTO correlation_indicator (kind, value, digest, created_at) "
            "SELECT DISTINCT ON (digest) kind, value, digest, now() FROM correlation_stage "
            "ORDER BY digest ON CONFLICT (digest) DO NOTHING"
        )
        cursor.execute(
            "INSERT INTO correlation_sighting (indicator_id, alert_id, customer_id, seen_at) "
            "SELECT i.id, s.alert_id, s.customer_id, s.seen_at FROM correlation_stage s "
            "JOIN correlation_indicator i ON i.digest = s.digest "
            "ON CONFLICT (alert_id, indicator_id) DO NOTHING"
        )
        return max(cursor.rowcount, 0)


def index_rows(rows: Iterable[Row]) -> int:
    """Record the indicators of these alert rows; return the sightings added."""
    seen: Sighted = []
    for pk, customer_id, raw, techniques, created_at, synced_at in rows:
        if isinstance(raw, dict):
            for kind, value in alert_indicators(raw=raw, mitre_techniques=techniques or []):
                seen.append((kind, value, pk, customer_id, created_at or synced_at))
    return _record(seen)


def index_stored(changes: StoredChanges) -> None:
    """The store listener: note the alerts one upsert wrote as waiting to be indexed, in
    its transaction (one small row per page), and have them indexed once it commits."""
    alert_ids = [*changes.new_alert_ids, *changes.changed_alert_ids]
    if alert_ids:
        PendingIndex.objects.create(customer_id=changes.customer_id, alert_ids=alert_ids)
        transaction.on_commit(_queue_indexing)


def _queue_indexing() -> None:
    from partner_portal.correlation.tasks import index_pending

    index_pending.delay()


def index_pending(*, limit: int = 1000) -> int:
    """Index waiting pages, oldest first, each with its row deleted in the same
    transaction; workers running this side by side take different pages. Returns the
    pages indexed (at most `limit`)."""
    done = 0
    while done < limit:
        with transaction.atomic():
            page = PendingIndex.objects.select_for_update(skip_locked=True).order_by("pk").first()
            if page is None:
                return done
            rows = Alert.objects.filter(customer_id=page.customer_id, alert_id__in=page.alert_ids)
            values = list(rows.values_list(*ROW_FIELDS))
            if index_rows(values):
                pks = tuple(row[0] for row in values)
                announce_indexed(IndexedAlerts(customer_id=page.customer_id, alert_pks=pks))
            page.delete()
        done += 1
    return done


def index_alerts(alerts: QuerySet[Alert], *, batch_size: int = 500) -> int:
    """Index `alerts` a batch at a time, each batch in its own transaction."""
    total = 0
    last = 0
    while True:
        with transaction.atomic():
            rows = list(
                alerts.filter(pk__gt=last).order_by("pk").values_list(*ROW_FIELDS)[:batch_size]
            )
            if not rows:
                return total
            total += index_rows(rows)
        last = rows[-1][0]
