"""The sandbox's world: the partner app registration, the customer tenants with their
consent and Defender data, and saving what changed to the state folder.

The seeded base data is regenerated on every start; only changes (consent, alert
updates, new alerts, added tenants) are written, debounced, to ``state.json``. The
public description clients read is written to ``sandbox.json``.
"""

from __future__ import annotations

import json
import logging
import random
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .catalog import APP_PERMISSIONS, MDE_ROLES, XDR_ROLES
from .generator import arrival, generate_tenant, random_update, tenant_identity
from .model import Alert, Incident, TenantData, format_ticks, now_ticks, seeded
from .options import Options
from .pki import Pki

log = logging.getLogger("partner_portal.sandbox")

STATE_FILE = "state.json"
CONFIG_FILE = "sandbox.json"
STATE_VERSION = 1
APP_DISPLAY_NAME = "Partner Portal"
KNOWN_ROLES = frozenset(MDE_ROLES + XDR_ROLES)
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


@dataclass
class User:
    """A person who can sign in at the sandbox's consent pages."""

    upn: str
    display_name: str
    admin: bool
    object_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "upn": self.upn,
            "display_name": self.display_name,
            "admin": self.admin,
            "object_id": self.object_id,
        }


@dataclass
class Tenant:
    """A customer's Entra ID tenant and its Defender data."""

    tenant_id: str
    name: str
    domain: str
    index: int
    alert_count: int
    users: list[User]
    anchor: int = 0  # the base alerts cover the 30 days before this time
    consented: bool = False
    roles: list[str] = field(default_factory=list)
    consent_roles: list[str] = field(default_factory=lambda: list(APP_PERMISSIONS))
    # When consent was last removed (epoch seconds); tokens issued before it are refused.
    revoked_at: float = 0.0
    data: TenantData = field(default_factory=lambda: TenantData(devices=[], accounts=[]))
    next_incident: int = 1
    changed: set[str] = field(default_factory=set)
    added: list[str] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)

    @property
    def admin(self) -> User:
        return next(u for u in self.users if u.admin)

    @property
    def plain_user(self) -> User:
        return next(u for u in self.users if not u.admin)

    def public(self) -> dict[str, Any]:
        """The tenant as ``sandbox.json`` describes it."""
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "domain": self.domain,
            "admin_user": self.admin.upn,
            "consented": self.consented,
            "roles": list(self.roles),
        }

    def detail(self) -> dict[str, Any]:
        """The tenant as the control API describes it: more than ``sandbox.json``."""
        with self.data.lock:
            counts = {
                "alert_count": len(self.data.alerts),
                "incident_count": len(self.data.incidents),
            }
        return {
            **self.public(),
            "plain_user": self.plain_user.upn,
            "users": [u.as_json() for u in self.users],
            "consent_roles": list(self.consent_roles),
            **counts,
        }


def _new_secret() -> str:
    # Shaped like Entra ID client secrets: 40 characters with "Q~" after the first four.
    alphabet = string.ascii_letters + string.digits + "._-~"
    head = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(3))
    return (
        head
        + secrets.choice(string.digits)
        + "Q~"
        + "".join(secrets.choice(alphabet) for _ in range(34))
    )


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


class Sandbox:
    """Owns all mutable state; every change goes through its methods."""

    def __init__(self, options: Options, pki: Pki) -> None:
        self.options = options
        self.pki = pki
        self.state_dir = options.state_dir
        self.origin = f"https://{options.host}:{options.port}"
        self.lock = threading.RLock()
        self._save_lock = threading.Lock()
        self.tenants: dict[str, Tenant] = {}
        self.client_id = ""
        self.client_secret = ""
        self.secret_expired = False
        self.form_key = b""
        self.seed = options.seed
        self.anchor = 0
        self.redirect_uris = list(options.redirect_uris)
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []

    # ---- loading and saving -------------------------------------------------------

    def load(self) -> None:
        """Load ``state.json`` or create a new world, then make sure enough tenants exist."""
        path = self.state_dir / STATE_FILE
        saved: dict[str, Any] | None = None
        if path.exists():
            saved = json.loads(path.read_text(encoding="utf-8"))
            if saved.get("version") != STATE_VERSION:
                raise SystemExit(f"{path} was written by another sandbox version; remove it")
        if saved is None:
            self.client_id = str(uuid.uuid4())
            self.client_secret = _new_secret()
            self.form_key = secrets.token_bytes(32)
            self.anchor = now_ticks()
            saved_tenants: list[dict[str, Any]] = []
        else:
            self.client_id = saved["client_id"]
            self.client_secret = saved["client_secret"]
            self.secret_expired = bool(saved.get("secret_expired"))
            self.form_key = bytes.fromhex(saved["form_key"])
            if saved["seed"] != self.options.seed:
                log.warning(
                    "state folder keeps seed %s; --seed %s ignored", saved["seed"], self.seed
                )
            self.seed = saved["seed"]
            self.anchor = saved["anchor"]
            saved_tenants = saved["tenants"]
        for record in saved_tenants:
            self._restore_tenant(record)
        # Tenants of the first start share one anchor; any added later start from now.
        anchor = self.anchor if saved is None else now_ticks()
        while len(self.tenants) < self.options.tenants:
            index = len(self.tenants)
            self.add_tenant(consented=index < self.options.consented, anchor=anchor, save=False)
        self.save_now()

    def _restore_tenant(self, record: dict[str, Any]) -> None:
        tenant = Tenant(
            tenant_id=record["tenant_id"],
            name=record["name"],
            domain=record["domain"],
            index=record["index"],
            alert_count=record["alert_count"],
            users=[User(**u) for u in record["users"]],
            consented=record["consented"],
            roles=list(record["roles"]),
            consent_roles=list(record["consent_roles"]),
            anchor=record["anchor"],
        )
        self._generate(tenant)
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
                data=rec["data"],
                evidence=rec["evidence"],
                created=rec["created"],
                updated=rec["updated"],
                last_event=rec["last_event"],
                device=devices.get(rec["data"]["machineId"]),
            )
            incident = data.incidents[alert.data["incidentId"]]
            data.add(alert, incident)
            tenant.added.append(alert.id)
        self.tenants[tenant.tenant_id] = tenant

    def _generate(self, tenant: Tenant) -> None:
        data, next_incident = generate_tenant(
            seed=self.seed,
            tenant_id=tenant.tenant_id,
            domain=tenant.domain,
            count=tenant.alert_count,
            anchor=tenant.anchor,
        )
        tenant.data = data
        tenant.next_incident = next_incident
        tenant.rng = seeded(f"{self.seed}:changes:{tenant.tenant_id}:{time.time_ns()}")

    def _tenant_record(self, tenant: Tenant) -> dict[str, Any]:
        data = tenant.data
        with data.lock:
            changed = {}
            for alert_id in sorted(tenant.changed):
                alert = data.by_id[alert_id]
                changed[alert_id] = {k: alert.data[k] for k in MUTABLE_FIELDS}
                changed[alert_id]["_updated"] = alert.updated
            added = [
                {
                    "data": data.by_id[a].data,
                    "evidence": data.by_id[a].evidence,
                    "created": data.by_id[a].created,
                    "updated": data.by_id[a].updated,
                    "last_event": data.by_id[a].last_event,
                }
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
                "tenant_id": tenant.tenant_id,
                "name": tenant.name,
                "domain": tenant.domain,
                "index": tenant.index,
                "alert_count": tenant.alert_count,
                "anchor": tenant.anchor,
                "users": [u.as_json() for u in tenant.users],
                "consented": tenant.consented,
                "roles": tenant.roles,
                "consent_roles": tenant.consent_roles,
                "next_incident": tenant.next_incident,
                "changed": changed,
                "added": added,
                "new_incidents": new_incidents,
            }

    def public_config(self) -> dict[str, Any]:
        """The content of ``sandbox.json``: what a client needs to use the sandbox."""
        app = self.pki.app
        return {
            "login_url": self.origin,
            "api_url": self.origin,
            "xdr_api_url": self.origin,
            "ca_file": str(self.pki.ca_file),
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "certificate": {
                "private_key_file": str(app.private_key_file),
                "certificate_file": str(app.certificate_file),
                "thumbprint": app.thumbprint,
            },
            "redirect_uris": list(self.redirect_uris),
            "tenants": [t.public() for t in self.tenants.values()],
        }

    def save_now(self) -> None:
        """Write ``state.json`` and ``sandbox.json`` at once."""
        # One save at a time, snapshot and files together: the background saver and a
        # control request may save at the same moment, and two writers sharing the
        # temporary file (or an older snapshot landing last) would fail the request or
        # leave stale state behind.
        with self._save_lock:
            with self.lock:
                tenants = list(self.tenants.values())
                state = {
                    "version": STATE_VERSION,
                    "seed": self.seed,
                    "anchor": self.anchor,
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "secret_expired": self.secret_expired,
                    "form_key": self.form_key.hex(),
                    "tenants": [self._tenant_record(t) for t in tenants],
                }
                config = self.public_config()
            self.state_dir.mkdir(parents=True, exist_ok=True)
            _atomic_write(self.state_dir / STATE_FILE, json.dumps(state))
            _atomic_write(self.state_dir / CONFIG_FILE, json.dumps(config, indent=2))

    def changed(self) -> None:
        """Note that alerts changed; the saver writes it shortly (debounced).

        Tenant, consent and secret changes are rare and clients read them back from
        ``sandbox.json`` at once, so those are written immediately instead.
        """
        self._dirty.set()

    def _saver(self) -> None:
        while not self._stopping.is_set():
            if not self._dirty.wait(timeout=0.2):
                continue
            # Debounce: a burst of changes becomes one write.
            time.sleep(0.3)
            self._dirty.clear()
            try:
                self.save_now()
            except OSError:
                log.exception("could not save the sandbox state")

    def _arrivals(self) -> None:
        rate = self.options.arrival_rate
        per_second = rate / 60.0
        whole, fraction = int(per_second), per_second - int(per_second)
        while not self._stopping.wait(1.0):
            for tenant in list(self.tenants.values()):
                events = whole + (1 if tenant.rng.random() < fraction else 0)
                for _ in range(events):
                    # Most events are new alerts; the rest move existing ones along.
                    if tenant.rng.random() < 0.6 or not tenant.data.alerts:
                        self.create_alerts(tenant, 1)
                    else:
                        self.update_alerts(tenant, 1)

    def start_background(self) -> None:
        targets = [self._saver]
        if self.options.arrival_rate > 0:
            targets.append(self._arrivals)
        for target in targets:
            thread = threading.Thread(target=target, name=target.__name__, daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        """Stop the background threads and write any pending change."""
        self._stopping.set()
        for thread in self._threads:
            thread.join(timeout=2)
        if self._dirty.is_set():
            self.save_now()

    # ---- tenants and consent ------------------------------------------------------

    def resolve(self, segment: str) -> Tenant | None:
        """The tenant a path segment names: its GUID or its domain (case-insensitive)."""
        key = segment.lower()
        with self.lock:
            tenant = self.tenants.get(key)
            if tenant is not None:
                return tenant
            for candidate in self.tenants.values():
                if candidate.domain.lower() == key or candidate.tenant_id.lower() == key:
                    return candidate
        return None

    def add_tenant(
        self,
        *,
        name: str | None = None,
        alerts: int | None = None,
        consented: bool = False,
        roles: list[str] | None = None,
        consent_roles: list[str] | None = None,
        anchor: int | None = None,
        save: bool = True,
    ) -> Tenant:
        """Create one more customer tenant, with generated users and alerts."""
        with self.lock:
            index = len(self.tenants)
            identity = tenant_identity(self.seed, index, {t.domain for t in self.tenants.values()})
            while identity["tenant_id"] in self.tenants:  # only with a hand-edited state
                identity["tenant_id"] = str(uuid.uuid4())
            if name:
                identity["name"] = name
            tenant = Tenant(
                tenant_id=identity["tenant_id"],
                name=identity["name"],
                domain=identity["domain"],
                index=index,
                alert_count=self.options.alerts_per_tenant if alerts is None else alerts,
                users=[User(**u) for u in identity["users"]],
                consent_roles=list(consent_roles or APP_PERMISSIONS),
                anchor=now_ticks() if anchor is None else anchor,
            )
            self._generate(tenant)
            if consented:
                tenant.consented = True
                tenant.roles = list(roles or tenant.consent_roles)
            self.tenants[tenant.tenant_id] = tenant
        if save:
            self.save_now()
        return tenant

    def grant(self, tenant: Tenant, roles: list[str] | None = None) -> None:
        """Record admin consent: the tenant's app roles become ``roles`` (or the default)."""
        with self.lock:
            tenant.consented = True
            tenant.roles = list(dict.fromkeys(roles if roles is not None else tenant.consent_roles))
        self.save_now()

    def revoke(self, tenant: Tenant) -> None:
        """Remove the app from the tenant: no more tokens for it."""
        with self.lock:
            tenant.consented = False
            tenant.roles = []
            tenant.revoked_at = time.time()
        self.save_now()

    def set_secret_expired(self, expired: bool) -> None:
        with self.lock:
            self.secret_expired = expired
        self.save_now()

    # ---- alerts -------------------------------------------------------------------

    def create_alerts(self, tenant: Tenant, count: int) -> list[str]:
        """Create ``count`` new alerts now, as if Defender had just raised them."""
        ids = []
        data = tenant.data
        with data.lock:
            for _ in range(count):
                now = now_ticks()
                if data.alerts and now <= data.alerts[-1].created:
                    now = data.alerts[-1].created + 1  # creation order must follow time
                alert, _incident, tenant.next_incident = arrival(
                    tenant.rng,
                    data,
                    tenant_id=tenant.tenant_id,
                    now=now,
                    next_incident=tenant.next_incident,
                )
                tenant.added.append(alert.id)
                ids.append(alert.id)
        self.changed()
        return ids

    def update_alerts(self, tenant: Tenant, count: int) -> list[str]:
        """Move ``count`` existing alerts along their triage (status, assignee, time)."""
        data = tenant.data
        with data.lock:
            chosen = tenant.rng.sample(data.alerts, min(count, len(data.alerts)))
            for alert in chosen:
                random_update(tenant.rng, alert, now_ticks())
                self._note_change(tenant, alert)
        self.changed()
        return [a.id for a in chosen]

    def _note_change(self, tenant: Tenant, alert: Alert) -> None:
        # Alerts created after the base are saved whole anyway.
        if alert.created <= tenant.anchor:
            tenant.changed.add(alert.id)

    def patch_alert(self, tenant: Tenant, alert: Alert, changes: dict[str, Any]) -> None:
        """Apply a validated PATCH to an alert, as the partner app."""
        now = now_ticks()
        with tenant.data.lock:
            for key in ("status", "assignedTo", "classification", "determination"):
                if key in changes:
                    alert.data[key] = changes[key]
            if "status" in changes:
                if changes["status"] == "Resolved":
                    if alert.data["resolvedTime"] is None:
                        alert.data["resolvedTime"] = format_ticks(now)
                else:
                    alert.data["resolvedTime"] = None
            if "comment" in changes:
                alert.data["comments"] = [
                    *alert.data["comments"],
                    {
                        "comment": changes["comment"],
                        "createdBy": self.client_id,
                        "createdTime": format_ticks(now),
                    },
                ]
            alert.touch(now)
            self._note_change(tenant, alert)
        self.changed()
