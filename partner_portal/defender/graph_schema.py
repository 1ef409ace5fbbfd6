"""Reading Microsoft Graph JSON objects into frozen dataclasses: checked, typed, one pass.

The Graph records (:mod:`.graph_records`, :mod:`.graph_evidence`) are declared once, as
frozen dataclasses. :func:`reader` turns a declaration into the function that reads one
JSON object into a record: for each field, its JSON name (the field name in camelCase
unless ``graph_field(json=...)`` says otherwise) and how it is read, chosen from the
field's type:

=================================  ======================================================
``str | None``                     text, or null
``str``                            non-empty text (an integer is taken as its digits): IDs
``graph_field(ident=True)``        an optional ID: text, an integer as its digits, or null
``int | None``                     an integer (Int64 may arrive as a string of digits)
``datetime | None``                an ISO 8601 timestamp, as an aware UTC datetime
``tuple[str, ...]``                a list of text; null reads as ``()``
``X | None``, ``tuple[X, ...]``    a declared record class ``X``, or a list of them
``graph_field(vocab=V)``           a member of :class:`~.graph_vocab.Vocabulary` ``V`` in
                                   its canonical spelling (a list of them for a tuple);
                                   a value that is no member is kept as sent and its JSON
                                   name added to the caller's ``unknown`` list
=================================  ======================================================

A record's ``raw`` is the object read, its ``unknown_values`` the names in ``unknown``
(top-level records are read with a list of their own); fields marked
``graph_field(manual=True)`` are the caller's to fill. A field missing from the JSON
reads as null: Microsoft leaves fields out as readily as it sends them null.

Speed: a sync reads a thousand alerts a page, each with a handful of evidence items,
some 130 fields an alert. A loop that interprets a list of fields spends more on the
interpreting than on the reading (for Microsoft's example alert, 440,000 machine
instructions an alert against 245,000 now), so, as :mod:`dataclasses` does for
``__init__`` and cattrs for its converters, each class's reader is written out once as
straight-line Python (:func:`reader_source` shows it) and compiled by
:mod:`.generated`, as the quick reading of an MDE alert is. Its source is made only
from the class declarations (attribute names, JSON names as literals), never from
data. The usual case costs one dictionary lookup and one type test per field; instances
are made with ``object.__new__`` and their ``__dict__`` set in one step, since a frozen
dataclass's ``__init__`` (``object.__setattr__`` per field) costs more than the reading
(the MDE alert's quick reading does the same). Words for a problem are built only when
there is one.

Errors: a wrong type raises :class:`~.fields.FieldError` naming the field; each enclosing
reader adds its own step to the path, so the message reads ``evidence[2].fileDetails.
fileSize is not an integer (found text)``. The public parsers turn it into
:class:`~.errors.MalformedResponse` with :func:`malformed`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field, fields, is_dataclass
from datetime import datetime
from typing import Any, NamedTuple, TypeVar, get_args, get_origin, get_type_hints

from .fields import (
    FieldError,
    read_ident,
    read_int,
    read_member,
    read_members,
    read_records,
    read_strings,
    reject_text,
    wrong,
)
from .generated import compile_function, source_of
from .graph_vocab import Vocabulary
from .timestamps import known_time, read_time, usual_utc

__all__ = ["graph_field", "reader", "reader_source"]

T = TypeVar("T")

_STR, _TIME, _ENUM, _STRS, _INT, _OBJ, _OBJS, _ENUMS, _ID, _OPT_ID = range(10)
_NONE = type(None)
_STRINGS_ONLY = frozenset({str})
_TEXT_OR_NONE = frozenset({str, _NONE})


class Entry(NamedTuple):
    key: str  # the JSON name
    name: str  # the attribute
    kind: int
    extra: Any  # the Vocabulary of an enum, the class of a nested record


def graph_field(
    *,
    json: str | None = None,
    vocab: Vocabulary | None = None,
    ident: bool = False,
    manual: bool = False,
) -> Any:
    """Declare how a record field is read, where its type alone does not say."""
    return field(metadata={"json": json, "vocab": vocab, "ident": ident, "manual": manual})


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


_SIMPLE: dict[object, int] = {
    str | None: _STR,
    int | None: _INT,
    datetime | None: _TIME,
    tuple[str, ...]: _STRS,
    str: _ID,
}


def _entries(cls: type) -> list[Entry]:
    hints = get_type_hints(cls)
    entries = []
    for spec in fields(cls):
        meta = spec.metadata
        if meta.get("manual") or spec.name in ("raw", "unknown_values"):
            continue
        hint, key = hints[spec.name], meta.get("json") or _camel(spec.name)
        args = get_args(hint)
        extra: Any = meta.get("vocab")
        if extra is not None:
            kind = _ENUMS if hint == tuple[str, ...] else _ENUM
        elif meta.get("ident"):
            kind = _OPT_ID
        elif hint in _SIMPLE:
            kind = _SIMPLE[hint]
        elif get_origin(hint) is tuple and len(args) == 2 and args[1] is Ellipsis:
            kind, extra = _OBJS, args[0]
        elif len(args) == 2 and args[1] is _NONE:
            kind, extra = _OBJ, args[0]
        else:
            raise TypeError(f"{cls.__name__}.{spec.name}: no way to read {hint}")
        if kind in (_OBJ, _OBJS) and not (isinstance(extra, type) and is_dataclass(extra)):
            raise TypeError(f"{cls.__name__}.{spec.name}: {extra} is not a record class")
        entries.append(Entry(key, spec.name, kind, extra))
    return entries


Reader = Callable[[dict[str, Any], list[str]], Any]
_READERS: dict[type, Reader] = {}


def reader(cls: type[T]) -> Callable[[dict[str, Any], list[str]], T]:
    """The function reading one JSON object (a dict) into a new ``cls`` record.

    It fills the fields the declaration lets it read, appends the JSON names of unknown
    enum values to its second argument and raises :class:`FieldError` for data of
    the wrong shape. Made on first use, then reused.
    """
    made = _READERS.get(cls)
    if made is None:
        source, namespace = _source(cls)
        origin = f"Graph reader of {cls.__qualname__}"
        made = _READERS[cls] = compile_function(source, "read", namespace, origin=origin)
    return made


def reader_source(cls: type) -> str:
    """The Python source of :func:`reader` for ``cls``, for reading and for tests."""
    return source_of(reader(cls))


def _source(cls: type) -> tuple[str, dict[str, Any]]:
    namespace: dict[str, Any] = {
        "CLS": cls,
        "FieldError": FieldError,
        "TEXT_OR_NONE": _TEXT_OR_NONE,
        "TEXT_ONLY": _STRINGS_ONLY,
        "known_time": known_time,
        "usual_utc": usual_utc,
        "new": object.__new__,
        "set_dict": object.__setattr__,
        "wrong": wrong,
        "reject_text": reject_text,
        "read_time": read_time,
        "read_strings": read_strings,
        "as_int": read_int,
        "as_ident": read_ident,
        "as_member": read_member,
        "members": read_members,
        "records": read_records,
    }
    head = ["def read(data, unknown):", "    get = data.get"]
    body: list[str] = []
    texts: list[str] = []
    made: list[str] = []
    for i, (key, name, kind, extra) in enumerate(_entries(cls)):
        v, k = f"v{i}", repr(key)
        made.append(f"{name!r}: {v}")
        namespace[f"X{i}"] = extra
        if kind == _STR:
            head.append(f"    {v} = get({k})")
            texts.append(v)
        elif kind == _INT:
            body += [
                f"    {v} = get({k})",
                f"    if {v} is not None and type({v}) is not int:",
                f"        {v} = as_int({k}, {v})",
            ]
        elif kind == _TIME:  # a datetime is never false, so `or` falls through on a miss
            body += [
                f"    {v} = get({k})",
                f"    if {v} is not None:",
                f"        {v} = (known_time({v}) if type({v}) is str else None) "
                f"or usual_utc({v}) or read_time({k}, {v})",
            ]
        elif kind == _ENUM:  # a member's spelling is never empty
            namespace[f"S{i}"] = extra.spellings.get
            body += [
                f"    {v} = get({k})",
                f"    if {v} is not None:",
                f"        {v} = (S{i}({v}) if type({v}) is str else None) "
                f"or as_member({k}, X{i}, {v}, unknown)",
            ]
        elif kind == _STRS:
            body += [
                f"    {v} = get({k})",
                f"    {v} = tuple({v}) if type({v}) is list and "
                f"TEXT_ONLY.issuperset(map(type, {v})) else read_strings({k}, {v})",
            ]
        elif kind == _ENUMS:  # usually an empty list
            body += [
                f"    {v} = get({k})",
                f"    {v} = () if type({v}) is list and not {v} "
                f"else members({k}, X{i}, {v}, unknown)",
            ]
        elif kind == _ID:  # as_ident names a missing one
            body += [
                f"    {v} = get({k})",
                f"    if type({v}) is not str or not {v}:",
                f"        {v} = as_ident({k}, {v})",
            ]
        elif kind == _OPT_ID:
            body += [
                f"    {v} = get({k})",
                f"    if {v} is not None and type({v}) is not str:",
                f"        {v} = as_ident({k}, {v})",
            ]
        elif kind == _OBJS:
            namespace[f"R{i}"] = reader(extra)
            body.append(f"    {v} = records({k}, R{i}, get({k}), unknown)")
        else:  # _OBJ; the unknown values of a nested record are named "key.name"
            namespace[f"R{i}"] = reader(extra)
            body += [
                f"    {v} = get({k})",
                f"    if {v} is not None:",
                f"        if type({v}) is not dict:",
                f"            raise wrong({k}, {v}, 'an object')",
                "        mark = len(unknown)",
                "        try:",
                f"            {v} = R{i}({v}, unknown)",
                "        except FieldError as exc:",
                f"            exc.steps.insert(0, {k})",
                "            raise",
                "        if len(unknown) > mark:",
                f"            unknown[mark:] = [{key + '.'!r} + n for n in unknown[mark:]]",
            ]
    if texts:
        values = ", ".join(texts) + ","
        keys = tuple(e.key for e in _entries(cls) if e.kind == _STR)
        head += [
            f"    if not TEXT_OR_NONE.issuperset(map(type, ({values}))):",
            f"        reject_text({keys!r}, ({values}))",
        ]
    names = {spec.name for spec in fields(cls)}
    if "unknown_values" in names:  # top-level records get a list of their own
        made.append("'unknown_values': tuple(unknown)")
    if "raw" in names:
        made.append("'raw': data")
    tail = ["    record = new(CLS)", f"    set_dict(record, '__dict__', {{{', '.join(made)}}})"]
    return "\n".join([*head, *body, *tail, "    return record", ""]), namespace
