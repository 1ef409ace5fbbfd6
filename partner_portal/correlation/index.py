"""Filling the indicator index as alerts are stored, and for alerts stored before it.

`index_stored` is a store listener (`alerts/sync/stored.py`): it runs inside the
transaction that stores a page of alerts, reads the new and changed rows back, and
records each shareable indicator (`indicators.py`) and where it was seen. Indicators
are only ever inserted, in digest order, and sightings belong to one alert, so pages of
different customers stored at the same time never wait on each other here. A changed
alert keeps its earlier sightings and gains those its new evidence brings.

`index_alerts` does the same for any alerts, in batches: `manage.py index_indicators`
fills the index for alerts stored before it existed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import QuerySet

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.stored import StoredChanges
from partner_portal.correlation.indicators import alert_indicators
from partner_portal.correlation.models import Indicator, Sighting

LISTENER = "correlation.index"
ROW_FIELDS = ("pk", "customer_id", "raw", "mitre_techniques", "created_at", "synced_at")
Row = tuple[int, int, Any, Any, datetime | None, datetime]


def digest(kind: str, value: str) -> str:
    return hashlib.sha256(f"{kind}:{value}".encode()).hexdigest()


def index_rows(rows: Iterable[Row]) -> int:
    """Record the indicators of these alert rows; return the sightings added."""
    wanted: dict[str, tuple[str, str]] = {}
    seen: list[tuple[str, int, int, datetime]] = []
    for pk, customer_id, raw, techniques, created_at, synced_at in rows:
        if not isinstance(raw, dict):
            continue
        for kind, value in alert_indicators(raw=raw, mitre_techniques=techniques or []):
            key = digest(kind, value)
            wanted[key] = (kind, value)
            seen.append((key, pk, customer_id, created_at or synced_at))
    if not seen:
        return 0
    keys = sorted(wanted)  # one order for every writer: concurrent inserts never deadlock
    Indicator.objects.bulk_create(
        [Indicator(kind=wanted[k][0], value=wanted[k][1][:1000], digest=k) for k in keys],
        ignore_conflicts=True,
        batch_size=1000,
    )
    ids = dict(Indicator.objects.filter(digest__in=keys).values_list("digest", "pk"))
    known = set(
        Sighting.objects.filter(alert_id__in={pk for _, pk, _, _ in seen}).values_list(
            "indicator_id", "alert_id"
        )
    )
    new = [
        Sighting(indicator_id=ids[key], alert_id=pk, customer_id=customer_id, seen_at=at)
        for key, pk, customer_id, at in seen
        if (ids[key], pk) not in known
    ]
    Sighting.objects.bulk_create(new, ignore_conflicts=True, batch_size=2000)
    return len(new)


def index_stored(changes: StoredChanges) -> None:
    """The store listener: index the alerts one upsert wrote, in its transaction."""
    alert_ids = (*changes.new_alert_ids, *changes.changed_alert_ids)
    if alert_ids:
        rows = Alert.objects.filter(
            customer_id=changes.customer_id, alert_id__in=alert_ids
        ).values_list(*ROW_FIELDS)
        index_rows(rows)


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
