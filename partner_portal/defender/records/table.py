"""Field tables: each field of a record described once, and the two readings made of it.

A record kind (an alert, say) is described by a table of :class:`Field` entries: the
field's JSON name, the record attribute it fills, its :class:`Kind`, and for enums the
vocabulary and what a missing value reads as. Two readings are made from one table:

* :func:`read_carefully` goes down the table field by field with a
  :class:`~.reading.FieldReader`, converts what it can (a digit string for an integer,
  a timestamp with an offset) and names the first problem it meets; the table's order
  decides which problem that is;
* :func:`quick_reader` compiles, once per table, a function that reads a whole object
  of the usual shape in one pass of straight-line code: every value fetched by one
  ``itemgetter``, the texts and numbers checked in bulk, each enum found by its exact
  spelling in line (another casing, or a value that is no member, through
  :func:`~..fields.read_member`, as the careful reading and the Graph readers do), each
  timestamp of the usual shape read by :func:`~..timestamps.usual_utc` (the careful
  reading's first step too). It returns None at anything unusual, and the
  caller then reads the object carefully. Its checks are the careful reading's or
  stricter (a digit string is no integer here), so whatever it accepts, the careful
  reading makes into an equal record.

The quick reading is generated rather than written by hand because a sync reads tens
of thousands of alerts: a loop over the table, or a call per field, costs more than the
reading itself, and a hand-written copy would say every field twice. It is compiled by
:mod:`..generated`, as the Graph readers are, and keeps its source on ``__source__``.

Kinds that are one of a kind (an alert's related user, its comments) bring their own
pair of readings (:attr:`Field.careful`, :attr:`Field.quick`); the quick one receives a
dictionary shared by the objects of one page, to make a recurring value once.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from operator import itemgetter
from typing import Any, cast

from ..fields import Enumeration, read_member
from ..generated import compile_function
from ..timestamps import known_time, usual_utc
from .reading import FieldReader

__all__ = [
    "UNUSUAL",
    "Field",
    "Kind",
    "QuickReader",
    "fields_of",
    "quick_reader",
    "quick_reader_source",
    "read_carefully",
]

#: What a :attr:`Field.quick` reading returns for a value it leaves to the careful one.
UNUSUAL: Any = object()

#: ``(object, shared) -> record or None``: a compiled quick reading.
QuickReader = Callable[[dict[str, Any], dict[Any, Any]], Any]


class Kind(Enum):
    """How a field is read."""

    ID = "non-empty text, or an integer as its digits"
    TEXT = "string or null"
    NUMBER = "integer (or digit string) or null"
    TIME = "ISO 8601 timestamp or null"
    CHOICE = "member of a vocabulary in any case (others kept and flagged) or null"
    TEXT_LIST = "list of strings or null"
    OBJECTS = "list of objects or null"
    CUSTOM = "read by the field's own pair of readings"


@dataclass(frozen=True)
class Field:
    """One field of a record: where it is in the JSON, where it goes in the record."""

    json_name: str
    name: str
    kind: Kind
    #: CHOICE: the documented values, and what a missing value reads as.
    vocabulary: Enumeration | None = None
    default: str | None = None
    #: CUSTOM: the careful reading, and the quick one (returns :data:`UNUSUAL` to hand over).
    careful: Callable[[FieldReader, Field], object] | None = None
    quick: Callable[[Any, dict[Any, Any]], object] | None = None


def fields_of(kind: Kind, *pairs: tuple[str, str]) -> tuple[Field, ...]:
    """Fields of one simple kind from (JSON name, attribute) pairs."""
    return tuple(Field(json_name, name, kind) for json_name, name in pairs)


# ------------------------------------------------------------------ careful reading


# Kinds read by one FieldReader method from the JSON name alone.
_BY_NAME: dict[Kind, Callable[[FieldReader, str], object]] = {
    Kind.ID: FieldReader.ident,
    Kind.TEXT: FieldReader.str_opt,
    Kind.NUMBER: FieldReader.int_opt,
    Kind.TIME: FieldReader.time_opt,
    Kind.TEXT_LIST: FieldReader.str_list,
    Kind.OBJECTS: FieldReader.objects,
}


def _careful_other(r: FieldReader, f: Field) -> object:
    if f.kind is Kind.CHOICE:
        if f.vocabulary is None:
            raise TypeError(f"{f.json_name} needs its vocabulary")
        return r.enum(f.json_name, f.vocabulary, default=f.default)
    if f.careful is None:
        raise TypeError(f"{f.json_name} needs its careful reading")
    return f.careful(r, f)


def read_carefully(table: Sequence[Field], data: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """The record's attributes read field by field, ``unknown_values`` included; raises
    ``MalformedResponse`` naming the first field (in table order) that cannot be read."""
    r = FieldReader(data, kind)
    values: dict[str, Any] = {}
    for f in table:
        read = _BY_NAME.get(f.kind)
        values[f.name] = read(r, f.json_name) if read is not None else _careful_other(r, f)
    values["unknown_values"] = tuple(r.unknown)
    return values


# -------------------------------------------------------------------- quick reading

# What each kind's check looks like, for a field whose value is in local ``{v}``.
_QUICK_TIME = """\
    if {v} is not None:
        {v} = (_known({v}) if type({v}) is str else None) or _usual({v})
        if {v} is None:
            return None
"""
_QUICK_CHOICE = """\
    if {v} is None:
        {v} = {default}
    elif type({v}) is not str:
        return None
    else:
        {v} = {spelled}({v}) or _member({json_name}, {vocabulary}, {v}, unknown)
"""
_QUICK_CHOICE_OR_NONE = """\
    if {v} is not None:
        if type({v}) is not str:
            return None
        {v} = {spelled}({v}) or _member({json_name}, {vocabulary}, {v}, unknown)
"""
_QUICK_LIST = """\
    if {v} is None:
        {v} = ()
    elif type({v}) is not list or not {item_types}.issuperset(map(type, {v})):
        return None
    else:
        {v} = tuple({v})
"""
_QUICK_CUSTOM = """\
    {v} = {reader}({v}, shared)
    if {v} is _UNUSUAL:
        return None
"""


def quick_reader_source(table: Sequence[Field], name: str) -> tuple[str, dict[str, Any]]:
    """The source of the quick reading of ``table`` and the names it needs."""
    names: dict[str, Any] = {
        "_get": itemgetter(*(f.json_name for f in table)),
        "_keys": tuple(f.json_name for f in table),
        "_known": known_time,
        "_usual": usual_utc,
        "_UNUSUAL": UNUSUAL,
        "_member": read_member,
        "_STR_OR_NONE": frozenset({str, type(None)}),
        "_INT_OR_NONE": frozenset({int, type(None)}),
        "_JUST_STR": frozenset({str}),
        "_JUST_DICT": frozenset({dict}),
    }
    local = {f.name: f"f_{f.name}" for f in table}
    every = ", ".join(local[f.name] for f in table)
    lines = [
        f"def {name}(data, shared):",
        "    try:",
        f"        ({every},) = _get(data)",
        "    except KeyError:",
        "        # Microsoft sends every documented field, null or not; one that lacks",
        "        # some reads them as None, as the careful reading does.",
        f"        ({every},) = map(data.get, _keys)",
        "    unknown = []",
    ]
    for kind, types in ((Kind.TEXT, "_STR_OR_NONE"), (Kind.NUMBER, "_INT_OR_NONE")):
        group = [local[f.name] for f in table if f.kind is kind]
        if group:
            values = ", ".join(group)
            lines += [
                f"    if not {types}.issuperset(map(type, ({values},))):",
                "        return None",
            ]
    for position, f in enumerate(table):
        v = local[f.name]
        if f.kind is Kind.ID:
            lines += [f"    if type({v}) is not str or not {v}:", "        return None"]
        elif f.kind is Kind.TIME:
            lines.append(_QUICK_TIME.format(v=v))
        elif f.kind is Kind.CHOICE:
            if f.vocabulary is None:
                raise TypeError(f"{f.json_name} needs its vocabulary")
            # A member's spelling is never empty, so `or` falls through only on a miss.
            names[f"_vocabulary_{position}"] = f.vocabulary
            names[f"_spelled_{position}"] = f.vocabulary.spellings.get
            template = _QUICK_CHOICE if f.default is not None else _QUICK_CHOICE_OR_NONE
            lines.append(
                template.format(
                    v=v,
                    default=repr(f.default),
                    vocabulary=f"_vocabulary_{position}",
                    spelled=f"_spelled_{position}",
                    json_name=repr(f.json_name),
                )
            )
        elif f.kind in (Kind.TEXT_LIST, Kind.OBJECTS):
            types = "_JUST_STR" if f.kind is Kind.TEXT_LIST else "_JUST_DICT"
            lines.append(_QUICK_LIST.format(v=v, item_types=types))
        elif f.kind is Kind.CUSTOM:
            if f.quick is None:
                raise TypeError(f"{f.json_name} needs its quick reading")
            names[f"_read_{position}"] = f.quick
            lines.append(_QUICK_CUSTOM.format(v=v, reader=f"_read_{position}"))
    filled = ", ".join(f"{f.name}={local[f.name]}" for f in table)
    lines += [
        "    record = _new(_Record)",
        f"    record.__dict__.update({filled}, unknown_values=tuple(unknown), raw=data)",
        "    return record",
    ]
    return "\n".join(lines) + "\n", names


def quick_reader(table: Sequence[Field], record: type, name: str) -> QuickReader:
    """Compile the quick reading of ``table`` into records of class ``record``, which
    has an attribute per field plus ``unknown_values`` and ``raw`` (the object read).

    The record is made without its ``__init__``: a frozen dataclass's sets each field
    through ``object.__setattr__``, which costs more than reading the object; filling
    the instance dictionary at once gives the same object, still immutable afterwards.
    """
    source, names = quick_reader_source(table, name)
    names.update(_new=object.__new__, _Record=record)
    origin = f"quick reading of {record.__name__}"
    attributes = [f.name for f in table]
    made = compile_function(source, name, names, origin=origin, identifiers=attributes)
    return cast(QuickReader, made)
