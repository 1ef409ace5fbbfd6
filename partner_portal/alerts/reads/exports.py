"""The exports: every alert of the list's current filter, or every incident of the
queue's, as rows for CSV or JSON.

`EXPORT_NAMES` names the columns of a row: the stored columns of `EXPORT_COLUMNS`, then
what the alert page shows beside them — the product (worked out from the alert's
`serviceSource`, see `products`), the evidence (each item as the page titles it:
"File: mimikatz.exe"), the comments (newest first, with the analyst a portal comment
names as its author), and the links to the alert's page in the portal and in Defender.

The export reads what the list shows (`alert_list.filtered_alerts`, so the user's scope
and filter) in the list's sort order, with more columns than a list row and with no
page limit. Rows are read in chunks (a server-side cursor on PostgreSQL), so memory does
not grow with the number of rows; the view writes them out as they come.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC
from itertools import islice
from typing import TYPE_CHECKING, Any

from partner_portal.alerts.comment_credit import shown_comments
from partner_portal.alerts.products import product_label, product_of
from partner_portal.alerts.reads.alert_list import AlertQuery, filtered_alerts
from partner_portal.alerts.reads.defender_links import alert_link, incident_link
from partner_portal.alerts.reads.evidence import evidence_views
from partner_portal.alerts.reads.incident_queue import (
    IncidentQuery,
    filtered_incidents,
    legacy_customers,
    products_of,
)
from partner_portal.alerts.reads.keyset import SORTS, _ordering

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# (name in the file, column read): the export's columns, in order.
EXPORT_COLUMNS = (
    ("customer", "customer__display_name"),
    ("tenant_id", "customer__tenant_id"),
    ("alert_id", "alert_id"),
    ("created_at", "created_at"),
    ("last_updated_at", "last_updated_at"),
    ("severity", "severity"),
    ("status", "status"),
    ("classification", "classification"),
    ("determination", "determination"),
    ("category", "category"),
    ("detection_source", "detection_source"),
    ("title", "title"),
    ("assigned_to", "assigned_to"),
    ("computer_dns_name", "computer_dns_name"),
    ("related_user", "related_user"),
    ("incident_id", "incident_id"),
    ("mitre_techniques", "mitre_techniques"),
    ("description", "description"),
    ("device_id", "machine_id"),
    ("first_event_at", "first_event_at"),
    ("last_event_at", "last_event_at"),
    ("resolved_at", "resolved_at"),
)
EXPORT_NAMES = (
    *(name for name, _ in EXPORT_COLUMNS),
    "product", "evidence", "comments", "portal_url", "defender_url",
)  # fmt: skip
# Read after the columns, turned into the names after EXPORT_COLUMNS' by `_finished`.
_DERIVED_READ = ("service_source", "from_graph", "raw", "pk", "customer__cloud")
EXPORT_CHUNK = 2000


def _evidence(raw: Any) -> list[str]:
    return [f"{view.label}: {view.title}" for view in evidence_views(raw, with_json=False)]


def _comments(raw: Any) -> list[str]:
    """ "2026-11-30T07:44:05Z Dana Reyes <dana@…> via Partner Portal: Contained." each."""
    lines = []
    for comment in shown_comments(raw):
        when = comment["created_at"]
        stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else ""
        lines.append(f"{stamp} {comment['created_by']}: {comment['comment']}".strip())
    return lines


def _finished(rows: Iterator[tuple[Any, ...]], page_url: str) -> Iterator[tuple[Any, ...]]:
    """Rows read with `_DERIVED_READ` last, those turned into the derived columns."""
    tenant_at = EXPORT_NAMES.index("tenant_id")
    alert_at = EXPORT_NAMES.index("alert_id")
    for *values, service_source, from_graph, raw, pk, cloud in rows:
        yield (
            *values,
            product_label(product_of(service_source, from_graph)),
            _evidence(raw),
            _comments(raw),
            f"{page_url}{pk}/",
            alert_link(cloud, values[tenant_at], values[alert_at]),
        )


def alert_export_rows(
    *, user: User | AnonymousUser, query: AlertQuery, page_url: str
) -> Iterator[tuple[Any, ...]]:
    """Every matching alert as a tuple of EXPORT_NAMES, read in chunks (a server-side
    cursor on PostgreSQL) so memory does not grow with the number of rows; `page_url` is
    the absolute URL of the list (an alert's page is `page_url` + its pk)."""
    spec = SORTS[query.sort]
    rows = (
        filtered_alerts(user=user, query=query)
        .order_by(*_ordering(spec, True))
        .values_list(*[column for _, column in EXPORT_COLUMNS], *_DERIVED_READ)
    )
    return _finished(rows.iterator(chunk_size=EXPORT_CHUNK), page_url)


# The incident export's columns: what a queue row shows, plus the links.
INCIDENT_EXPORT_NAMES = (
    "customer", "tenant_id", "incident_id", "name", "created_at", "last_updated_at",
    "severity", "status", "classification", "determination", "assigned_to", "products",
    "tags", "system_tags", "alert_count", "legacy_api", "portal_url", "defender_url",
)  # fmt: skip
_INCIDENT_READ = (
    "customer_id", "customer__display_name", "customer__tenant_id", "customer__cloud",
    "incident_id", "name", "created_at", "last_updated_at", "severity", "status",
    "classification", "determination", "assigned_to", "tags", "system_tags", "alert_ids", "pk",
)  # fmt: skip


def incident_export_rows(
    *, user: User | AnonymousUser, query: IncidentQuery, page_url: str
) -> Iterator[tuple[Any, ...]]:
    """Every incident of the queue's filter as a tuple of INCIDENT_EXPORT_NAMES, in the
    queue's order; `page_url` is the absolute URL of the queue (an incident's page is
    `page_url` + its pk). Read in chunks, each chunk's products in one more query."""
    spec = SORTS[query.sort]
    rows = (
        filtered_incidents(user=user, query=query)
        .order_by(*_ordering(spec, True))
        .values_list(*_INCIDENT_READ)
        .iterator(chunk_size=EXPORT_CHUNK)
    )
    while chunk := list(islice(rows, EXPORT_CHUNK)):
        products = products_of(user=user, incidents=((row[0], row[4]) for row in chunk))
        legacy = legacy_customers(user=user, customer_ids=(row[0] for row in chunk))
        for row in chunk:
            (customer_id, customer, tenant_id, cloud, incident_id, *facts, tags, system_tags,
             alert_ids, pk) = row  # fmt: skip
            yield (
                customer, tenant_id, incident_id, *facts,
                products.get((customer_id, incident_id), []), tags, system_tags,
                len(alert_ids), customer_id in legacy, f"{page_url}{pk}/",
                incident_link(cloud, tenant_id, incident_id),
            )  # fmt: skip
