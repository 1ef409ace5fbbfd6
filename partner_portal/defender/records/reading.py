"""Reading typed fields out of one JSON object from Microsoft, naming the first problem.

:class:`FieldReader` is the careful reading every MDE and XDR record parser shares. Each
method takes a field's JSON name and reads it with the value readers the Graph records
use too (:mod:`..fields`, :mod:`..timestamps`), so both families accept the same things
(exactly text, an integer or a string of its digits, an ID as text or as the digits of
an integer, ISO 8601 timestamps converted to UTC) and word a problem the same way. A
problem raises :class:`~partner_portal.defender.errors.MalformedResponse` naming the
object and the field's path in it, ``alert 'da63…': comments[0].createdTime is not an
ISO 8601 timestamp ('soon')``, as :func:`~..fields.malformed` words it for Graph.

Enum fields are read as the Graph ones are (:func:`~..fields.read_member`): found in any
case and stored in Microsoft's spelling; a value outside the vocabulary is kept as sent
and the field's name remembered in :attr:`FieldReader.unknown`: Microsoft adds values to
its enums now and then, and a sync must not stop for that.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, TypeVar

from ..errors import MalformedResponse
from ..fields import (
    Enumeration,
    FieldError,
    malformed,
    object_items,
    read_ident,
    read_int,
    read_member,
    read_strings,
    wrong,
)
from ..timestamps import read_time, usual_utc

__all__ = ["FieldReader"]

T = TypeVar("T")
_OBJECTS_ONLY = frozenset({dict})


def _objects(key: str, value: object) -> list[tuple[str, dict[str, Any]]]:
    return list(object_items(key, value))


class FieldReader:
    """Reads typed fields from one JSON object and collects unknown enum values."""

    def __init__(self, data: Mapping[str, Any], kind: str) -> None:
        self.data = data
        #: What the object is, for people ("alert", "incident").
        self.kind = kind
        self.unknown: list[str] = []
        # An object within another is named from the outer one (see ``each_object``).
        self._outer: Mapping[str, Any] = data
        self._steps: tuple[str, ...] = ()

    def refuse(self, error: FieldError) -> MalformedResponse:
        """The error for a field of this object that cannot be read, in words."""
        error.steps[:0] = self._steps
        return malformed(self.kind, self._outer, error)

    def fail(self, name: str, what: str) -> MalformedResponse:
        """:meth:`refuse` for the field ``name``, with ``what`` is wrong with it."""
        return self.refuse(FieldError(name, what))

    def _read(self, read: Callable[[str, object], T], name: str) -> T:
        try:
            return read(name, self.data.get(name))
        except FieldError as error:
            raise self.refuse(error) from None

    def str_opt(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None or type(value) is str:
            return value
        raise self.refuse(wrong(name, value, "text"))

    def ident(self, name: str) -> str:
        value = self.data.get(name)
        if type(value) is str and value:
            return value
        return self._read(read_ident, name)

    def int_opt(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None or type(value) is int:
            return value
        try:
            return read_int(name, value)
        except FieldError as error:
            raise self.refuse(error) from None

    def time_opt(self, name: str) -> datetime | None:
        value = self.data.get(name)
        if value is None:
            return None
        stamp = usual_utc(value)
        if stamp is not None:
            return stamp
        try:
            return read_time(name, value)
        except FieldError as error:
            raise self.refuse(error) from None

    def enum(self, name: str, vocabulary: Enumeration, *, default: str | None) -> str | None:
        value = self.data.get(name)
        if value is None:
            return default
        if type(value) is str and value in vocabulary.spellings:
            return vocabulary.spellings[value]
        try:
            return read_member(name, vocabulary, value, self.unknown)
        except FieldError as error:
            raise self.refuse(error) from None

    def str_list(self, name: str) -> tuple[str, ...]:
        return self._read(read_strings, name)

    def objects(self, name: str) -> tuple[Mapping[str, Any], ...]:
        value = self.data.get(name)
        if type(value) is list and _OBJECTS_ONLY.issuperset(map(type, value)):
            return tuple(value)
        return tuple(item for _, item in self._read(_objects, name))

    def object(self, name: str) -> FieldReader | None:
        """A reader for the object ``name`` (None if null), whose problems are named
        from this object (``relatedUser.userName``)."""
        value = self.data.get(name)
        if value is None:
            return None
        if type(value) is not dict:
            raise self.refuse(wrong(name, value, "an object"))
        return self._inner(name, value)

    def each_object(self, name: str) -> list[FieldReader]:
        """A reader for each object of the list ``name`` (null: none), likewise
        (``comments[0].createdTime``)."""
        value = self.data.get(name)
        if type(value) is list and _OBJECTS_ONLY.issuperset(map(type, value)):
            return [self._inner(f"{name}[{i}]", item) for i, item in enumerate(value)]
        return [self._inner(step, item) for step, item in self._read(_objects, name)]

    def _inner(self, step: str, data: dict[str, Any]) -> FieldReader:
        inner = FieldReader(data, self.kind)
        inner._outer, inner._steps = self._outer, (*self._steps, step)
        return inner
