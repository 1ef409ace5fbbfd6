"""Small pieces of :mod:`.graph`: request bodies, ``$filter`` quoting, links and the
comment-list answer (``{"value": [...]}`` in Microsoft's docs, a bare array as
Microsoft's SDK reads it: both are accepted)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from .client import ClientStats
from .errors import MalformedResponse
from .fields import FieldError, malformed
from .graph_records import GraphComment, _comments
from .graph_vocab import Vocabulary

__all__ = [
    "SETTABLE_ALERT_STATUSES",
    "SETTABLE_INCIDENT_STATUSES",
    "GraphClientStats",
    "changes",
    "enum_value",
    "parse_comments",
    "quoted",
    "without_expand",
]

#: The statuses a client may set (the others are Microsoft's to give).
SETTABLE_ALERT_STATUSES = ("new", "inProgress", "resolved")
SETTABLE_INCIDENT_STATUSES = ("active", "inProgress", "resolved")


def quoted(value: str) -> str:
    """A text literal for ``$filter`` (OData doubles a quote inside one)."""
    return "'" + value.replace("'", "''") + "'"


def without_expand(url: str) -> str:
    """``url`` without its ``$expand`` option; the rest (an opaque skip token) is kept
    exactly as Microsoft wrote it."""
    parts = urlsplit(url)
    kept = [p for p in parts.query.split("&") if unquote(p.partition("=")[0]) != "$expand"]
    return urlunsplit(parts._replace(query="&".join(kept)))


def parse_comments(body: Any) -> tuple[GraphComment, ...]:
    # The docs answer {"value": [...]}; Microsoft's SDK reads a bare array.
    items = body.get("value") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise MalformedResponse(None, "MalformedItem", "comments answer is not a list")
    try:
        return _comments("comments", items)
    except FieldError as exc:
        raise malformed("Graph comment list", body, exc) from None


def enum_value(vocab: Vocabulary, value: str | None, allowed: Sequence[str] = ()) -> str | None:
    if value is None:
        return None
    member = vocab.canonical(value)
    if member is None or (allowed and member not in allowed):
        raise ValueError(f"unknown {vocab.name} {value!r}")
    return member


def changes(**values: Any) -> dict[str, Any]:
    body = {name: value for name, value in values.items() if value is not None}
    if not body:
        raise ValueError("nothing to update")
    return body


@dataclasses.dataclass
class GraphClientStats(ClientStats):
    """The base counters, plus how often a listing had to work around Graph."""

    #: Alert listings started again from the last timestamp seen.
    filter_restarts: int = 0
    #: Incident pages read without ``$expand=alerts`` after it kept failing.
    expand_fallbacks: int = 0
