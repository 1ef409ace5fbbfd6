"""How the alert list is ordered and cut into pages: sort orders and keyset cursors.

The list offers a few sort orders (`SORTS`). A page is never found with OFFSET: its link
carries a cursor made of the sort values of the row it starts after (or before), comma
separated and readable, and the next page is "the rows beyond those values", which the
database seeks in an index. Page 1,000 therefore costs what page 1 costs.

A cursor comes from the query string, so it is parsed strictly (`decode_cursor` raises
`InvalidCursor`), and the one sort whose cursor names a customer looks that customer up
in the user's scope (`alert_list`): a cursor never reaches a customer outside it.

The alert list (`alert_list`) and the incident queue (`incident_queue`) share the sort
orders (both tables have the columns they name) and cut their pages with `keyset_slice`;
their live updates and exports order their rows with `_ordering`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from django.db.models import (
    BooleanField,
    DateTimeField,
    Expression,
    F,
    IntegerField,
    Model,
    Q,
    QuerySet,
    Value,
)

from partner_portal.core.bounds import parse_whole_number
from tenants.scoping import visible_customers

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# One row of a list as its selector hands it to the markup (the columns it reads plus the
# display values worked out once).
Row = dict[str, Any]


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


def format_time(value: datetime) -> str:
    """A moment as the console writes it in cursors and chart labels (UTC, microseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def encode_cursor(item: Model | Row, sort: str) -> str:
    """The cursor of `item` (a model instance or a list row) for `sort`: its sort values,
    comma-separated, readable."""
    parts = []
    for attribute, kind in SORTS[sort].cursor_parts:
        value = item[attribute] if isinstance(item, dict) else getattr(item, attribute)
        parts.append(format_time(value) if kind == "time" else str(int(value)))
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


def _value(value: Any) -> Value:
    if isinstance(value, datetime):
        return Value(value, output_field=DateTimeField())
    if isinstance(value, int):
        return Value(value, output_field=IntegerField())
    return Value(value)


def beyond(sort: str, values: list[Any], forward: bool) -> Q | RowCompare:
    """Rows after the cursor in `sort`'s direction (`forward`) or before it; `values` are
    the cursor's lined up with the sort's columns."""
    if sort == "customer":
        return _beyond_customer(values, forward)
    spec = SORTS[sort]
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
        step = Q(**{f"{column}__{lookup}": value})
        condition = step if condition is None else step | (Q(**{column: value}) & condition)
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
    """The ORDER BY of `spec`, walked forward (as listed) or backward (a previous page)."""
    order = []
    for column, descending in zip(spec.columns, spec.descending, strict=True):
        expression = F(column)
        order.append(expression.desc() if descending == forward else expression.asc())
    return order


def cursor_values(cursor: tuple[Any, ...], sort: str, user: User | AnonymousUser) -> list[Any]:
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


@dataclass
class KeysetSlice:
    """One page of rows, with the cursors of its neighbours (None at either end)."""

    rows: list[Row]
    next_cursor: str | None = None
    previous_cursor: str | None = None


def keyset_slice(
    rows: QuerySet[Any],
    *,
    read: Callable[[QuerySet[Any]], list[Row]],
    user: User | AnonymousUser,
    sort: str,
    after: str = "",
    before: str = "",
    size: int,
) -> KeysetSlice:
    """The first page of `rows` in `sort`'s order, the one after cursor `after`, or the
    one before cursor `before`, read by `read` (which turns an ordered, sliced queryset
    into list rows). Raises InvalidCursor for a cursor that does not fit the sort."""
    spec = SORTS[sort]
    forward = not before
    cursor_text = after or before
    if cursor_text:
        values = cursor_values(decode_cursor(cursor_text, sort), sort, user)
        rows = rows.filter(beyond(sort, values, forward))
    found = read(rows.order_by(*_ordering(spec, forward))[: size + 1])
    more = len(found) > size
    found = found[:size]
    if not forward:
        found.reverse()
    page = KeysetSlice(rows=found)
    if found:
        first, last = encode_cursor(found[0], sort), encode_cursor(found[-1], sort)
        if forward:
            page.next_cursor = last if more else None
            page.previous_cursor = first if cursor_text else None
        else:
            page.next_cursor = last
            page.previous_cursor = first if more else None
    return page
