"""Reading single values of Microsoft Graph JSON, and saying in words what is wrong.

The readers :mod:`.graph_schema` writes for each record class call these for everything
beyond the plain case: timestamps, integers that arrive as text, IDs, enum members, lists.
Each either returns the value in its Python form or raises :class:`GraphFieldError`
naming the field and, in words, what is wrong with it (``is not an integer (found
text)``); :func:`malformed` turns that into the
:class:`~partner_portal.defender.errors.MalformedResponse` the public parsers raise.

Timestamps: Graph's ``DateTimeOffset`` is ``2021-04-27T12:19:27.7211305Z``, up to seven
fraction digits and always UTC. That shape goes straight to ``datetime.fromisoformat``
(which reads it in Python 3.11, cutting the seventh digit: microseconds); anything else
(an offset, no zone, twelve digits) is read by a strict pattern and converted to UTC.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from .errors import MalformedResponse
from .graph_vocab import Vocabulary

__all__ = [
    "GraphFieldError",
    "known_time",
    "malformed",
    "object_items",
    "read_ident",
    "read_int",
    "read_member",
    "read_members",
    "read_records",
    "read_strings",
    "read_time",
    "reject_text",
    "wrong",
]

_STRINGS_ONLY = frozenset({str})
_from_iso = datetime.fromisoformat


class GraphFieldError(Exception):
    """A field of a Graph object has the wrong type or is missing; ``path`` locates it."""

    def __init__(self, step: str, problem: str) -> None:
        super().__init__(step, problem)
        self.steps = [step]
        self.problem = problem

    @property
    def path(self) -> str:
        return "".join(s if s.startswith("[") else f".{s}" for s in self.steps).lstrip(".")


def _found(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, str):
        return "text"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def wrong(step: str, value: object, expected: str) -> GraphFieldError:
    return GraphFieldError(step, f"is not {expected} (found {_found(value)})")


def malformed(
    what: str, data: object, error: GraphFieldError, *, index: int | None = None
) -> MalformedResponse:
    """The typed error for a Graph object that cannot be read, in words: which object
    (its ``id`` if it has a usable one, its place on the page) and which field."""
    ident = data.get("id") if isinstance(data, dict) else None
    named = f"{what} {ident!r}" if isinstance(ident, str | int) and ident != "" else what
    if index is not None:
        named += f" (item {index} of the page)"
    if error.path:
        return MalformedResponse(None, "MalformedItem", f"{named}: {error.path} {error.problem}")
    return MalformedResponse(None, "MalformedItem", f"{named} {error.problem}")


def reject_text(keys: tuple[str, ...], values: tuple[Any, ...]) -> None:
    for key, value in zip(keys, values, strict=True):
        if value is not None and type(value) is not str:
            raise wrong(key, value, "text")


def read_member(key: str, vocab: Vocabulary, value: object, unknown: list[str]) -> str:
    if type(value) is not str:
        raise wrong(key, value, "text")
    member = vocab.canonical(value)
    if member is None:
        unknown.append(key)
        return value
    return member


def object_items(key: str, value: object) -> Iterator[tuple[str, dict[str, Any]]]:
    """Each object of the list ``value`` (``None``: none) with its place (``key[i]``),
    checked as it comes: ``value`` must be a list and the item an object."""
    if value is None:
        return
    if type(value) is not list:
        raise wrong(key, value, "a list")
    for index, item in enumerate(value):
        step = f"{key}[{index}]"
        if type(item) is not dict:
            raise wrong(step, item, "an object")
        yield step, item


def read_records(
    key: str, read: Callable[[dict[str, Any], list[str]], Any], value: object, unknown: list[str]
) -> tuple[Any, ...]:
    records = []
    for step, item in object_items(key, value):
        mark = len(unknown)
        try:
            records.append(read(item, unknown))
        except GraphFieldError as exc:
            exc.steps.insert(0, step)
            raise
        if len(unknown) > mark:
            unknown[mark:] = [f"{step}.{name}" for name in unknown[mark:]]
    return tuple(records)


def read_strings(key: str, value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if type(value) is not list or not _STRINGS_ONLY.issuperset(map(type, value)):
        raise wrong(key, value, "a list of text")
    return tuple(value)


def read_members(key: str, vocab: Vocabulary, value: object, unknown: list[str]) -> tuple[str, ...]:
    values = read_strings(key, value)
    members = tuple(map(vocab.spellings.get, values))
    if None not in members:
        return members  # type: ignore[return-value]  # no None in it, as just checked
    members = tuple(map(vocab.canonical, values))
    if None in members:
        unknown.append(key)
    return tuple([m or v for m, v in zip(members, values, strict=True)])


def read_int(key: str, value: object) -> int:
    if type(value) is int:
        return value
    # Int64 may be sent as a string of digits (OData's IEEE754Compatible form).
    if type(value) is str and value.removeprefix("-").isdigit() and value.isascii():
        return int(value)
    raise wrong(key, value, "an integer")


def read_ident(key: str, value: object) -> str:
    if type(value) is str and value:
        return value
    if type(value) is int:
        return str(value)
    if value is None or value == "":
        raise GraphFieldError(key, "is missing" if value is None else "is empty")
    raise wrong(key, value, "an identifier")


_TS = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,12}))?(Z|z|[+-]\d{2}:\d{2})?"
)


# Timestamps recur (an alert's evidence shares its creation time); datetimes are
# immutable, so one made once is handed out again. Bounded: emptied when full.
_TIMES: dict[str, datetime] = {}
_TIMES_MAX = 4096
#: The datetime already made for a timestamp text, if any.
known_time = _TIMES.get


def read_time(key: str, value: object) -> datetime:
    """Graph's ``DateTimeOffset``: ``2021-04-27T12:19:27.7211305Z`` (up to 7 fraction
    digits, always UTC), as an aware UTC datetime (microseconds: the 7th digit is cut)."""
    # The shape Graph sends goes straight to fromisoformat, which reads it in 3.11.
    if (
        type(value) is str
        and len(value) >= 20
        and value[-1] == "Z"
        and value[10] == "T"
        and value[4] == "-"
        and value[7] == "-"
        and value[19] in ".Z"
    ):
        try:
            stamp = _from_iso(value)
        except ValueError:
            pass
        else:
            if len(_TIMES) >= _TIMES_MAX:
                _TIMES.clear()
            _TIMES[value] = stamp
            return stamp
    if type(value) is not str:
        raise wrong(key, value, "a timestamp")
    match = _TS.fullmatch(value.strip())
    if match is None:
        raise GraphFieldError(key, f"is not an ISO 8601 timestamp ({value[:40]!r})")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz = UTC  # no zone: Microsoft's APIs only speak UTC
    if zone and zone not in "Zz":
        offset = timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6]))
        tz = timezone(offset if zone[0] == "+" else -offset)
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        stamp = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
        )
    except ValueError:
        raise GraphFieldError(key, f"is not a real date and time ({value[:40]!r})") from None
    return stamp.astimezone(UTC)
