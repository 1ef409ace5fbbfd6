"""What the sandbox keeps in its state folder, and how a start gets it back.

The seeded base data is not saved: the same seed regenerates the same alerts on every
start. ``state.json`` holds only what cannot be regenerated: the app's credentials, the
seed and the anchor time, and per tenant its identity, consent, the fields of base alerts
that changed since (:data:`MUTABLE_FIELDS`), alerts and incidents created since, whole.
``sandbox.json`` is the public description clients read. Both are replaced atomically.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .directory import Tenant, User
from .model import Alert, Incident

STATE_FILE = "state.json"
CONFIG_FILE = "sandbox.json"
STATE_VERSION = 1
# Fields of a generated alert that can change later and so are saved when they do.
MUTABLE_FIELDS = (
    "assignedTo",
    "status",
    "classification",
    "determination",
    "investigationState",
    "lastUpdateTime",
    "resolvedTime",
    "comments",
)
# A tenant's identity as saved and restored as it is (its users, consent and data follow).
TENANT_FIELDS = ("tenant_id", "name", "domain", "index", "alert_count", "anchor")
# An alert created since seeding, saved whole (its device is found again by ``machineId``).
ADDED_ALERT_FIELDS = ("data", "evidence", "created", "updated", "last_event")


def atomic_write(path: Path, text: str) -> None:
    """Replace ``path`` whole; the file is the owner's alone (sandbox.json holds the app's
    client secret)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    tmp.chmod(0o600)  # a .tmp left by an older version keeps its mode on O_TRUNC
    tmp.replace(path)


def private_dir(path: Path) -> None:
    """Create the state folder (and its parents) readable by the owner only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    path.chmod(0o700)


def read_state(state_dir: Path) -> dict[str, Any] | None:
    """The saved ``state.json``, or None on a first start; exits on another version's."""
    path = state_dir / STATE_FILE
    if not path.exists():
        return None
    saved: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    if saved.get("version") != STATE_VERSION:
        raise SystemExit(f"{path} was written by another sandbox version; remove it")
    return saved


def write_state(state_dir: Path, state: dict[str, Any], config: dict[str, Any]) -> None:
    """Write ``state.json`` and ``sandbox.json`` (the caller serialises writers)."""
    private_dir(state_dir)
    atomic_write(state_dir / STATE_FILE, json.dumps({"version": STATE_VERSION, **state}))
    atomic_write(state_dir / CONFIG_FILE, json.dumps(config, indent=2))


def tenant_record(tenant: Tenant) -> dict[str, Any]:
    """What ``state.json`` keeps of a tenant: identity, consent and changes since seeding."""
    data = tenant.data
    with data.lock:
        changed = {}
        for alert_id in sorted(tenant.changed):
            alert = data.by_id[alert_id]
            changed[alert_id] = {k: alert.data[k] for k in MUTABLE_FIELDS}
            changed[alert_id]["_updated"] = alert.updated
        added = [
            {name: getattr(data.by_id[a], name) for name in ADDED_ALERT_FIELDS}
            for a in tenant.added
        ]
        added_ids = set(tenant.added)
        base_incidents = {a.data["incidentId"] for a in data.alerts if a.id not in added_ids}
        new_incidents = [
            {"incident_id": i.incident_id, "name": i.name, "created": i.created, "tags": i.tags}
            for i in data.incidents.values()
            if i.incident_id not in base_incidents
        ]
        return {
            **{name: getattr(tenant, name) for name in TENANT_FIELDS},
            "users": [u.as_json() for u in tenant.users],
            "consented": tenant.consented,
            "roles": tenant.roles,
            "consent_roles": tenant.consent_roles,
            "consent_scope": tenant.consent_scope,
            "next_incident": tenant.next_incident,
            "changed": changed,
            "added": added,
            "new_incidents": new_incidents,
        }


def restore_tenant(record: dict[str, Any], generate: Callable[[Tenant], None]) -> Tenant:
    """The tenant of a ``state.json`` record: ``generate`` regrows its base data, then the
    saved changes and additions are laid over it."""
    tenant = Tenant(
        **{name: record[name] for name in TENANT_FIELDS},
        users=[User(**u) for u in record["users"]],
        consented=record["consented"],
        roles=list(record["roles"]),
        consent_roles=list(record["consent_roles"]),
        consent_scope=record.get("consent_scope", "both"),
    )
    generate(tenant)
    data = tenant.data
    tenant.next_incident = max(tenant.next_incident, record.get("next_incident", 0))
    for alert_id, fields_ in record.get("changed", {}).items():
        alert = data.by_id.get(alert_id)
        if alert is None:
            continue
        alert.data.update({k: fields_[k] for k in MUTABLE_FIELDS if k in fields_})
        alert.touch(int(fields_["_updated"]))
        tenant.changed.add(alert_id)
    for inc in record.get("new_incidents", []):
        data.incidents.setdefault(
            inc["incident_id"],
            Incident(
                incident_id=inc["incident_id"],
                name=inc["name"],
                created=inc["created"],
                tags=list(inc["tags"]),
            ),
        )
    devices = {d.machine_id: d for d in data.devices}
    for rec in record.get("added", []):
        alert = Alert(
            **{name: rec[name] for name in ADDED_ALERT_FIELDS},
            device=devices.get(rec["data"]["machineId"]),
        )
        incident = data.incidents[alert.data["incidentId"]]
        data.add(alert, incident)
        tenant.added.append(alert.id)
    return tenant
