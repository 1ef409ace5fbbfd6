"""Defender XDR incidents: ``/api/incidents`` (audience
``https://api.security.microsoft.com``, role ``Incident.Read.All``).

Incidents are not stored apart: they group the tenant's Defender for Endpoint alerts by
``incidentId``, and their status, severity and ``lastUpdateTime`` follow those alerts
(:func:`incident_json`, which also writes each alert in XDR's shape).

- ``GET /api/incidents``: ``$filter`` on :data:`INCIDENT_FIELDS`, ``$top`` up to 100
  (else 400 ``BadRequest``), ``$skip``, ``@odata.nextLink``; ordered by incident ID.
- ``GET /api/incidents/{id}`` (404 ``NotFound``).
- The control API's ``GET /_sandbox/ground-truth/incidents?tenant=ID``.

Token, roles, limits (50/minute, 1,500/hour) and faults are the gate's (``api.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api import ApiError, ApiFamily
from .catalog import XDR_DETECTION_SOURCE
from .directory import Tenant
from .identity import XDR_AUDIENCE
from .model import Alert, Incident, dumps, format_ticks
from .odata import Field, Listing, query_options
from .state import Sandbox
from .web import Request, Response

if TYPE_CHECKING:
    from .app import SandboxApp

MAX_INCIDENTS_TOP = 100
INCIDENTS = ApiFamily(
    "incidents",
    frozenset({XDR_AUDIENCE}),
    "BadRequest",
    limits=((60, 50, "Minute"), (3600, 1500, "Hour")),
)
INCIDENT_READ_ROLES = {"Incident.Read.All", "Incident.ReadWrite.All"}

INCIDENT_FIELDS = {
    "lastUpdateTime": Field("datetime", lambda i: i.last_update),
    "createdTime": Field("datetime", lambda i: i.created),
    "status": Field(
        "enum", lambda i: i.status, frozenset({"Active", "Resolved", "Redirected", "InProgress"})
    ),
    "assignedTo": Field("string", lambda i: i.assigned_to),
}


def register(app: SandboxApp) -> None:
    incidents = IncidentsApi(app.sandbox)
    app.defender.route(
        "GET", r"incidents", INCIDENTS, INCIDENT_READ_ROLES, incidents.list_incidents
    )
    app.defender.route(
        "GET",
        r"incidents/(?P<incident_id>[^/]+)",
        INCIDENTS,
        INCIDENT_READ_ROLES,
        incidents.get_incident,
    )
    app.control.route(
        "GET",
        r"/_sandbox/ground-truth/incidents",
        lambda r, p: incidents.ground_truth(app.control.tenant(r)),
    )


class IncidentsApi:
    """The incidents of the tenant whose token calls."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.page_size = sandbox.options.page_size

    def list_incidents(self, request: Request, tenant: Tenant) -> Response:
        options = query_options(request, {"$filter", "$top", "$skip"})
        listing = Listing.read(
            options,
            INCIDENT_FIELDS,
            max_top=MAX_INCIDENTS_TOP,
            page_size=min(self.page_size, MAX_INCIDENTS_TOP),
        )
        with tenant.data.lock:
            page, more = listing.page(list(tenant.data.incidents.values()))
            chunks = [dumps(incident_json(i, tenant)) for i in page]
        return listing.response(self.sandbox.origin, request, "Incidents", chunks, more)

    def get_incident(self, request: Request, tenant: Tenant, incident_id: str) -> Response:
        incident = tenant.data.incidents.get(int(incident_id)) if incident_id.isdigit() else None
        if incident is None:
            raise ApiError(404, "NotFound", f"Incident {incident_id} was not found.")
        with tenant.data.lock:
            return Response(200, dumps(incident_json(incident, tenant)))

    # ---- ground truth (control API) -------------------------------------------------

    def ground_truth(self, tenant: Tenant) -> Response:
        with tenant.data.lock:
            chunks = [dumps(incident_json(i, tenant)) for i in tenant.data.incidents.values()]
        return Response(200, b'{"value":[' + b",".join(chunks) + b"]}")


def _xdr_alert(alert: Alert) -> dict[str, Any]:
    data = alert.data
    device = alert.device
    devices: list[dict[str, Any]] = []
    if device is not None:
        devices.append(
            {
                "mdatpDeviceId": device.machine_id,
                "aadDeviceId": device.aad_device_id,
                "deviceDnsName": device.dns_name,
                "osPlatform": device.os_platform,
                "version": device.version,
                "osProcessor": "x64",
                "osBuild": device.os_build,
                "healthStatus": "Active",
                "riskScore": data["severity"] if data["severity"] != "Informational" else "None",
                "rbacGroupName": device.rbac_group,
                "firstSeen": format_ticks(device.first_seen),
                "tags": [],
                "defenderAvStatus": "Updated",
                "onboardingStatus": "Onboarded",
                "loggedOnUsers": [data["relatedUser"]] if data["relatedUser"] else [],
            }
        )
    entities = []
    for item in alert.evidence:
        blocked = item["detectionStatus"] in {"Blocked", "Prevented"}
        entity = {k: v for k, v in item.items() if v is not None and k != "detectionStatus"}
        entity["verdict"] = "Malicious" if blocked else "Suspicious"
        entity["remediationStatus"] = "Prevented" if blocked else "None"
        entity["deviceId"] = data["machineId"]
        entities.append(entity)
    return {
        "alertId": data["id"],
        "providerAlertId": data["id"],
        "incidentId": data["incidentId"],
        "serviceSource": "MicrosoftDefenderForEndpoint",
        "creationTime": data["alertCreationTime"],
        "lastUpdatedTime": data["lastUpdateTime"],
        "resolvedTime": data["resolvedTime"],
        "firstActivity": data["firstEventTime"],
        "lastActivity": data["lastEventTime"],
        "title": data["title"],
        "description": data["description"],
        "category": data["category"],
        "status": data["status"],
        "severity": data["severity"],
        "investigationId": data["investigationId"],
        "investigationState": data["investigationState"],
        "classification": data["classification"],
        "determination": data["determination"],
        "detectionSource": XDR_DETECTION_SOURCE.get(
            data["detectionSource"], data["detectionSource"]
        ),
        "detectorId": data["detectorId"],
        "assignedTo": data["assignedTo"],
        "actorName": None,
        "threatFamilyName": data["threatFamilyName"],
        "mitreTechniques": data["mitreTechniques"],
        "devices": devices,
        "entities": entities,
    }


def incident_json(incident: Incident, tenant: Tenant) -> dict[str, Any]:
    """An incident in Defender XDR's shape, derived from its alerts."""
    alerts = incident.alerts
    status = incident.status
    classification, determination = "Unknown", "NotAvailable"
    if status == "Resolved" and alerts and alerts[0].data["classification"]:
        classification = alerts[0].data["classification"]
        determination = alerts[0].data["determination"] or "NotAvailable"
    return {
        "incidentId": incident.incident_id,
        "incidentUri": f"https://security.microsoft.com/incidents/{incident.incident_id}"
        f"?tid={tenant.tenant_id}",
        "redirectIncidentId": None,
        "incidentName": incident.name,
        "createdTime": format_ticks(incident.created),
        "lastUpdateTime": format_ticks(incident.last_update),
        "assignedTo": incident.assigned_to,
        "classification": classification,
        "determination": determination,
        "status": status,
        "severity": incident.severity,
        "tags": list(incident.tags),
        "comments": list(incident.comments),
        "alerts": [_xdr_alert(a) for a in alerts],
    }
