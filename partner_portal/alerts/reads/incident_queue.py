"""The incident queue: its filter, one page of rows, counts and live updates.

The queue is the incidents an analyst triages: every incident in the user's scope
(`visibility.visible_incidents`) that has a creation time and has not been merged into
another (Defender's "Redirected" incidents, which point at their target with
`redirect_incident_id`, leave the queue; their own page says where they went). An
`IncidentQuery` (built by `incident_filters.IncidentFilterForm`, which asks for the open
incidents, `OPEN_INCIDENT_STATUSES`, unless told a status or "all") narrows it, and the page,
its counts, live updates and exports (`exports.incident_export_rows`) all read through
`filtered_incidents`, so they agree with each other and with the scope.

Pages are cut like the alert list's (`keyset`: the same sort orders, the same cursors).
Live updates follow changes rather than arrivals: an incident is rewritten by every sync
that brings a newer copy, and its `synced_at` moves. The page holds a mark (a time, in
microseconds) and asks for incidents written after it; the mark trails the clock by
`SETTLE`, so a sync that is still committing when the poll reads is reported next time
rather than skipped. Incidents written in that window that no longer match (merged,
resolved under an "Active" filter) are named as gone, so the page can drop them.

The products of an incident are those of its stored alerts (`products`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db import connection
from django.db.models import Count, Q, QuerySet

from partner_portal.alerts.models import Incident
from partner_portal.alerts.products import incidents_of_products, product_label, product_of
from partner_portal.alerts.reads.alert_list import SEVERITIES, capped_count
from partner_portal.alerts.reads.keyset import SORTS, Row, SortSpec, _ordering, keyset_slice
from partner_portal.alerts.visibility import visible_alerts, visible_incidents
from partner_portal.core.bounds import parse_whole_number
from partner_portal.core.times import format_moment
from partner_portal.defender import IncidentStatus
from tenants.scoping import sees_all_customers, visible_customers

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

PAGE_SIZE = 50
LIVE_LIMIT = 50
GONE_LIMIT = 500
# How far the live mark trails the clock: longer than a sync's transaction takes.
SETTLE = timedelta(seconds=5)
# The statuses of the queue, as the filter offers and the counts show them.
QUEUE_STATUSES: tuple[IncidentStatus, ...] = tuple(
    s for s in IncidentStatus if s is not IncidentStatus.REDIRECTED
)
# The incidents still being worked on, the queue's default: all but resolved ones
# (Awaiting action is Defender Experts waiting on the customer, still open).
OPEN_INCIDENT_STATUSES: tuple[str, ...] = (
    IncidentStatus.ACTIVE.value,
    IncidentStatus.IN_PROGRESS.value,
    IncidentStatus.AWAITING_ACTION.value,
)
STATUS_LABELS = {s.value: s.label for s in IncidentStatus}
NO_VALUE = "\u2014"


@dataclass(frozen=True)
class IncidentQuery:
    """What the analyst asked for; built by `incident_filters.IncidentFilterForm`."""

    # None: every customer in scope; an empty tuple: none of those named is in scope.
    customers: tuple[int, ...] | None = None
    severities: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    products: tuple[str, ...] = ()
    tag: str = ""
    assigned_to: str = ""
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "newest"


def queue(*, user: User | AnonymousUser) -> QuerySet[Incident]:
    """The incidents of `user`'s queue: in scope, placed in time, not merged away."""
    return (
        visible_incidents(user=user)
        .filter(created_at__isnull=False, redirect_incident_id__isnull=True)
        .exclude(status=IncidentStatus.REDIRECTED.value)
    )


def _tagged(tag: str) -> Q:
    """Incidents carrying `tag`: one people set (`tags`, which holds Graph's `customTags`
    as well as the XDR API's tags) or one of Microsoft's (`systemTags`), spelled exactly."""
    names = ("tags", "system_tags")
    if connection.vendor == "postgresql":
        # jsonb containment, an exact element match, answered by the GIN indexes of
        # migration 0006.
        return Q(*(Q(**{f"{name}__contains": [tag]}) for name in names), _connector=Q.OR)
    # SQLite has no JSON containment: match the element as the list's JSON text holds it.
    quoted = json.dumps(tag)
    return Q(*(Q(**{f"{name}__icontains": quoted}) for name in names), _connector=Q.OR)


def filtered_incidents(*, user: User | AnonymousUser, query: IncidentQuery) -> QuerySet[Incident]:
    """The incidents of the queue that match `query`, unordered."""
    incidents = queue(user=user)
    if query.customers is not None:
        incidents = incidents.filter(customer_id__in=query.customers)
    elif not sees_all_customers(user):
        # The scope's customers named as values as well: the door's subquery alone leaves
        # PostgreSQL guessing how few rows the scope holds, and it then walks the whole
        # queue's time index (50 ms for one customer of 200 at 50,000 incidents) where the
        # (customer, time) index answers in under 1 ms.
        scope = visible_customers(user=user).values_list("pk", flat=True)
        incidents = incidents.filter(customer_id__in=list(scope))
    if query.severities:
        incidents = incidents.filter(severity__in=query.severities)
    if query.statuses:
        incidents = incidents.filter(status__in=query.statuses)
    if query.products:
        incidents = incidents.filter(incidents_of_products(query.products))
    if query.tag:
        incidents = incidents.filter(_tagged(query.tag))
    if query.assigned_to:
        incidents = incidents.filter(assigned_to__iexact=query.assigned_to)
    if query.since is not None:
        incidents = incidents.filter(created_at__gte=query.since)
    if query.until is not None:
        incidents = incidents.filter(created_at__lt=query.until)
    if query.text:
        match = Q(name__icontains=query.text) | Q(assigned_to__icontains=query.text)
        number = parse_whole_number(query.text)
        if number is not None:
            match |= Q(incident_id=number)
        incidents = incidents.filter(match)
    return incidents


# --- the rows --------------------------------------------------------------------------------
QUEUE_COLUMNS = (
    "pk", "customer_id", "customer__display_name", "incident_id", "name", "severity",
    "severity_rank", "status", "classification", "assigned_to", "tags", "system_tags",
    "alert_ids", "created_at", "synced_at",
)  # fmt: skip


def products_of(
    *, user: User | AnonymousUser, incidents: Iterable[tuple[int, int]]
) -> dict[tuple[int, int], list[str]]:
    """The product names of each (customer pk, incident id), from its stored alerts."""
    keys = set(incidents)
    found: dict[tuple[int, int], set[str]] = defaultdict(set)
    if not keys:
        return {}
    alerts = (
        visible_alerts(user=user)
        .filter(
            customer_id__in={c for c, _ in keys},
            incident_id__in={i for _, i in keys},
        )
        .values_list("customer_id", "incident_id", "service_source", "from_graph")
        .distinct()
    )
    for customer_id, incident_id, service_source, from_graph in alerts:
        product = product_of(service_source, from_graph)
        key = (customer_id, incident_id or 0)
        if key in keys and product:
            found[key].add(product_label(product))
    return {key: sorted(names) for key, names in found.items()}


def legacy_customers(*, user: User | AnonymousUser, customer_ids: Iterable[int]) -> set[int]:
    """Which of these customers are still read through the legacy APIs."""
    customers = visible_customers(user=user).filter(pk__in=set(customer_ids))
    return {c.pk for c in customers if c.on_legacy_api}


def _queue_row(values: tuple[Any, ...]) -> Row:
    row = dict(zip(QUEUE_COLUMNS, values, strict=True))
    row["customer_name"] = row.pop("customer__display_name")
    row["created_iso"] = row["created_at"].astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    row["created_display"] = format_moment(row["created_at"])
    row["label"] = row["name"] or f"Incident {row['incident_id']}"
    row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
    row["assigned"] = row["assigned_to"] or NO_VALUE
    row["all_tags"] = list(dict.fromkeys([*row["tags"], *row["system_tags"]]))
    row["alert_count"] = len(row["alert_ids"])
    row["version"] = row["synced_at"].astimezone(UTC).isoformat()
    return row


def queue_rows(incidents: QuerySet[Incident], *, user: User | AnonymousUser) -> list[Row]:
    """The rows of an ordered, sliced queryset, with their products and legacy marks."""
    rows = [_queue_row(values) for values in incidents.values_list(*QUEUE_COLUMNS)]
    products = products_of(
        user=user, incidents=((r["customer_id"], r["incident_id"]) for r in rows)
    )
    legacy = legacy_customers(user=user, customer_ids=(r["customer_id"] for r in rows))
    for row in rows:
        row["products"] = products.get((row["customer_id"], row["incident_id"]), [])
        row["legacy_api"] = row["customer_id"] in legacy
    return rows


# --- one page --------------------------------------------------------------------------------
@dataclass
class IncidentPage:
    incidents: list[Row]
    sort: SortSpec
    next_cursor: str | None
    previous_cursor: str | None
    # Live updates ask for incidents written after this mark (see the module's story).
    live_mark: int
    # How many incidents match, exactly up to COUNT_CAP; `more` when there are more still.
    matched: int = 0
    more: bool = False


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# The last mark a time can stand for (the end of the year 9999).
LATEST_MARK = (datetime(9999, 12, 31, tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)


def live_mark(now: datetime | None = None) -> int:
    """The mark of "now": microseconds since the epoch, `SETTLE` ago."""
    moment = (now or datetime.now(UTC)) - SETTLE
    return (moment - EPOCH) // timedelta(microseconds=1)


def _moment(mark: int) -> datetime:
    return EPOCH + timedelta(microseconds=mark)


def incident_page(
    *,
    user: User | AnonymousUser,
    query: IncidentQuery,
    after: str = "",
    before: str = "",
    size: int = PAGE_SIZE,
) -> IncidentPage:
    """One page of the queue (see `keyset.keyset_slice`); raises InvalidCursor."""
    mark = live_mark()
    incidents = filtered_incidents(user=user, query=query)
    matched, more = capped_count(incidents)
    cut = keyset_slice(
        incidents,
        read=lambda rows: queue_rows(rows, user=user),
        user=user,
        sort=query.sort,
        after=after,
        before=before,
        size=size,
    )
    return IncidentPage(
        cut.rows, SORTS[query.sort], cut.next_cursor, cut.previous_cursor, mark, matched, more
    )


# --- counts ----------------------------------------------------------------------------------
@dataclass
class IncidentCounts:
    total: int
    by_severity: list[tuple[str, int]]
    by_status: list[tuple[str, int]]


def incident_counts(*, user: User | AnonymousUser, query: IncidentQuery) -> IncidentCounts:
    """How many incidents match, by severity and by status, from one grouped query.

    Each count is what its link shows: the filter with that one severity (or status) in
    place of the severities (statuses) chosen. So the severity counts honour every filter
    but the severity one, the status counts every filter but the status one, and the
    total honours all of them.
    """
    severity = dict.fromkeys(SEVERITIES, 0)
    status = {s.value: 0 for s in QUEUE_STATUSES}
    total = 0
    grouped = (
        filtered_incidents(user=user, query=replace(query, severities=(), statuses=()))
        .values_list("severity", "status")
        .annotate(n=Count("*"))
        .order_by()
    )
    for sev, stat, n in grouped:
        severity_chosen = not query.severities or sev in query.severities
        status_chosen = not query.statuses or stat in query.statuses
        if status_chosen:
            severity[sev] = severity.get(sev, 0) + n
        if severity_chosen:
            status[stat] = status.get(stat, 0) + n
        if severity_chosen and status_chosen:
            total += n
    return IncidentCounts(total, list(severity.items()), list(status.items()))


# --- live updates ----------------------------------------------------------------------------
@dataclass
class IncidentChanges:
    """Incidents written after a mark: those that match (new or changed) and those in
    scope that no longer do."""

    count: int
    incidents: list[Row]
    gone: list[int]
    mark: int


def incidents_changed(
    *,
    user: User | AnonymousUser,
    query: IncidentQuery,
    mark: int,
    now: datetime | None = None,
    limit: int = LIVE_LIMIT,
) -> IncidentChanges:
    """Incidents written in (mark, the new mark], in the queue's order, and the new mark."""
    new_mark = max(live_mark(now), mark)
    window = Q(synced_at__gt=_moment(mark), synced_at__lte=_moment(new_mark))
    matching = filtered_incidents(user=user, query=query).filter(window)
    count = matching.count()
    rows = queue_rows(matching.order_by(*_ordering(SORTS[query.sort], True))[:limit], user=user)
    gone = list(
        visible_incidents(user=user)
        .filter(window)
        .exclude(pk__in=matching.values("pk"))
        .values_list("pk", flat=True)[:GONE_LIMIT]
    )
    return IncidentChanges(count=count, incidents=rows, gone=gone, mark=new_mark)
