"""Reading typed fields out of one JSON object from Microsoft, naming the first problem.

:class:`FieldReader` is the careful reading every record parser shares: each method
takes a field's JSON name, checks the type Microsoft documents for it, converts it
(timestamps to UTC datetimes, digit strings to integers) and raises
:class:`~partner_portal.defender.errors.MalformedResponse` naming the record kind and
the field when it cannot. Enum fields keep a value outside the known vocabulary as sent
and remember the field's name in :attr:`FieldReader.unknown`: Microsoft adds values to
its enums now and then, and a sync must not stop for that.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ..errors import MalformedResponse
from .timestamps import parse_timestamp

__all__ = ["FieldReader"]


class FieldReader:
    """Reads typed fields from one JSON object and collects unknown enum values."""

    def __init__(self, data: Mapping[str, Any], kind: str) -> None:
        self.data = data
        self.kind = kind
        self.unknown: list[str] = []

    def fail(self, name: str, what: str) -> MalformedResponse:
        return MalformedResponse(None, "MalformedItem", f"{self.kind} field {name!r} {what}")

    def str_opt(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None or isinstance(value, str):
            return value
        raise self.fail(name, "is not a string")

    def str_req(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(name, "is missing or not a non-empty string")
        return value

    def int_opt(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.fail(name, "is not an integer")
        if isinstance(value, int):
            return value
        # Some IDs arrive as strings of digits depending on the API version.
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise self.fail(name, "is not an integer")

    def time_opt(self, name: str) -> datetime | None:
        try:
            return parse_timestamp(self.data.get(name), field_name=f"{self.kind}.{name}")
        except MalformedResponse as exc:
            raise self.fail(name, exc.message.split(" ", 1)[-1]) from None

    def enum(self, name: str, allowed: frozenset[str], *, default: str | None) -> str | None:
        value = self.str_opt(name)
        if value is None:
            return default
        if value not in allowed:
            self.unknown.append(name)
        return value

    def list_of(self, name: str) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(name, "is not a list")
        return value

    def str_list(self, name: str) -> tuple[str, ...]:
        items = self.list_of(name)
        if not all(isinstance(item, str) for item in items):
            raise self.fail(name, "holds a non-string")
        return tuple(items)

    def objects(self, name: str) -> tuple[Mapping[str, Any], ...]:
        items = self.list_of(name)
        if not all(isinstance(item, dict) for item in items):
            raise self.fail(name, "holds a non-object")
        return tuple(items)
