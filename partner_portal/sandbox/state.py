"""The sandbox's world and every change to it: the partner app registration, the
customer tenants (``directory.py``) with their consent and Defender data, and the
background threads that keep alerts arriving and save what changed (``persistence.py``).

Handlers never change a tenant directly; they call :class:`Sandbox`, which takes the
locks, notes what must be saved, and writes it: at once for tenants, consent and the
secret switch (clients read those back from ``sandbox.json``), debounced for alerts.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
import uuid
from typing import Any

from .catalog import APP_PERMISSIONS, roles_in_scope
from .directory import Tenant, User, new_client_secret
from .generator import arrival, generate_tenant, random_update, tenant_identity
from .model import Alert, format_ticks, now_ticks, seeded
from .options import Options
from .partner_directory import new_partner_tenant, partner_public, partner_record, restore_partner
from .persistence import read_state, restore_tenant, tenant_record, write_state
from .pki import Pki
from .planting import planted_evidence

log = logging.getLogger("partner_portal.sandbox")


class Sandbox:
    """Owns all mutable state; every change goes through its methods."""

    def __init__(self, options: Options, pki: Pki) -> None:
        self.options = options
        self.pki = pki
        self.state_dir = options.state_dir
        self.origin = f"https://{options.host}:{options.port}"
        # The plain-HTTP loopback origin of the browser pages ("" when there is none).
        self.browser_origin = ""
        self.lock = threading.RLock()
        self._save_lock = threading.Lock()
        self.tenants: dict[str, Tenant] = {}
        # The partner's own tenant (its staff and their groups); never a customer.
        self.partner: Tenant | None = None
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
        saved = read_state(self.state_dir)
        if saved is None:
            self.client_id = str(uuid.uuid4())
            self.client_secret = new_client_secret()
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
            if saved.get("partner"):
                self.partner = restore_partner(saved["partner"])
        if self.partner is None:
            self.partner = new_partner_tenant(self.seed)
        for record in saved_tenants:
            tenant = restore_tenant(record, self._generate)
            self.tenants[tenant.tenant_id] = tenant
        # Tenants of the first start share one anchor; any added later start from now.
        anchor = self.anchor if saved is None else now_ticks()
        while len(self.tenants) < self.options.tenants:
            index = len(self.tenants)
            self.add_tenant(consented=index < self.options.consented, anchor=anchor, save=False)
        self.save_now()

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

    @property
    def pages_origin(self) -> str:
        """The origin of the consent and sign-in pages a person's browser opens."""
        return self.browser_origin or self.origin

    def public_config(self) -> dict[str, Any]:
        """The content of ``sandbox.json``: what a client needs to use the sandbox."""
        app = self.pki.app
        return {
            "login_url": self.origin,
            # Where a person's browser goes for consent and sign-in (server.py).
            "browser_login_url": self.pages_origin,
            "api_url": self.origin,
            "xdr_api_url": self.origin,
            "graph_url": self.origin,  # serves /v1.0/security/...
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
            "partner_tenant": partner_public(self.partner) if self.partner else None,
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
                    "seed": self.seed,
                    "anchor": self.anchor,
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                    "secret_expired": self.secret_expired,
                    "form_key": self.form_key.hex(),
                    "tenants": [tenant_record(t) for t in tenants],
                    "partner": partner_record(self.partner) if self.partner else None,
                }
                config = self.public_config()
            write_state(self.state_dir, state, config)

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
            for candidate in self.all_tenants():
                if candidate.domain.lower() == key or candidate.tenant_id.lower() == key:
                    return candidate
        return None

    def all_tenants(self) -> list[Tenant]:
        """The customer tenants and the partner's own."""
        with self.lock:
            return [*self.tenants.values(), *([self.partner] if self.partner else [])]

    def set_membership(self, tenant: Tenant, group_id: str, user: User, member: bool) -> None:
        """Add ``user`` to the group (or take them out); the next question to Graph and
        the next sign-in see it."""
        with self.lock:
            group = next(g for g in tenant.groups if g.object_id == group_id)
            if member and user.object_id not in group.members:
                group.members.append(user.object_id)
            elif not member and user.object_id in group.members:
                group.members.remove(user.object_id)
        self.save_now()

    def set_app_role(self, user: User, value: str, assigned: bool) -> None:
        """Assign the partner app's app role ``value`` to ``user`` (or take it away); the
        next sign-in's ``roles`` claim shows it."""
        with self.lock:
            if assigned and value not in user.app_roles:
                user.app_roles.append(value)
            elif not assigned and value in user.app_roles:
                user.app_roles.remove(value)
        self.save_now()

    def add_tenant(
        self,
        *,
        name: str | None = None,
        alerts: int | None = None,
        consented: bool = False,
        roles: list[str] | None = None,
        consent_roles: list[str] | None = None,
        consent_scope: str = "both",
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
                consent_scope=consent_scope,
                anchor=now_ticks() if anchor is None else anchor,
            )
            self._generate(tenant)
            if consented:
                tenant.consented = True
                tenant.roles = list(roles or tenant.requested_roles())
            self.tenants[tenant.tenant_id] = tenant
        if save:
            self.save_now()
        return tenant

    def grant(self, tenant: Tenant, roles: list[str] | None = None) -> None:
        """Record admin consent: the tenant's app roles become ``roles`` (or the default)."""
        with self.lock:
            tenant.consented = True
            tenant.roles = list(
                dict.fromkeys(roles if roles is not None else tenant.requested_roles())
            )
        self.save_now()

    def set_consent_scope(self, tenant: Tenant, scope: str) -> None:
        """Change which APIs the app asks the tenant for. Narrowing drops the roles outside
        the scope at once; widening takes a new admin consent, as at Microsoft."""
        with self.lock:
            tenant.consent_scope = scope
            tenant.roles = roles_in_scope(tenant.roles, scope)
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

    def create_alerts(
        self, tenant: Tenant, count: int, plant: dict[str, str] | None = None
    ) -> list[str]:
        """Create ``count`` new alerts now, as if Defender had just raised them, each
        also carrying the indicators in ``plant`` (``planting.py``) if given."""
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
                if plant:
                    alert.evidence = [*alert.evidence, *planted_evidence(plant, at=now)]
                    alert.touch(now)
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
