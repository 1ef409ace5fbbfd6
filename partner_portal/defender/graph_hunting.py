"""The answer of Graph's advanced hunting (``POST /security/runHuntingQuery``), typed.

Graph answers ``{"schema": [{"name", "type"}], "results": [{...}]}`` (no paging); the
schema becomes :class:`HuntingColumn` pairs and each result row stays a dictionary of
column name to value, as KQL returns it. Anything else is ``MalformedResponse``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import MalformedResponse

__all__ = ["HuntingColumn", "HuntingResult", "parse_hunting_result"]


@dataclass(frozen=True)
class HuntingColumn:
    """One column of a hunting result: its name and its KQL type (``String``, ...)."""

    name: str
    type: str


@dataclass(frozen=True)
class HuntingResult:
    """The columns and rows of one hunting query."""

    schema: tuple[HuntingColumn, ...]
    results: list[dict[str, Any]]

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.schema)


def _bad(problem: str) -> MalformedResponse:
    return MalformedResponse(None, "MalformedItem", f"hunting result: {problem}")


def parse_hunting_result(body: object) -> HuntingResult:
    """Read a ``runHuntingQuery`` answer (either key case) or raise ``MalformedResponse``."""
    if not isinstance(body, dict):
        raise _bad("the answer is not an object")
    schema = body.get("schema", body.get("Schema"))
    rows = body.get("results", body.get("Results"))
    if not isinstance(schema, list):
        raise _bad("schema is not a list")
    if not isinstance(rows, list):
        raise _bad("results is not a list")
    columns = []
    for index, column in enumerate(schema):
        if not isinstance(column, dict):
            raise _bad(f"schema[{index}] is not an object")
        name = column.get("name", column.get("Name"))
        kind = column.get("type", column.get("Type"))
        if not isinstance(name, str) or not isinstance(kind, str):
            raise _bad(f"schema[{index}] has no text name and type")
        columns.append(HuntingColumn(name, kind))
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise _bad(f"results[{index}] is not an object")
    return HuntingResult(tuple(columns), rows)
