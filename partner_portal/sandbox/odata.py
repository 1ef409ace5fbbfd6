"""OData as the Defender APIs speak it: query options, ``$filter`` compiled to a
predicate, pages and their ``@odata.nextLink``, and the ``{"@odata.context", "value"}``
envelope written from pre-serialised items; :class:`Listing` puts them together for a
collection's ``GET``.

``$filter`` grammar: comparisons ``property op literal`` with eq, ne, gt, ge, lt, le, combined with
``and``, ``or``, ``not`` and parentheses. Literals are single-quoted strings (``''``
escapes a quote), integers, ``null``, ``true``/``false`` and date-times, unquoted
(``2024-01-01T00:00:00Z``) or quoted. Anything else is an error, as it is at Microsoft.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from .model import dumps, parse_datetime
from .web import Request, Response

Predicate = Callable[[Any], bool]


class ODataError(ValueError):
    """The query cannot be understood; the API answers 400 ODataError."""


@dataclass(frozen=True)
class Field:
    """A filterable property: its type, how to read it, and allowed enum values;
    ``check``, when given, sees every string literal compared with it and raises
    :class:`ODataError` for one the caller may not use."""

    kind: str  # "datetime", "int", "string" or "enum"
    get: Callable[[Any], Any]
    values: frozenset[str] = frozenset()
    check: Callable[[str], None] | None = None


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<lparen>\()
      | (?P<rparen>\))
      | (?P<string>'(?:[^']|'')*')
      | (?P<datetime>\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)?)
      | (?P<number>-?\d+)
      | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    )""",
    re.VERBOSE,
)
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise ODataError(f"Syntax error at position {pos} in '{text}'.")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        pos = match.end()
    return tokens


def _compare(op: str, value: Any, literal: Any) -> bool:
    if op == "eq":
        return bool(value == literal)
    if op == "ne":
        return bool(value != literal)
    if value is None or literal is None:
        return False
    if op == "gt":
        return bool(value > literal)
    if op == "ge":
        return bool(value >= literal)
    if op == "lt":
        return bool(value < literal)
    return bool(value <= literal)


class _Parser:
    def __init__(self, text: str, fields: dict[str, Field]) -> None:
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = fields

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ODataError(f"Unexpected end of the filter expression '{self.text}'.")
        self.pos += 1
        return token

    def keyword(self, *words: str) -> str | None:
        token = self.peek()
        if token and token[0] == "word" and token[1].lower() in words:
            self.pos += 1
            return token[1].lower()
        return None

    def parse(self) -> Predicate:
        predicate = self.parse_or()
        if self.peek() is not None:
            raise ODataError(f"Syntax error: unexpected '{self.take()[1]}' in '{self.text}'.")
        return predicate

    def parse_or(self) -> Predicate:
        return self.joined("or", self.parse_and, any)

    def parse_and(self) -> Predicate:
        return self.joined("and", self.parse_unary, all)

    def joined(
        self,
        word: str,
        parse_part: Callable[[], Predicate],
        combine: Callable[[Iterable[bool]], bool],
    ) -> Predicate:
        """One or more parts joined by ``word``; several hold as ``combine`` of theirs."""
        parts = [parse_part()]
        while self.keyword(word):
            parts.append(parse_part())
        if len(parts) == 1:
            return parts[0]
        return lambda item: combine(p(item) for p in parts)

    def parse_unary(self) -> Predicate:
        if self.keyword("not"):
            inner = self.parse_unary()
            return lambda item: not inner(item)
        token = self.peek()
        if token and token[0] == "lparen":
            self.take()
            inner = self.parse_or()
            if self.take()[0] != "rparen":
                raise ODataError(f"Syntax error: ')' expected in '{self.text}'.")
            return inner
        return self.parse_comparison()

    def parse_comparison(self) -> Predicate:
        kind, name = self.take()
        if kind != "word":
            raise ODataError(f"Syntax error: a property name was expected, not '{name}'.")
        field = self.fields.get(name)
        if field is None:
            raise ODataError(f"Could not find a property named '{name}' on this entity type.")
        op = self.keyword(*_COMPARISONS)
        if op is None:
            found = self.peek()
            raise ODataError(
                f"Syntax error: a comparison operator was expected after '{name}', "
                f"not '{found[1] if found else 'the end'}'."
            )
        literal = self.literal(name, field)
        get = field.get
        return lambda item: _compare(op, get(item), literal)

    def literal(self, name: str, field: Field) -> Any:
        kind, text = self.take()
        if kind == "word" and text.lower() == "null":
            return None
        if field.kind == "datetime":
            raw = text[1:-1].replace("''", "'") if kind == "string" else text
            if kind not in {"string", "datetime"}:
                raise ODataError(f"The value '{text}' is not a valid DateTimeOffset for '{name}'.")
            try:
                return parse_datetime(raw)
            except ValueError:
                raise ODataError(
                    f"The value '{raw}' is not a valid DateTimeOffset for '{name}'."
                ) from None
        if field.kind == "int":
            if kind != "number":
                raise ODataError(f"The value '{text}' is not a valid Int64 for '{name}'.")
            return int(text)
        if kind != "string":
            raise ODataError(f"A string literal in single quotes was expected for '{name}'.")
        value = text[1:-1].replace("''", "'")
        if field.kind == "enum" and value not in field.values:
            raise ODataError(f"The string '{value}' is not a valid enumeration value for '{name}'.")
        if field.check is not None:
            field.check(value)
        return value


def compile_filter(text: str, fields: dict[str, Field]) -> Predicate:
    """Compile ``$filter`` text; raises ODataError when it is not understood."""
    if not text.strip():
        raise ODataError("The $filter query option is empty.")
    return _Parser(text, fields).parse()


def parse_int_option(name: str, raw: str | None, maximum: int | None = None) -> int | None:
    """Parse ``$top``/``$skip``: a non-negative integer, optionally capped."""
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isdigit():
        raise ODataError(f"Invalid value '{raw}' for the {name} query option.")
    value = int(raw)
    if maximum is not None and value > maximum:
        raise ODataError(
            f"The limit of '{maximum}' for {name} query has been exceeded. "
            f"The value from the incoming request is '{value}'."
        )
    return value


def select_page(
    items: Sequence[Any], predicate: Predicate | None, skip: int, limit: int
) -> tuple[list[Any], bool]:
    """Items ``skip`` .. ``skip + limit`` of those matching; and whether more follow."""
    if predicate is None:
        page = list(items[skip : skip + limit])
        return page, skip + limit < len(items)
    page = []
    matched = 0
    for item in items:
        if not predicate(item):
            continue
        if matched >= skip:
            if len(page) == limit:
                return page, True
            page.append(item)
        matched += 1
    return page, False


# ---- query options and paging ---------------------------------------------------------


def query_options(request: Request, allowed: set[str]) -> dict[str, str]:
    """The request's ``$`` options by lower-case name; another ``$`` option is an error."""
    options: dict[str, str] = {}
    for name, values in request.query.items():
        if not name.startswith("$"):
            continue
        if name.lower() not in allowed:
            raise ODataError(f"The query parameter '{name}' is not supported.")
        options[name.lower()] = values[0]
    return options


def next_link(origin: str, request: Request, skip: int) -> str:
    """The absolute link to the next page: the same query with ``$skip`` moved on."""
    pairs = [(k, v) for k, v in parse_qsl(request.raw_query, keep_blank_values=True)]
    pairs = [(k, v) for k, v in pairs if k.lower() != "$skip"]
    pairs.append(("$skip", str(skip)))
    query = urlencode(pairs, quote_via=quote, safe="$'(),:")
    return f"{origin}{request.path}?{query}"


def envelope(context: str, chunks: list[bytes], link: str | None) -> tuple[bytes, bytes]:
    """The page body around serialised items, and the shorter but valid body a
    truncated answer sends (half the items, same link)."""

    def build(items: list[bytes]) -> bytes:
        head = b'{"@odata.context":' + dumps(context)
        tail = b',"@odata.nextLink":' + dumps(link) if link else b""
        return head + b',"value":[' + b",".join(items) + b"]" + tail + b"}"

    return build(chunks), build(chunks[: len(chunks) // 2])


@dataclass(frozen=True)
class Listing:
    """A collection's ``GET`` as its query asks: the items ``$filter`` keeps, from
    ``$skip`` on, ``$top`` of them, else a server page followed by a next link."""

    predicate: Predicate | None
    top: int | None
    skip: int
    limit: int

    @classmethod
    def read(
        cls, options: dict[str, str], fields: dict[str, Field], *, max_top: int, page_size: int
    ) -> Listing:
        """The listing of ``query_options``; ODataError when it is not understood."""
        predicate = compile_filter(options["$filter"], fields) if "$filter" in options else None
        top = parse_int_option("$top", options.get("$top"), max_top)
        skip = parse_int_option("$skip", options.get("$skip")) or 0
        return cls(predicate, top, skip, top if top is not None else page_size)

    def page(self, items: Sequence[Any]) -> tuple[list[Any], bool]:
        """This listing's items of ``items``, and whether more follow."""
        return select_page(items, self.predicate, self.skip, self.limit)

    def response(
        self, origin: str, request: Request, entity_set: str, chunks: list[bytes], more: bool
    ) -> Response:
        """The page of serialised ``chunks``, with a next link when the server chose the
        page size and ``more`` follow."""
        link = (
            next_link(origin, request, self.skip + self.limit)
            if self.top is None and more
            else None
        )
        body, short = envelope(f"{origin}/api/$metadata#{entity_set}", chunks, link)
        return Response(200, body, truncated_body=short)
