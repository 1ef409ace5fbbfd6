"""The consolidated alert list: its filter, one page of rows, counts and live updates.

An analyst's filter arrives as an `AlertQuery` (built from the query string by
`filters.AlertFilterForm`). `filtered_alerts` turns it into the alerts that match, and it
starts from `visibility.visible_alerts(user=...)`: the list, its counts, live updates,
exports (`exports`) and charts (`charts`) all read through it, so they see exactly the
customers the user's scope allows and agree on what "the current filter" means. Alerts a
suppression rule hid from the queue are left out of all of them unless the filter shows
them (`show_hidden`); the overview's figures count through the same filter.

A page is cut with a keyset cursor (`keyset`) and read as plain tuples of the columns a
row shows, never model instances or the large `raw` JSON; each row's display values are
worked out once here for `list_html`. The page also carries the live-update mark: the
highest alert id in the user's scope when it was read, from which the page's poller asks
for what is new.

Severities, statuses and their labels are the protocol core's vocabularies
(`partner_portal.defender`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.utils.timezone import localtime

from partner_portal.alerts.models import Alert
from partner_portal.alerts.products import alerts_of_products, product_label, product_of
from partner_portal.alerts.reads.keyset import SORTS, Row, SortSpec, _ordering, keyset_slice
from partner_portal.alerts.visibility import visible_alerts
from partner_portal.core.times import format_moment
from partner_portal.defender import SETTABLE_ALERT_STATUSES, AlertSeverity, AlertStatus, in_words
from tenants.scoping import sees_all_customers, visible_customers

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

PAGE_SIZE = 50
# The list counts its matches exactly up to this many and says "10,000+" beyond: a count
# stops after this many rows however large the filter (`capped_count`).
COUNT_CAP = 10_000
LIVE_LIMIT = 50
# The severities the list filters and counts by, highest first; Defender's "UnSpecified"
# is stored as sent but offered nowhere.
SEVERITIES: tuple[str, ...] = tuple(
    severity.value
    for severity in (
        AlertSeverity.HIGH,
        AlertSeverity.MEDIUM,
        AlertSeverity.LOW,
        AlertSeverity.INFORMATIONAL,
    )
)
# The statuses the counts always show (an analyst can set each of them).
STATUSES: tuple[str, ...] = tuple(status.value for status in SETTABLE_ALERT_STATUSES)
OPEN_STATUSES: tuple[str, ...] = (AlertStatus.NEW.value, AlertStatus.IN_PROGRESS.value)
# The filter's value for "not classified yet" (no classification stored).
UNCLASSIFIED = "none"


# --- the filter ------------------------------------------------------------------------------
@dataclass(frozen=True)
class AlertQuery:
    """What the analyst asked for; built by `filters.AlertFilterForm` from the query string."""

    # None: every customer in scope. An empty tuple: the analyst named customers, none of
    # which is in scope, so nothing matches (a foreign pk never widens the result).
    customers: tuple[int, ...] | None = None
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    classification: str = ""
    category: str = ""
    detection_source: str = ""
    products: tuple[str, ...] = ()
    # One MITRE technique ID the alert names, exactly ("T1059" is not "T1059.001").
    technique: str = ""
    assigned_to: str = ""
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "newest"
    # Only alerts nobody is assigned to.
    unassigned: bool = False
    # Also the alerts a suppression rule hid from the queue (`Alert.hidden_by_rule`).
    show_hidden: bool = False


def _names_technique(technique: str) -> Q:
    """Alerts whose MITRE technique list holds `technique` exactly."""
    if connection.vendor == "postgresql":
        return Q(mitre_techniques__contains=[technique])
    # SQLite has no JSON containment: match the element as the list's JSON text holds it.
    return Q(mitre_techniques__icontains=json.dumps(technique))


def filtered_alerts(*, user: User | AnonymousUser, query: AlertQuery) -> QuerySet[Alert]:
    """The alerts in scope that match `query`, unordered."""
    # An alert without a creation time cannot be placed in a time-ordered list or a
    # time window; Defender always sends one, so such a row would be a broken record.
    alerts = visible_alerts(user=user).filter(created_at__isnull=False)
    if not query.show_hidden:
        alerts = alerts.filter(hidden_by_rule__isnull=True)
    if query.customers is not None:
        alerts = alerts.filter(customer_id__in=query.customers)
    if query.severities:
        alerts = alerts.filter(severity__in=query.severities)
    if query.statuses:
        alerts = alerts.filter(status__in=query.statuses)
    if query.classification == UNCLASSIFIED:
        alerts = alerts.filter(classification="")
    elif query.classification:
        alerts = alerts.filter(classification=query.classification)
    if query.category:
        alerts = alerts.filter(category=query.category)
    if query.detection_source:
        alerts = alerts.filter(detection_source=query.detection_source)
    if query.products:
        alerts = alerts.filter(alerts_of_products(query.products))
    if query.technique:
        alerts = alerts.filter(_names_technique(query.technique))
    if query.assigned_to:
        alerts = alerts.filter(assigned_to__iexact=query.assigned_to)
    if query.unassigned:
        alerts = alerts.filter(assigned_to="")
    if query.since is not None:
        alerts = alerts.filter(created_at__gte=query.since)
    if query.until is not None:
        alerts = alerts.filter(created_at__lt=query.until)
    if query.text:
        text = query.text
        alerts = alerts.filter(
            Q(title__icontains=text)
            | Q(description__icontains=text)
            | Q(computer_dns_name__icontains=text)
            | Q(related_user__icontains=text)
            | Q(alert_id__icontains=text)
        )
    return alerts


# --- the rows --------------------------------------------------------------------------------
# The columns one row of the list shows (and its cursor needs), read as plain tuples: no
# model instances, and never the large `raw` JSON. Keys of `AlertRow`, in this order.
LIST_COLUMNS = (
    "pk", "customer_id", "customer__display_name", "alert_id", "title", "severity",
    "severity_rank", "status", "classification", "category", "assigned_to",
    "computer_dns_name", "related_user", "created_at", "service_source", "from_graph",
    "hidden_because",
)  # fmt: skip
NO_VALUE = "\u2014"  # an em dash, for an empty cell

# One row of the list, as `list_html.alert_rows_html` prints it: the stored values plus the
# display values worked out once here ("label", "created_iso", ...).
AlertRow = Row


def _list_row(values: tuple[Any, ...]) -> AlertRow:
    row = dict(zip(LIST_COLUMNS, values, strict=True))
    row["customer_name"] = row.pop("customer__display_name")
    created = localtime(row["created_at"])
    row["created_iso"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    row["created_display"] = format_moment(created)
    row["label"] = row["title"] or row["alert_id"]
    row["status_label"] = in_words(row["status"])
    row["computer"] = row["computer_dns_name"] or NO_VALUE
    row["assigned"] = row["assigned_to"] or NO_VALUE
    row["product"] = product_label(product_of(row["service_source"], row["from_graph"]))
    return row


def list_rows(alerts: QuerySet[Alert]) -> list[AlertRow]:
    """The rows of an ordered, sliced alert queryset, ready for `list_html`."""
    return [_list_row(values) for values in alerts.values_list(*LIST_COLUMNS)]


# --- one page --------------------------------------------------------------------------------
@dataclass
class AlertPage:
    """One page of the list, with the cursors of its neighbours (None at either end)."""

    alerts: list[AlertRow]
    sort: SortSpec
    next_cursor: str | None = None
    previous_cursor: str | None = None
    # The highest alert pk in the user's scope when the page was read (see
    # `live_watermark`): live updates ask for newer.
    live_since_id: int = 0
    # How many alerts match, exactly up to COUNT_CAP; `more` when there are more still.
    matched: int = 0
    more: bool = False


def capped_count(rows: QuerySet[Any], *, cap: int = COUNT_CAP) -> tuple[int, bool]:
    """(how many of `rows` there are, up to `cap`; whether there are more).

    Counted as `SELECT COUNT(*) FROM (... LIMIT cap + 1)`: PostgreSQL stops reading at
    cap + 1 matches, so a filter matching a million alerts costs no more than one
    matching ten thousand (an exact count of the whole table is what it avoids).
    """
    found = rows.order_by().values("pk")[: cap + 1].count()
    return min(found, cap), found > cap


def live_watermark(*, user: User | AnonymousUser) -> int:
    """The highest alert pk in `user`'s scope: anything stored later counts as new.

    It depends only on alerts the user may see, so alerts stored for other customers
    never move it (the page and the live poll give away nothing about them). When the
    scope covers every customer this is the table's highest pk, one index look-up.
    Otherwise it is the highest of the per-customer tops, one seek each in the
    (customer, id) index; a plain `MAX(id)` over the scope could walk far back through
    the table when the scope's customers have had no recent alerts.
    """
    scoped = visible_alerts(user=user)
    if sees_all_customers(user):
        top = scoped.aggregate(top=Max("pk"))["top"]
    else:
        newest = scoped.filter(customer_id=OuterRef("pk")).order_by("-pk").values("pk")[:1]
        top = (
            visible_customers(user=user)
            .order_by()
            .aggregate(top=Max(Subquery(newest, output_field=IntegerField())))["top"]
        )
    return top or 0


def alert_page(
    *,
    user: User | AnonymousUser,
    query: AlertQuery,
    after: str = "",
    before: str = "",
    size: int = PAGE_SIZE,
) -> AlertPage:
    """One page of alerts: the first, the one after cursor `after`, or the one before
    cursor `before`. Raises InvalidCursor for a cursor that does not fit the sort."""
    watermark = live_watermark(user=user)
    alerts = filtered_alerts(user=user, query=query)
    matched, more = capped_count(alerts)
    cut = keyset_slice(
        alerts,
        read=list_rows,
        user=user,
        sort=query.sort,
        after=after,
        before=before,
        size=size,
    )
    return AlertPage(
        alerts=cut.rows,
        sort=SORTS[query.sort],
        next_cursor=cut.next_cursor,
        previous_cursor=cut.previous_cursor,
        live_since_id=watermark,
        matched=matched,
        more=more,
    )


# --- counts ----------------------------------------------------------------------------------
@dataclass
class AlertCounts:
    """How many alerts match the filter, by severity and by status."""

    total: int
    by_severity: list[tuple[str, int]]
    by_status: list[tuple[str, int]]


def alert_counts(*, user: User | AnonymousUser, query: AlertQuery) -> AlertCounts:
    """Counts for the current filter, from one grouped query."""
    severity: dict[str, int] = dict.fromkeys(SEVERITIES, 0)
    status: dict[str, int] = dict.fromkeys(STATUSES, 0)
    total = 0
    grouped = (
        filtered_alerts(user=user, query=query)
        .values_list("severity", "status")
        # COUNT(*), not COUNT(id): PostgreSQL can then count from the `alert_counts` index
        # alone, without reading the table.
        .annotate(n=Count("*"))
        .order_by()
    )
    for sev, stat, n in grouped:
        total += n
        severity[sev] = severity.get(sev, 0) + n
        status[stat] = status.get(stat, 0) + n
    return AlertCounts(total, list(severity.items()), list(status.items()))


# --- live updates ----------------------------------------------------------------------------
@dataclass
class LiveUpdate:
    """Alerts stored after `since_id` that match the filter."""

    count: int
    alerts: list[AlertRow]
    since_id: int


def alerts_since(
    *, user: User | AnonymousUser, query: AlertQuery, since_id: int, limit: int = LIVE_LIMIT
) -> LiveUpdate:
    """New matching alerts (pk above `since_id`), in the list's order, and the new mark."""
    # Fix the upper mark first so a row stored while we count is reported next time,
    # not skipped.
    watermark = max(live_watermark(user=user), since_id)
    spec = SORTS[query.sort]
    fresh = filtered_alerts(user=user, query=query).filter(pk__gt=since_id, pk__lte=watermark)
    count = fresh.count()
    rows = list_rows(fresh.order_by(*_ordering(spec, True))[:limit])
    return LiveUpdate(count=count, alerts=rows, since_id=watermark)
