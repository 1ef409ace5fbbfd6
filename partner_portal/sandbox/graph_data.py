"""The Graph security API's view of a tenant: alerts of every Defender product and
incidents spanning them.

- Endpoint alerts are the tenant's Defender for Endpoint alerts, converted on each read
  (``graph_views.py``), so a change through either API is seen by both (a Graph PATCH or
  comment goes through ``Sandbox.patch_alert``).
- The other products' alerts (Office 365, Identity, Cloud Apps, Entra ID Protection, DLP,
  Defender for Cloud) are generated once per tenant from the seed, about one for every
  three endpoint alerts; half join an existing incident (incidents spanning products).
- A few incidents are merged into another: status ``redirected`` and
  ``redirectIncidentId``; one awaits the customer's action (``awaitingAction``). Incident
  changes (PATCH, comments) are kept here.
- Some values are enum members Graph shows only on request (``graph_enums.py``):
  serviceSource ``microsoftDefenderForCloud``, its detection sources, the remediation
  status of its first evidence, and the incident status ``awaitingAction``.
- Reads are cheap after the first: the caches of views and listings that
  ``graph_views.py`` fills live on :class:`GraphTenant`; :func:`change_extra` moves its
  ``revision`` so that they are built again.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import graph_evidence, graph_store
from .directory import Tenant
from .model import format_ticks, now_ticks, seeded

if TYPE_CHECKING:
    from .graph_views import View

# (serviceSource, product, alert title, category, MITRE techniques)
PRODUCTS = [
    (
        "microsoftDefenderForOffice365",
        "Office 365",
        "Email messages containing malicious URL removed after delivery",
        "InitialAccess",
        ["T1566.002"],
    ),
    (
        "microsoftDefenderForIdentity",
        "Identity",
        "Suspected Kerberos SPN exposure",
        "CredentialAccess",
        ["T1558.003"],
    ),
    (
        "microsoftDefenderForCloudApps",
        "Cloud Apps",
        "Suspicious inbox manipulation rule",
        "Persistence",
        ["T1564.008"],
    ),
    (
        "azureAdIdentityProtection",
        "Entra ID Protection",
        "Unfamiliar sign-in properties",
        "InitialAccess",
        ["T1078"],
    ),
    (
        "dataLossPrevention",
        "DLP",
        "DLP policy match for sensitive financial data",
        "Exfiltration",
        ["T1567"],
    ),
    (
        "microsoftDefenderForCloud",
        "Defender for Cloud",
        "Suspicious PowerShell activity on a virtual machine",
        "Execution",
        ["T1059.001"],
    ),
]
DETECTION_SOURCE = {
    "microsoftDefenderForOffice365": "microsoftDefenderForOffice365",
    "microsoftDefenderForIdentity": "microsoftDefenderForIdentity",
    "microsoftDefenderForCloudApps": "cloudAppSecurity",
    "azureAdIdentityProtection": "azureAdIdentityProtection",
    "dataLossPrevention": "microsoftDataLossPrevention",
    "microsoftDefenderForCloud": "microsoftDefenderForCloud",
}
# Defender for Cloud alerts name the plan that detected them; like serviceSource
# microsoftDefenderForCloud, these detection sources and the remediation states of their
# first evidence are members Graph shows only on request (``graph_enums.py``).
CLOUD_DETECTION_SOURCES = (
    "microsoftDefenderForCloud",
    "microsoftDefenderForServers",
    "microsoftDefenderForStorage",
)
CLOUD_REMEDIATION_STATUSES = ("active", "pendingApproval", "running")
DAY = 24 * 3600 * 10_000_000
FIRST_EXTRA_INCIDENT = 900_000


@dataclass
class ExtraAlert:
    """A non-endpoint alert, kept whole in Graph's shape."""

    data: dict[str, Any]
    created: int
    updated: int


@dataclass
class IncidentState:
    """What Graph callers changed on an incident, and merges."""

    status: str | None = None
    classification: str = "unknown"
    determination: str = "unknown"
    assigned_to: str | None = None
    custom_tags: list[str] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    redirect_to: int | None = None
    updated: int = 0


@dataclass
class GraphTenant:
    extras: list[ExtraAlert]
    extra_incident: dict[str, int]  # extra alert id → incident id
    incidents: dict[int, IncidentState]
    created: dict[int, int]  # extra incidents' creation times
    lock: threading.RLock = field(default_factory=threading.RLock)
    # Every alert's view by ID, kept while its change time holds (every change to an
    # alert moves it), so that a page neither converts nor serialises them all again.
    converted: dict[str, View] = field(default_factory=dict)
    # Moves on every change to an alert kept here (the other products').
    revision: int = 0
    # The last listing of every view, and the revisions and counts it was built from.
    listing: tuple[tuple[int, int, int, int], list[View]] | None = None
    # That listing sorted on a field, by (field, descending): (the listing, sorted).
    orderings: dict[tuple[str, bool], tuple[list[View], list[View]]] = field(default_factory=dict)


class GraphData:
    """Graph's data of every tenant, built on first use."""

    def __init__(self, seed: int, state_dir: Path | None = None) -> None:
        self.seed = seed
        self.state_dir = state_dir
        self._saved = graph_store.read(state_dir)
        self._tenants: dict[str, GraphTenant] = {}
        self._lock = threading.Lock()

    def of(self, tenant: Tenant) -> GraphTenant:
        with self._lock:
            found = self._tenants.get(tenant.tenant_id)
            if found is None:
                found = self._tenants[tenant.tenant_id] = self._generate(tenant)
                graph_store.apply(found, self._saved.get(tenant.tenant_id, {}))
            return found

    def save(self) -> None:
        """Write every tenant's Graph changes now (call holding no Graph lock)."""
        with self._lock:
            for tenant_id, graph in self._tenants.items():
                with graph.lock:
                    self._saved[tenant_id] = graph_store.snapshot(graph)
            graph_store.write(self.state_dir, self._saved)

    def _generate(self, tenant: Tenant) -> GraphTenant:
        rng = seeded(f"{self.seed}:graph:{tenant.tenant_id}")
        data = tenant.data
        with data.lock:
            # Only the seeded base counts, so a restart after arrivals draws the same data.
            base_alerts = [a for a in data.alerts if a.created <= tenant.anchor]
            incident_ids = sorted({int(a.data["incidentId"]) for a in base_alerts})
            count = max(6, len(base_alerts) // 3)
        graph = GraphTenant([], {}, {}, {})
        next_id = FIRST_EXTRA_INCIDENT
        for n in range(count):
            product, _, title, category, mitre = PRODUCTS[n % len(PRODUCTS)]
            created = tenant.anchor - rng.randint(1, 30 * DAY)
            account = rng.choice(data.accounts)
            device = rng.choice(data.devices)
            if incident_ids and rng.random() < 0.5:
                incident_id = rng.choice(incident_ids)
            else:
                incident_id = next_id
                graph.created[incident_id] = created
                next_id += 1
            alert_id = f"{product[:2]}{created // 10_000}_{rng.randint(10**8, 10**9)}"
            severity = rng.choice(["low", "medium", "medium", "high", "informational"])
            status = rng.choice(["new", "new", "inProgress", "resolved"])
            evidence = graph_evidence.for_product(
                product, rng, created, account, device, tenant.domain
            )
            when = format_ticks(created)
            detection = DETECTION_SOURCE[product]
            if product == "microsoftDefenderForCloud":
                turn = n // len(PRODUCTS)
                detection = CLOUD_DETECTION_SOURCES[turn % len(CLOUD_DETECTION_SOURCES)]
                if evidence:
                    evidence[0]["remediationStatus"] = CLOUD_REMEDIATION_STATUSES[
                        turn % len(CLOUD_REMEDIATION_STATUSES)
                    ]
            record = {
                "id": alert_id,
                "providerAlertId": alert_id.split("_")[0][2:] or alert_id,
                "incidentId": str(incident_id),
                "status": status,
                "severity": severity,
                "classification": "unknown" if status != "resolved" else "truePositive",
                "determination": "unknown" if status != "resolved" else "malware",
                "serviceSource": product,
                "detectionSource": detection,
                "detectorId": graph_evidence._uuid(rng),
                "tenantId": tenant.tenant_id,
                "title": title,
                "description": f"{title} ({account.upn}).",
                "recommendedActions": "Review the evidence and contain the affected account.",
                "category": category,
                "assignedTo": None,
                "alertWebUrl": f"https://security.microsoft.com/alerts/{alert_id}?tid={tenant.tenant_id}",
                "incidentWebUrl": f"https://security.microsoft.com/incidents/{incident_id}?tid={tenant.tenant_id}",
                "actorDisplayName": None,
                "threatDisplayName": None,
                "threatFamilyName": None,
                "mitreTechniques": list(mitre),
                "createdDateTime": when,
                "lastUpdateDateTime": when,
                "resolvedDateTime": when if status == "resolved" else None,
                "firstActivityDateTime": when,
                "lastActivityDateTime": when,
                "comments": [],
                "evidence": evidence,
                "systemTags": [],
            }
            graph.extras.append(ExtraAlert(record, created, created))
            graph.extra_incident[alert_id] = incident_id
        graph.extras.sort(key=lambda a: a.created)
        # Merge a few incidents into another one.
        candidates = sorted({*incident_ids, *graph.created})
        for _ in range(max(1, len(candidates) // 20) if len(candidates) >= 3 else 0):
            source, target = rng.sample(candidates, 2)
            if graph.incidents.get(target, IncidentState()).redirect_to is None:
                graph.incidents.setdefault(source, IncidentState()).redirect_to = target
        # One incident waits for the customer's action (set by Defender Experts; a
        # status Graph shows only on request).
        merged = {t for i, st in graph.incidents.items() for t in (i, st.redirect_to) if t}
        waiting = next((i for i in candidates if i not in merged), None)
        if waiting is not None:
            graph.incidents.setdefault(waiting, IncidentState()).status = "awaitingAction"
        return graph


def change_extra(
    graph: GraphTenant,
    extra: ExtraAlert,
    changes: dict[str, Any],
    comment: str | None,
    by: str,
) -> None:
    """Change one of the other products' alerts (call holding ``graph.lock``)."""
    now = now_ticks()
    for key, value in changes.items():
        extra.data[key] = value
    if changes.get("status") == "resolved":
        extra.data["resolvedDateTime"] = format_ticks(now)
    elif "status" in changes:
        extra.data["resolvedDateTime"] = None
    if comment is not None:
        extra.data["comments"] = [
            *extra.data["comments"],
            {"comment": comment, "createdByDisplayName": by, "createdDateTime": format_ticks(now)},
        ]
    extra.updated = now
    extra.data["lastUpdateDateTime"] = format_ticks(now)
    graph.revision += 1
