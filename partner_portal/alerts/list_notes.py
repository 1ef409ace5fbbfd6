"""Notes that apps above this one add to the rows of the alert list.

The list belongs to the alerts app, but an app above it may know something about each
row worth a glance in the queue: the notifications app knows each open alert's SLA
timer. This app may not import it, so the list asks the registered sources. A source
takes the page's rows (the list's own values, already cut to the reader's scope) and
returns a note per row it has something to say about, keyed by the alert's pk. It is
called once per page, so it should read what it needs for all the rows at once (one
query per page, not per row). Sources are kept by name; registering again replaces.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from partner_portal.alerts.reads.keyset import Row


@dataclass(frozen=True)
class RowNote:
    """A short line under a row's status: its text, a CSS class and data attributes."""

    text: str
    css_class: str = ""
    data: Mapping[str, str] = field(default_factory=dict)


NoteSource = Callable[[Sequence[Row]], Mapping[int, RowNote]]

_sources: dict[str, NoteSource] = {}


def register_row_notes(name: str, source: NoteSource) -> None:
    _sources[name] = source


def unregister_row_notes(name: str) -> None:
    _sources.pop(name, None)


def notes_for(rows: Sequence[Row]) -> dict[int, list[RowNote]]:
    """Each row's notes, by alert pk, in the order the sources were registered."""
    notes: defaultdict[int, list[RowNote]] = defaultdict(list)
    if not rows:
        return notes
    for source in list(_sources.values()):
        for pk, note in source(rows).items():
            notes[pk].append(note)
    return notes
