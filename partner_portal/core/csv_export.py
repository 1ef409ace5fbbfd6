"""CSV files people open in a spreadsheet: safe cells, written a piece at a time.

A spreadsheet runs a cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage
return) as a formula, so such text is written with a leading apostrophe; times are
written in UTC as ISO 8601, lists joined with semicolons. `csv_lines` yields the file in
pieces of several rows, for a streamed response whose memory does not grow with it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Rows per piece handed to the server: one write per row would cost a system call each.
ROWS_PER_PIECE = 500


class _Echo:
    def write(self, value: str) -> str:
        return value


def csv_cell(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, list):
        value = ";".join(str(item) for item in value)
    elif isinstance(value, dict):
        value = str(value)
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    writer = csv.writer(_Echo())
    piece = [writer.writerow(header)]
    for row in rows:
        piece.append(writer.writerow([csv_cell(value) for value in row]))
        if len(piece) >= ROWS_PER_PIECE:
            yield "".join(piece)
            piece = []
    yield "".join(piece)
