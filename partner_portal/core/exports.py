"""Exports as files: rows streamed out as CSV or JSON while they are read.

The alert list, the incident queue and a hunt's answers are exported through
`export_response`; the rows come from a read that goes through the user's scope. A cell
a spreadsheet would run as a formula is defused, times are written in UTC, lists joined
with semicolons; the file is handed out in pieces of several rows, so memory does not
grow with it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse, StreamingHttpResponse


class _Echo:
    """A file-like object whose write() hands the line back, for csv.writer."""

    def write(self, value: str) -> str:
        return value


# A spreadsheet would run a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, list):
        value = ";".join(str(item) for item in value)
    elif isinstance(value, dict):
        value = str(value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


# Rows per piece handed to the server: one write per row would cost a system call each.
ROWS_PER_PIECE = 500


def _csv_lines(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    piece = [writer.writerow(list(names))]
    for row in rows:
        piece.append(writer.writerow([_csv_cell(value) for value in row]))
        if len(piece) >= ROWS_PER_PIECE:
            yield "".join(piece)
            piece = []
    yield "".join(piece)


def _json_chunks(names: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    encoder = DjangoJSONEncoder()
    piece = ["["]
    separator = "\n"
    for row in rows:
        piece.append(separator + encoder.encode(dict(zip(names, row, strict=True))))
        separator = ",\n"
        if len(piece) >= ROWS_PER_PIECE:
            yield "".join(piece)
            piece = []
    piece.append("\n]\n")
    yield "".join(piece)


def export_response(
    rows: Iterable[Sequence[Any]], *, names: Sequence[str], kind: str, basename: str
) -> HttpResponse:
    """`rows` (tuples lined up with `names`) as a streamed `kind` ("csv" or "json")
    download named `{basename}-{UTC time}.{kind}`."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    if kind == "csv":
        response = StreamingHttpResponse(
            _csv_lines(names, rows), content_type="text/csv; charset=utf-8"
        )
    else:
        response = StreamingHttpResponse(_json_chunks(names, rows), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{basename}-{stamp}.{kind}"'
    response["Cache-Control"] = "no-store"
    # The access decorators are typed for HttpResponse; Django serves a streamed response
    # through the same path.
    return cast(HttpResponse, response)
