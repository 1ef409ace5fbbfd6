"""The alert export: every alert of the list's current filter, as rows for CSV or JSON.

The export reads what the list shows (`alert_list.filtered_alerts`, so the user's scope
and filter) in the list's sort order, with more columns than a list row and with no
page limit. Rows are read in chunks (a server-side cursor on PostgreSQL), so memory does
not grow with the number of rows; the view writes them out as they come.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from partner_portal.alerts.reads.alert_list import AlertQuery, filtered_alerts
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
)
EXPORT_CHUNK = 2000


def alert_export_rows(
    *, user: User | AnonymousUser, query: AlertQuery
) -> Iterator[tuple[Any, ...]]:
    """Every matching alert as a tuple of EXPORT_COLUMNS, read in chunks (a server-side
    cursor on PostgreSQL) so memory does not grow with the number of rows."""
    spec = SORTS[query.sort]
    rows = (
        filtered_alerts(user=user, query=query)
        .order_by(*_ordering(spec, True))
        .values_list(*[column for _, column in EXPORT_COLUMNS])
    )
    return rows.iterator(chunk_size=EXPORT_CHUNK)
