"""Saving what Graph callers changed: ``STATE_DIR/graph-state.json``.

The Graph data of a tenant is regenerated from the seed on every start
(``graph_data.py``); the changes made through the Graph API to the other products'
alerts (status, classification, determination, assignee, comments) and to incidents
(status, classification, determination, assignee, tags, comments) are written here at
once after each change and laid over the regenerated data when a tenant is first used.
Endpoint alert changes are MDE changes and are saved in ``state.json``.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .persistence import atomic_write, private_dir

if TYPE_CHECKING:
    from .graph_data import GraphTenant

GRAPH_STATE_FILE = "graph-state.json"
EXTRA_FIELDS = (
    "status",
    "classification",
    "determination",
    "assignedTo",
    "comments",
    "resolvedDateTime",
    "lastUpdateDateTime",
)


def read(state_dir: Path | None) -> dict[str, Any]:
    if state_dir is None:
        return {}
    path = state_dir / GRAPH_STATE_FILE
    if not path.exists():
        return {}
    saved = json.loads(path.read_text(encoding="utf-8"))
    return saved if isinstance(saved, dict) else {}


def snapshot(graph: GraphTenant) -> dict[str, Any]:
    """A tenant's changes (call under ``graph.lock``)."""
    return {
        "extras": {
            e.data["id"]: {"updated": e.updated, **{k: e.data[k] for k in EXTRA_FIELDS}}
            for e in graph.extras
            if e.updated != e.created
        },
        "incidents": {
            str(iid): dataclasses.asdict(state)
            for iid, state in graph.incidents.items()
            if state.updated
        },
    }


def apply(graph: GraphTenant, saved: dict[str, Any]) -> None:
    """Lay a tenant's saved changes over its regenerated Graph data."""
    from .graph_data import IncidentState

    extras = saved.get("extras", {})
    for extra in graph.extras:
        record = extras.get(extra.data["id"])
        if record:
            extra.updated = int(record["updated"])
            extra.data.update({k: record[k] for k in EXTRA_FIELDS if k in record})
    known = {f.name for f in dataclasses.fields(IncidentState)}
    for iid, record in saved.get("incidents", {}).items():
        graph.incidents[int(iid)] = IncidentState(**{k: v for k, v in record.items() if k in known})


def write(state_dir: Path | None, tenants: dict[str, dict[str, Any]]) -> None:
    if state_dir is None:
        return
    private_dir(state_dir)
    atomic_write(state_dir / GRAPH_STATE_FILE, json.dumps(tenants))
