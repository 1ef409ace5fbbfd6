"""Reading single values of Microsoft's JSON, and saying in words what is wrong with one.

Both record families read through these: the Graph readers :mod:`.graph_schema` writes
call them for everything beyond the plain case (integers that arrive as text, IDs, enum
members, lists of text or of objects), and the careful reading of an MDE alert or XDR
incident (:mod:`.records.reading`) is made of them. Each either returns the value in
its Python form or raises :class:`FieldError` naming the field and, in words, what is
wrong with it (``is not an integer (found text)``); an enclosing reader adds its own step
to the path (``evidence[2].fileDetails.fileSize``). :func:`malformed` turns that into the
:class:`~partner_portal.defender.errors.MalformedResponse` the public parsers raise,
naming the object (``Graph alert 'da63…': …``). Timestamps have a module of their own,
:mod:`.timestamps`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .errors import MalformedResponse

__all__ = [
    "Enumeration",
    "FieldError",
    "malformed",
    "object_items",
    "read_ident",
    "read_int",
    "read_member",
    "read_members",
    "read_records",
    "read_strings",
    "reject_text",
    "wrong",
]

_STRINGS_ONLY = frozenset({str})


class FieldError(Exception):
    """A field of an object Microsoft sent has the wrong type or is missing; ``path``
    locates it within the object, ``problem`` says what is wrong in words."""

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


def wrong(step: str, value: object, expected: str) -> FieldError:
    return FieldError(step, f"is not {expected} (found {_found(value)})")


def malformed(
    what: str, data: object, error: FieldError, *, index: int | None = None
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


class Enumeration:
    """An enumeration Microsoft documents: its members in canonical spelling, found in
    any case (``"TruePositive"``, ``"truePositive"`` and ``"TRUEPOSITIVE"`` are one value).

    Microsoft adds members now and then, so a value that is no member is never a
    failure: :func:`read_member` keeps it exactly as sent and names the field among the
    record's unknown values. The Graph vocabularies (:mod:`.graph_vocab`) are
    enumerations with labels; the MDE and XDR ones (:mod:`.records.vocabularies`) give
    theirs with ``enumeration()``.
    """

    __slots__ = ("members", "name", "spellings")

    def __init__(self, name: str, members: Iterable[str]) -> None:
        self.name = name
        self.members: tuple[str, ...] = tuple(members)
        #: Spellings found in one lookup (each member as written, and in lower case)
        #: -> the member; any other casing is found through its lower-case form.
        self.spellings: dict[str, str] = {m: m for m in self.members}
        self.spellings.update({m.lower(): m for m in self.members})
        if len({m.lower() for m in self.members}) != len(self.members):
            raise ValueError(f"{name}: two members differ only in case")

    def canonical(self, value: str) -> str | None:
        """The member ``value`` names, in its canonical spelling; None if it names none."""
        found = self.spellings.get(value)
        if found is None:
            found = self.spellings.get(value.lower())
        return found

    def __contains__(self, value: object) -> bool:
        return isinstance(value, str) and self.canonical(value) is not None

    def __iter__(self) -> Iterator[str]:
        return iter(self.members)

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {len(self.members)} members)"


def read_member(key: str, vocab: Enumeration, value: object, unknown: list[str]) -> str:
    """A member in its canonical spelling; a value that is none is kept as sent and
    ``key`` appended to ``unknown``."""
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
        except FieldError as exc:
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


def read_members(
    key: str, vocab: Enumeration, value: object, unknown: list[str]
) -> tuple[str, ...]:
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
        raise FieldError(key, "is missing" if value is None else "is empty")
    raise wrong(key, value, "an identifier")
