"""How the Graph security API sees a tenant's alerts, and the caches that keep reads cheap.

- A Defender for Endpoint alert is converted to Graph's shape (:func:`endpoint_alert`) on
  each read, so both APIs agree: the same ``id`` and ``providerAlertId``, Graph's
  spelling of detection sources and determinations (and back, for a Graph PATCH).
- Every alert, endpoint or another product's (``graph_data.py``), is served as a
  :class:`View`: the record, its times, and its serialised JSON built once. A view is
  kept until its alert changes; the listing of every view (:func:`alert_views`), and
  each order a caller sorted it in (:func:`ordered_views`), until an alert is added or
  changed anywhere (``Alert.revision``, and the tenant's own ``revision`` for the other
  products' alerts).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import graph_evidence
from .directory import Tenant
from .model import Alert, dumps

if TYPE_CHECKING:
    from .graph_data import ExtraAlert, GraphTenant

# Defender for Endpoint's detection sources as Graph names them.
MDE_DETECTION_SOURCE = {
    "WindowsDefenderAtp": "microsoftDefenderForEndpoint",
    "WindowsDefenderAv": "antivirus",
    "WindowsDefenderSmartScreen": "smartScreen",
    "CustomerTI": "customTi",
    "AutomatedInvestigation": "automatedInvestigation",
    "CustomDetection": "customDetection",
    "MTP": "microsoft365Defender",
    "Manual": "manual",
}
# Determinations Defender for Endpoint spells otherwise than Graph's enum (both ways).
MDE_DETERMINATION = {"InsufficientData": "notEnoughDataToValidate", "NotAvailable": "unknown"}
GRAPH_TO_MDE_DETERMINATION = {graph: mde for mde, graph in MDE_DETERMINATION.items()}


def lower_first(value: Any, default: str = "unknown") -> str:
    """``TruePositive`` → ``truePositive``; None → ``default``."""
    if not value:
        return default
    text = str(value)
    if text == "UnSpecified":
        return "unknown"
    return text[0].lower() + text[1:]


def upper_first(value: str) -> str:
    return value[0].upper() + value[1:] if value else value


def endpoint_alert(alert: Alert, tenant: Tenant) -> dict[str, Any]:
    """A Defender for Endpoint alert in Graph's shape (call under the data lock)."""
    data = alert.data
    device = alert.device
    evidence = []
    if device is not None:
        users = [
            a
            for a in tenant.data.accounts
            if data["relatedUser"] and a.user_name == data["relatedUser"]["userName"]
        ]
        evidence.append(graph_evidence.device_evidence(device, data["alertCreationTime"], users))
    evidence += [graph_evidence.from_mde(e, device) for e in alert.evidence]
    return {
        "id": data["id"],
        "providerAlertId": data["id"],
        "incidentId": str(data["incidentId"]),
        "status": lower_first(data["status"]),
        "severity": lower_first(data["severity"]),
        "classification": lower_first(data["classification"]),
        "determination": MDE_DETERMINATION.get(
            data["determination"], lower_first(data["determination"])
        ),
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": MDE_DETECTION_SOURCE.get(
            data["detectionSource"], lower_first(data["detectionSource"])
        ),
        "detectorId": data["detectorId"],
        "tenantId": tenant.tenant_id,
        "title": data["title"],
        "description": data["description"],
        "recommendedActions": "Isolate the device and investigate the process tree.",
        "category": data["category"],
        "assignedTo": data["assignedTo"],
        "alertWebUrl": f"https://security.microsoft.com/alerts/{data['id']}?tid={tenant.tenant_id}",
        "incidentWebUrl": f"https://security.microsoft.com/incidents/{data['incidentId']}?tid={tenant.tenant_id}",
        "actorDisplayName": None,
        "threatDisplayName": data["threatName"],
        "threatFamilyName": data["threatFamilyName"],
        "mitreTechniques": list(data["mitreTechniques"]),
        "createdDateTime": data["alertCreationTime"],
        "lastUpdateDateTime": data["lastUpdateTime"],
        "resolvedDateTime": data["resolvedTime"],
        "firstActivityDateTime": data["firstEventTime"],
        "lastActivityDateTime": data["lastEventTime"],
        "comments": [
            {
                "comment": c["comment"],
                "createdByDisplayName": c["createdBy"],
                "createdDateTime": c["createdTime"],
            }
            for c in data["comments"]
        ],
        "evidence": evidence,
        "systemTags": [],
    }


@dataclass(slots=True)
class View:
    """One Graph alert as the API sees it: its JSON and its times (ticks)."""

    record: dict[str, Any]
    created: int
    updated: int
    source: Alert | ExtraAlert
    _json: bytes | None = None

    def json(self) -> bytes:
        """The alert serialised, built once (a changed alert gets a new view)."""
        if self._json is None:
            self._json = dumps(self.record)
        return self._json


def alert_views(tenant: Tenant, graph: GraphTenant) -> list[View]:
    """Every Graph alert of the tenant, in creation order (a shared list: not to be
    changed). Built again only when an alert was added or changed since the last call."""
    with tenant.data.lock, graph.lock:
        alerts, extras = tenant.data.alerts, graph.extras
        stamp = (Alert.revision, graph.revision, len(alerts), len(extras))
        if graph.listing is not None and graph.listing[0] == stamp:
            return graph.listing[1]
        converted = graph.converted
        views = []
        for alert in alerts:
            view = converted.get(alert.id)
            if view is None or view.updated != alert.updated:
                record = endpoint_alert(alert, tenant)
                view = converted[alert.id] = View(record, alert.created, alert.updated, alert)
            views.append(view)
        for extra in extras:
            view = converted.get(extra.data["id"])
            if view is None or view.updated != extra.updated:
                view = View(extra.data, extra.created, extra.updated, extra)
                converted[extra.data["id"]] = view
            views.append(view)
        views.sort(key=lambda v: v.created)
        graph.listing = (stamp, views)
        return views


def ordered_views(
    graph: GraphTenant, views: list[View], key: Callable[[View], Any], name: str, descending: bool
) -> list[View]:
    """``views`` (what :func:`alert_views` answered) sorted on ``key`` (the field
    ``name``), stable; kept until the listing changes (a shared list: not to be changed)."""
    with graph.lock:
        cached = graph.orderings.get((name, descending))
        if cached is None or cached[0] is not views:
            cached = (views, sorted(views, key=key, reverse=descending))
            graph.orderings[(name, descending)] = cached
        return cached[1]
