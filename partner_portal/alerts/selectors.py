"""Reads of the analysts' console: the consolidated alert list and everything derived from it.

Every function here starts from `visibility.visible_alerts(user=...)`, the alerts a user
may see under tenants' scoping rule; the list, its counts, live updates, exports and
charts therefore see exactly the customers the user's scope allows, and nothing else.

Pages are cut with keyset pagination (a cursor made of the last row's sort values), never
with OFFSET, so page 1,000 costs what page 1 costs.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import (
    BooleanField,
    Count,
    DateTimeField,
    Expression,
    F,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
)
from django.db.models.functions import TruncDay, TruncHour
from django.utils.timezone import localtime

from partner_portal.alerts.models import Alert
from partner_portal.alerts.visibility import visible_alerts
from partner_portal.core.bounds import parse_whole_number
from tenants.scoping import sees_all_customers, visible_customers

PAGE_SIZE = 50
LIVE_LIMIT = 50
SEVERITIES = ("High", "Medium", "Low", "Informational")
STATUSES = ("New", "InProgress", "Resolved")
UNCLASSIFIED = "none"
OPEN_STATUSES = ("New", "InProgress")


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
    assigned_to: str = ""
    text: str = ""
    since: datetime | None = None
    until: datetime | None = None
    sort: str = "newest"


# --- sorting and cursors ---------------------------------------------------------------------
@dataclass(frozen=True)
class SortSpec:
    """One sort order: the columns in order, and the values a cursor carries."""

    label: str
    columns: tuple[str, ...]
    descending: tuple[bool, ...]
    # (attribute on the alert, kind) for each part of the cursor, in order.
    cursor_parts: tuple[tuple[str, str], ...]
    next_label: str = "Next"
    previous_label: str = "Previous"

    @property
    def uniform(self) -> bool:
        """All columns run the same way, so one row comparison expresses the cursor."""
        return len(set(self.descending)) == 1


SORTS: dict[str, SortSpec] = {
    "newest": SortSpec(
        "Newest first",
        ("created_at", "pk"),
        (True, True),
        (("created_at", "time"), ("pk", "int")),
        "Older",
        "Newer",
    ),
    "oldest": SortSpec(
        "Oldest first",
        ("created_at", "pk"),
        (False, False),
        (("created_at", "time"), ("pk", "int")),
        "Newer",
        "Older",
    ),
    "severity": SortSpec(
        "Severity, then newest",
        ("severity_rank", "created_at", "pk"),
        (True, True, True),
        (("severity_rank", "int"), ("created_at", "time"), ("pk", "int")),
    ),
    "customer": SortSpec(
        "Customer, then newest",
        ("customer__display_name", "customer_id", "created_at", "pk"),
        (False, False, True, True),
        (("customer_id", "int"), ("created_at", "time"), ("pk", "int")),
    ),
}


class InvalidCursor(ValueError):
    """A page link that does not fit the sort order (edited, or from another sort)."""


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_cursor(alert: Alert | AlertRow, sort: str) -> str:
    """The cursor of `alert` (a model instance or a list row) for `sort`: its sort values,
    comma-separated, readable."""
    parts = []
    for attribute, kind in SORTS[sort].cursor_parts:
        value = alert[attribute] if isinstance(alert, dict) else getattr(alert, attribute)
        parts.append(_format_time(value) if kind == "time" else str(int(value)))
    return ",".join(parts)


def decode_cursor(text: str, sort: str) -> tuple[Any, ...]:
    """Parse and validate a cursor; raises InvalidCursor for anything malformed."""
    spec = SORTS.get(sort)
    if spec is None:
        raise InvalidCursor("unknown sort")
    pieces = text.split(",")
    if len(pieces) != len(spec.cursor_parts) or len(text) > 200:
        raise InvalidCursor("wrong number of parts")
    values: list[Any] = []
    for piece, (_, kind) in zip(pieces, spec.cursor_parts, strict=True):
        if kind == "time":
            try:
                moment = datetime.fromisoformat(piece)
            except ValueError as exc:
                raise InvalidCursor("bad time") from exc
            if moment.tzinfo is None:
                raise InvalidCursor("time without zone")
            try:
                values.append(moment.astimezone(UTC))
            except OverflowError as exc:
                raise InvalidCursor("time out of range") from exc
        else:
            number = parse_whole_number(piece, low=0)
            if number is None:
                raise InvalidCursor("bad number")
            values.append(number)
    return tuple(values)


class RowCompare(Expression):
    """`(a, b, c) < (x, y, z)` in SQL: a keyset bound the database can seek in an index.

    Both PostgreSQL and SQLite (3.15+) compare row values; spelled as ORs instead, the
    PostgreSQL planner could not use the index bound and would walk from the first row.
    """

    conditional = True
    output_field = BooleanField()

    def __init__(self, columns: Sequence[Any], values: Sequence[Any], operator: str) -> None:
        super().__init__()
        if operator not in ("<", ">") or len(columns) != len(values):
            raise ValueError("RowCompare needs matching columns and values and < or >")
        self.operator = operator
        self.width = len(columns)
        self.parts = [*columns, *values]

    def get_source_expressions(self) -> list[Any]:
        return list(self.parts)

    def set_source_expressions(self, exprs: Sequence[Any]) -> None:
        self.parts = list(exprs)

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, list[Any]]:
        sqls: list[str] = []
        params: list[Any] = []
        for part in self.parts:
            sql, part_params = compiler.compile(part)
            sqls.append(sql)
            params.extend(part_params)
        left = ", ".join(sqls[: self.width])
        right = ", ".join(sqls[self.width :])
        return f"({left}) {self.operator} ({right})", params


def _cursor_values(cursor: tuple[Any, ...], sort: str, user: Any) -> list[Any]:
    """The cursor's values lined up with the sort's columns (the customer sort needs the
    customer's name, looked up in scope so a foreign customer pk is refused)."""
    if sort != "customer":
        return list(cursor)
    customer_id, created_at, pk = cursor
    name = (
        visible_customers(user=user).filter(pk=customer_id).values_list("display_name", flat=True)
    )
    found = list(name)
    if not found:
        raise InvalidCursor("customer not visible")
    return [found[0], customer_id, created_at, pk]


def _value(value: Any) -> Value:
    if isinstance(value, datetime):
        return Value(value, output_field=DateTimeField())
    if isinstance(value, int):
        return Value(value, output_field=IntegerField())
    return Value(value)


def _beyond(spec: SortSpec, values: list[Any], forward: bool) -> Q | RowCompare:
    """Rows after the cursor in the sort's direction (`forward`) or before it."""
    if spec.uniform:
        # Going forward on a descending sort means smaller values.
        smaller = spec.descending[0] == forward
        return RowCompare(
            [F(column) for column in spec.columns],
            [_value(value) for value in values],
            "<" if smaller else ">",
        )
    # Mixed directions: (c1 beyond v1) or (c1 = v1 and (c2 beyond v2 ...)).
    condition: Q | None = None
    for column, descending, value in reversed(
        list(zip(spec.columns, spec.descending, values, strict=True))
    ):
        lookup = "lt" if descending == forward else "gt"
        beyond = Q(**{f"{column}__{lookup}": value})
        condition = beyond if condition is None else beyond | (Q(**{column: value}) & condition)
    assert condition is not None
    return condition


def _beyond_customer(values: list[Any], forward: bool) -> Q:
    """Rows after (or before) the cursor in "customer, then newest" order.

    Spelled as "name at or beyond the cursor's, and then either another name, a later
    customer of that name, or later in the cursor's own customer" rather than as the
    general nested ORs: PostgreSQL can then start its walk of the customers by name at the
    cursor's customer and seek within it, instead of reading every alert of the customers
    it passes (or, with the name bound stated twice, misjudging how many rows remain and
    sorting them all).
    """
    name, customer_id, created_at, pk = values
    name_bound, other_customer, within = ("gte", "gt", "<") if forward else ("lte", "lt", ">")
    rest_of_customer = Q(customer_id=customer_id) & Q(
        RowCompare([F("created_at"), F("pk")], [_value(created_at), _value(pk)], within)
    )
    return Q(**{f"customer__display_name__{name_bound}": name}) & (
        ~Q(customer__display_name=name)
        | Q(**{f"customer_id__{other_customer}": customer_id})
        | rest_of_customer
    )


def _ordering(spec: SortSpec, forward: bool) -> list[Any]:
    order = []
    for column, descending in zip(spec.columns, spec.descending, strict=True):
        expression = F(column)
        order.append(expression.desc() if descending == forward else expression.asc())
    return order


# --- the filtered alerts ---------------------------------------------------------------------
def filtered_alerts(*, user: Any, query: AlertQuery) -> QuerySet[Alert]:
    """The alerts in scope that match `query`, unordered."""
    # An alert without a creation time cannot be placed in a time-ordered list or a
    # time window; Defender always sends one, so such a row would be a broken record.
    alerts = visible_alerts(user=user).filter(created_at__isnull=False)
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
    if query.assigned_to:
        alerts = alerts.filter(assigned_to__iexact=query.assigned_to)
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


# --- the list --------------------------------------------------------------------------------
# The columns one row of the list shows (and its cursor needs), read as plain tuples: no
# model instances, and never the large `raw` JSON. Keys of `AlertRow`, in this order.
LIST_COLUMNS = (
    "pk", "customer_id", "customer__display_name", "alert_id", "title", "severity",
    "severity_rank", "status", "classification", "category", "assigned_to",
    "computer_dns_name", "related_user", "created_at",
)  # fmt: skip
STATUS_LABELS = {"InProgress": "In progress"}
NO_VALUE = "\u2014"  # an em dash, for an empty cell

# One row of the list, as `list_html.alert_rows_html` prints it: the stored values plus the
# display values worked out once here ("label", "created_iso", ...).
AlertRow = dict[str, Any]


def _list_row(values: tuple[Any, ...]) -> AlertRow:
    row = dict(zip(LIST_COLUMNS, values, strict=True))
    row["customer_name"] = row.pop("customer__display_name")
    created = localtime(row["created_at"])
    row["created_iso"] = created.strftime("%Y-%m-%dT%H:%M:%SZ")
    row["created_display"] = created.strftime("%Y-%m-%d %H:%M")
    row["label"] = row["title"] or row["alert_id"]
    row["status_label"] = STATUS_LABELS.get(row["status"], row["status"])
    row["computer"] = row["computer_dns_name"] or NO_VALUE
    row["assigned"] = row["assigned_to"] or NO_VALUE
    return row


def list_rows(alerts: QuerySet[Alert]) -> list[AlertRow]:
    """The rows of an ordered, sliced alert queryset, ready for `list_html`."""
    return [_list_row(values) for values in alerts.values_list(*LIST_COLUMNS)]


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


def live_watermark(*, user: Any) -> int:
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
    user: Any,
    query: AlertQuery,
    after: str = "",
    before: str = "",
    size: int = PAGE_SIZE,
) -> AlertPage:
    """One page of alerts: the first, the one after cursor `after`, or the one before
    cursor `before`. Raises InvalidCursor for a cursor that does not fit the sort."""
    spec = SORTS[query.sort]
    watermark = live_watermark(user=user)
    alerts = filtered_alerts(user=user, query=query)
    forward = not before
    cursor_text = after or before
    if cursor_text:
        values = _cursor_values(decode_cursor(cursor_text, query.sort), query.sort, user)
        if query.sort == "customer":
            alerts = alerts.filter(_beyond_customer(values, forward))
        else:
            alerts = alerts.filter(_beyond(spec, values, forward))
    rows = list_rows(alerts.order_by(*_ordering(spec, forward))[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    page = AlertPage(alerts=rows, sort=spec, live_since_id=watermark)
    if rows:
        first, last = encode_cursor(rows[0], query.sort), encode_cursor(rows[-1], query.sort)
        if forward:
            page.next_cursor = last if more else None
            page.previous_cursor = first if cursor_text else None
        else:
            page.next_cursor = last
            page.previous_cursor = first if more else None
    return page


# --- counts ----------------------------------------------------------------------------------
@dataclass
class AlertCounts:
    """How many alerts match the filter, by severity and by status."""

    total: int
    by_severity: list[tuple[str, int]]
    by_status: list[tuple[str, int]]


def alert_counts(*, user: Any, query: AlertQuery) -> AlertCounts:
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
    *, user: Any, query: AlertQuery, since_id: int, limit: int = LIVE_LIMIT
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


# --- export ----------------------------------------------------------------------------------
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


def alert_export_rows(*, user: Any, query: AlertQuery) -> Iterator[tuple[Any, ...]]:
    """Every matching alert as a tuple of EXPORT_COLUMNS, read in chunks (a server-side
    cursor on PostgreSQL) so memory does not grow with the number of rows."""
    spec = SORTS[query.sort]
    rows = (
        filtered_alerts(user=user, query=query)
        .order_by(*_ordering(spec, True))
        .values_list(*[column for _, column in EXPORT_COLUMNS])
    )
    return rows.iterator(chunk_size=EXPORT_CHUNK)


# --- charts ----------------------------------------------------------------------------------
CHART_WINDOWS: dict[str, tuple[timedelta, str]] = {
    "24h": (timedelta(hours=24), "hour"),
    "7d": (timedelta(days=7), "day"),
    "30d": (timedelta(days=30), "day"),
}
TOP_N = 10


def _buckets(start: datetime, end: datetime, unit: str) -> list[datetime]:
    step = timedelta(hours=1) if unit == "hour" else timedelta(days=1)
    if unit == "hour":
        moment = start.replace(minute=0, second=0, microsecond=0)
    else:
        moment = start.replace(hour=0, minute=0, second=0, microsecond=0)
    buckets = []
    while moment <= end:
        buckets.append(moment)
        moment += step
    return buckets


def _top_techniques(alerts: QuerySet[Alert], limit: int) -> list[tuple[str, int]]:
    """Most frequent MITRE techniques: the JSON lists are unnested by the database."""
    # `sql` is the ORM's own compiled query with placeholders; no user text is pasted in.
    try:
        sql, params = alerts.values("mitre_techniques").order_by().query.sql_with_params()
    except EmptyResultSet:
        # The filter can match nothing (e.g. only customers outside the scope).
        return []
    if connection.vendor == "postgresql":
        unnest = "jsonb_array_elements_text(s.mitre_techniques::jsonb)"
        statement = (
            f"SELECT t.value, COUNT(*) FROM ({sql}) s CROSS JOIN LATERAL {unnest} AS t(value) "  # noqa: S608
            "GROUP BY t.value ORDER BY COUNT(*) DESC, t.value LIMIT %s"
        )
    else:
        statement = (
            f"SELECT t.value, COUNT(*) FROM ({sql}) s, json_each(s.mitre_techniques) t "  # noqa: S608
            "GROUP BY t.value ORDER BY COUNT(*) DESC, t.value LIMIT %s"
        )
    with connection.cursor() as cursor:
        cursor.execute(statement, [*params, limit])
        return [(str(value), int(n)) for value, n in cursor.fetchall()]


def alert_chart_data(
    *, user: Any, query: AlertQuery, window: str, now: datetime | None = None
) -> dict[str, Any]:
    """The console's charts for the last `window` (24h, 7d, 30d) of the filtered alerts."""
    span, unit = CHART_WINDOWS[window]
    end = now or datetime.now(UTC)
    start = end - span
    windowed = filtered_alerts(user=user, query=replace(query, since=start, until=None))
    trunc = TruncHour if unit == "hour" else TruncDay
    per_bucket = (
        windowed.annotate(bucket=trunc("created_at", tzinfo=UTC))
        .values_list("bucket", "severity")
        .annotate(n=Count("pk"))
        .order_by()
    )
    buckets = _buckets(start, end, unit)
    index = {moment: i for i, moment in enumerate(buckets)}
    series = {severity: [0] * len(buckets) for severity in SEVERITIES}
    for bucket, severity, n in per_bucket:
        position = index.get(bucket.astimezone(UTC))
        if position is not None and severity in series:
            series[severity][position] += n
    open_high = (
        windowed.filter(severity="High", status__in=OPEN_STATUSES)
        .values_list("customer__display_name")
        .annotate(n=Count("pk"))
        .order_by("-n", "customer__display_name")[:TOP_N]
    )
    categories = (
        windowed.exclude(category="")
        .values_list("category")
        .annotate(n=Count("pk"))
        .order_by("-n", "category")[:TOP_N]
    )
    return {
        "window": window,
        "unit": unit,
        "start": _format_time(start),
        "end": _format_time(end),
        "over_time": {
            "labels": [_format_time(moment) for moment in buckets],
            "series": series,
        },
        "open_high_by_customer": [[name, n] for name, n in open_high],
        "top_categories": [[name, n] for name, n in categories],
        "top_techniques": [list(pair) for pair in _top_techniques(windowed, TOP_N)],
    }
