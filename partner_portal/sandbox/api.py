"""The Defender APIs: Defender for Endpoint alerts (``/api/alerts``) and Defender XDR
incidents (``/api/incidents``), with OData paging, token checks, documented call limits
and injected faults.

Both APIs share the sandbox's one origin, so the path decides which behaviour applies.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from .catalog import XDR_DETECTION_SOURCE
from .directory import Tenant
from .faults import Faults
from .identity import MDE_AUDIENCE, XDR_AUDIENCE, ApiAuthError, Identity
from .limits import RateLimiter, Stats, Throttle
from .model import Alert, Incident, dumps, format_ticks
from .odata import Field, ODataError, compile_filter, parse_int_option, select_page
from .state import Sandbox
from .web import Request, Response, json_response

MAX_ALERTS_TOP = 10_000
MAX_INCIDENTS_TOP = 100
MDE_AUDIENCES = {MDE_AUDIENCE, "https://securitycenter.onmicrosoft.com/windowsatpservice"}
ALERT_READ_ROLES = {"Alert.Read.All", "Alert.ReadWrite.All"}
INCIDENT_READ_ROLES = {"Incident.Read.All", "Incident.ReadWrite.All"}

ALERT_FIELDS = {
    "alertCreationTime": Field("datetime", lambda a: a.created),
    "lastUpdateTime": Field("datetime", lambda a: a.updated),
    "lastEventTime": Field("datetime", lambda a: a.last_event),
    "incidentId": Field("int", lambda a: a.data["incidentId"]),
    "investigationId": Field("int", lambda a: a.data["investigationId"]),
    "id": Field("string", lambda a: a.data["id"]),
    "assignedTo": Field("string", lambda a: a.data["assignedTo"]),
    "detectionSource": Field("string", lambda a: a.data["detectionSource"]),
    "category": Field("string", lambda a: a.data["category"]),
    "status": Field(
        "enum",
        lambda a: a.data["status"],
        frozenset({"Unknown", "New", "InProgress", "Resolved"}),
    ),
    "severity": Field(
        "enum",
        lambda a: a.data["severity"],
        frozenset({"UnSpecified", "Informational", "Low", "Medium", "High"}),
    ),
}
INCIDENT_FIELDS = {
    "lastUpdateTime": Field("datetime", lambda i: i.last_update),
    "createdTime": Field("datetime", lambda i: i.created),
    "status": Field(
        "enum", lambda i: i.status, frozenset({"Active", "Resolved", "Redirected", "InProgress"})
    ),
    "assignedTo": Field("string", lambda i: i.assigned_to),
}

PATCH_VALUES: dict[str, frozenset[str] | None] = {
    "status": frozenset({"New", "InProgress", "Resolved"}),
    "classification": frozenset({"TruePositive", "InformationalExpectedActivity", "FalsePositive"}),
    "determination": frozenset(
        {
            "NotAvailable",
            "Apt",
            "Malware",
            "SecurityPersonnel",
            "SecurityTesting",
            "UnwantedSoftware",
            "Other",
            "MultiStagedAttack",
            "MaliciousUserActivity",
            "CompromisedAccount",
            "Phishing",
            "LineOfBusinessApplication",
            "ConfirmedActivity",
            "NotMalicious",
            "InsufficientData",
        }
    ),
    "assignedTo": None,
    "comment": None,
}


def api_error(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    """Defender's error body: ``{"error": {"code", "message", "target"}}``."""
    return json_response(
        status, {"error": {"code": code, "message": message, "target": str(uuid.uuid4())}}, headers
    )


class ApiError(Exception):
    """An error answer from inside a handler."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.response = api_error(status, code, message)


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


class DefenderApi:
    """Serves ``/api/...`` for every tenant; the token says which tenant is asking."""

    def __init__(
        self,
        sandbox: Sandbox,
        identity: Identity,
        faults: Faults,
        limiter: RateLimiter,
        stats: Stats,
    ) -> None:
        self.sandbox = sandbox
        self.identity = identity
        self.faults = faults
        self.limiter = limiter
        self.stats = stats
        self.page_size = sandbox.options.page_size

    # ---- dispatch -------------------------------------------------------------------

    def handle(self, request: Request) -> Response:
        parts = [p for p in request.path.split("/") if p]
        # /api/alerts, /api/v1.0/alerts, /api/alerts/{id}, /api/incidents[/{id}]
        if len(parts) >= 2 and parts[1].lower() == "v1.0":
            parts = [parts[0], *parts[2:]]
        if len(parts) not in {2, 3} or parts[0].lower() != "api":
            return api_error(404, "NotFound", f"Resource '{request.path}' was not found.")
        collection = parts[1].lower()
        item_id = parts[2] if len(parts) == 3 else None
        if collection == "alerts":
            api, audiences, need = "alerts", MDE_AUDIENCES, ALERT_READ_ROLES
            if request.method == "PATCH":
                need = {"Alert.ReadWrite.All"}
            allowed = {"GET", "PATCH"} if item_id else {"GET"}
        elif collection == "incidents":
            api, audiences, need = "incidents", {XDR_AUDIENCE}, INCIDENT_READ_ROLES
            allowed = {"GET"}
        else:
            return api_error(404, "NotFound", f"Resource '{request.path}' was not found.")
        if request.method not in allowed:
            return api_error(405, "MethodNotAllowed", f"{request.method} is not allowed here.")
        try:
            claims = self.identity.validate(request, audiences)
            roles = set(claims.get("roles") or [])
            if not roles & need:
                raise ApiAuthError(
                    403,
                    "The application does not have any of the required application permissions "
                    f"({', '.join(sorted(need))}) to access the resource.",
                )
        except ApiAuthError as err:
            code = "Unauthorized" if err.status == 401 else "Forbidden"
            response = api_error(err.status, code, err.message)
            if err.status == 401:
                response.headers.append(("WWW-Authenticate", 'Bearer error="invalid_token"'))
            return response
        tenant = self.sandbox.resolve(str(claims["tid"]))
        assert tenant is not None  # validate() checked it
        self.stats.call(tenant.tenant_id, api)
        fault, config = self.faults.draw_api(tenant.tenant_id)
        early = self._early_fault(fault, config.retry_after_seconds, tenant, api)
        if early is not None:
            return early
        throttle = self.limiter.admit(str(claims.get("appid")), tenant.tenant_id, api)
        if throttle is not None:
            self.stats.throttled(tenant.tenant_id, api)
            return self._throttled(throttle)
        try:
            if api == "alerts":
                if item_id is None:
                    response = self.list_alerts(request, tenant)
                elif request.method == "PATCH":
                    response = self.patch_alert(request, tenant, item_id)
                else:
                    response = self.get_alert(request, tenant, item_id)
            elif item_id is None:
                response = self.list_incidents(request, tenant)
            else:
                response = self.get_incident(tenant, item_id)
        except ApiError as err:
            response = err.response
        except ODataError as err:
            response = api_error(400, "ODataError" if api == "alerts" else "BadRequest", str(err))
        if fault == "rate_slow":
            response.delay = config.slow_seconds
        elif fault in {"rate_malformed", "rate_truncated"} and response.status == 200:
            response.fault = fault.removeprefix("rate_")
        return response

    def _early_fault(
        self, fault: str | None, retry_after: int, tenant: Tenant, api: str
    ) -> Response | None:
        if fault == "rate_429":
            self.stats.throttled(tenant.tenant_id, api)
            return self._throttled(Throttle(retry_after, 100 if api == "alerts" else 50, "Minute"))
        if fault == "rate_429_no_retry_after":
            self.stats.throttled(tenant.tenant_id, api)
            maximum = 100 if api == "alerts" else 50
            message = f"API calls quota exceeded! Maximum admitted {maximum} per Minute."
            # Half of these name a wait in the text only; the other half give no hint at all.
            if self.faults.coin(tenant.tenant_id):
                message += f" You can send requests again in {retry_after} seconds."
            return api_error(429, "TooManyRequests", message)
        if fault == "rate_500":
            return api_error(500, "InternalServerError", "An unexpected error occurred.")
        if fault == "rate_503":
            return api_error(503, "ServiceUnavailable", "The service is temporarily unavailable.")
        if fault == "rate_drop":
            return Response(0, fault="drop")
        return None

    @staticmethod
    def _throttled(throttle: Throttle) -> Response:
        return api_error(
            429,
            "TooManyRequests",
            f"API calls quota exceeded! Maximum admitted {throttle.maximum} per {throttle.unit}. "
            f"You can send requests again in {throttle.retry_after} seconds.",
            [("Retry-After", str(throttle.retry_after))],
        )

    # ---- OData helpers --------------------------------------------------------------

    @staticmethod
    def _options(request: Request, allowed: set[str]) -> dict[str, str]:
        options: dict[str, str] = {}
        for name, values in request.query.items():
            if not name.startswith("$"):
                continue
            if name.lower() not in allowed:
                raise ODataError(f"The query parameter '{name}' is not supported.")
            options[name.lower()] = values[0]
        return options

    def _next_link(self, request: Request, skip: int) -> str:
        pairs = [(k, v) for k, v in parse_qsl(request.raw_query, keep_blank_values=True)]
        pairs = [(k, v) for k, v in pairs if k.lower() != "$skip"]
        pairs.append(("$skip", str(skip)))
        query = urlencode(pairs, quote_via=quote, safe="$'(),:")
        return f"{self.sandbox.origin}{request.path}?{query}"

    def _envelope(
        self, context: str, chunks: list[bytes], next_link: str | None
    ) -> tuple[bytes, bytes]:
        """The page body, and the shorter but valid body a truncated answer sends."""

        def build(items: list[bytes]) -> bytes:
            head = b'{"@odata.context":' + dumps(f"{self.sandbox.origin}/api/$metadata#{context}")
            tail = b',"@odata.nextLink":' + dumps(next_link) if next_link else b""
            return head + b',"value":[' + b",".join(items) + b"]" + tail + b"}"

        return build(chunks), build(chunks[: len(chunks) // 2])

    # ---- alerts ---------------------------------------------------------------------

    def list_alerts(self, request: Request, tenant: Tenant) -> Response:
        options = self._options(request, {"$filter", "$top", "$skip", "$expand"})
        predicate = (
            compile_filter(options["$filter"], ALERT_FIELDS) if "$filter" in options else None
        )
        top = parse_int_option("$top", options.get("$top"), MAX_ALERTS_TOP)
        skip = parse_int_option("$skip", options.get("$skip")) or 0
        expanded = self._expand(options)
        limit = top if top is not None else self.page_size
        data = tenant.data
        with data.lock:
            page, more = select_page(data.alerts, predicate, skip, limit)
            chunks = [a.json(expanded=expanded) for a in page]
        next_link = self._next_link(request, skip + limit) if top is None and more else None
        body, short = self._envelope("Alerts", chunks, next_link)
        return Response(200, body, truncated_body=short)

    @staticmethod
    def _expand(options: dict[str, str]) -> bool:
        expand = options.get("$expand")
        if expand is None:
            return False
        if expand.strip().lower() != "evidence":
            raise ODataError(f"Could not find a property named '{expand}' to expand.")
        return True

    def _find(self, tenant: Tenant, alert_id: str) -> Alert:
        alert = tenant.data.by_id.get(alert_id)
        if alert is None:
            raise ApiError(404, "NotFound", f"Alert {alert_id} was not found.")
        return alert

    def get_alert(self, request: Request, tenant: Tenant, alert_id: str) -> Response:
        expanded = self._expand(self._options(request, {"$expand"}))
        with tenant.data.lock:
            body = self._find(tenant, alert_id).json(expanded=expanded)
        return Response(200, body)

    def patch_alert(self, request: Request, tenant: Tenant, alert_id: str) -> Response:
        try:
            changes = request.json()
        except ValueError:
            raise ApiError(400, "InvalidInput", "The request body is not valid JSON.") from None
        if not isinstance(changes, dict) or not changes:
            raise ApiError(400, "InvalidInput", "The request body must be a non-empty JSON object.")
        for key, value in changes.items():
            if key not in PATCH_VALUES:
                raise ApiError(
                    400,
                    "InvalidInput",
                    f"The property '{key}' cannot be updated. Updatable properties are: "
                    f"{', '.join(PATCH_VALUES)} (case-sensitive).",
                )
            allowed = PATCH_VALUES[key]
            if not isinstance(value, str) or (allowed is not None and value not in allowed):
                hint = f" Allowed values: {', '.join(sorted(allowed))}." if allowed else ""
                raise ApiError(400, "InvalidInput", f"Invalid value {value!r} for '{key}'.{hint}")
            if key == "comment" and not value.strip():
                raise ApiError(400, "InvalidInput", "The comment must not be empty.")
        alert = self._find(tenant, alert_id)
        self.sandbox.patch_alert(tenant, alert, changes)
        with tenant.data.lock:
            body = alert.json(expanded=False)
        return Response(200, body)

    # ---- incidents ------------------------------------------------------------------

    def list_incidents(self, request: Request, tenant: Tenant) -> Response:
        options = self._options(request, {"$filter", "$top", "$skip"})
        predicate = (
            compile_filter(options["$filter"], INCIDENT_FIELDS) if "$filter" in options else None
        )
        top = parse_int_option("$top", options.get("$top"), MAX_INCIDENTS_TOP)
        skip = parse_int_option("$skip", options.get("$skip")) or 0
        limit = top if top is not None else min(self.page_size, MAX_INCIDENTS_TOP)
        with tenant.data.lock:
            page, more = select_page(list(tenant.data.incidents.values()), predicate, skip, limit)
            chunks = [dumps(incident_json(i, tenant)) for i in page]
        next_link = self._next_link(request, skip + limit) if top is None and more else None
        body, short = self._envelope("Incidents", chunks, next_link)
        return Response(200, body, truncated_body=short)

    def get_incident(self, tenant: Tenant, raw_id: str) -> Response:
        incident = tenant.data.incidents.get(int(raw_id)) if raw_id.isdigit() else None
        if incident is None:
            raise ApiError(404, "NotFound", f"Incident {raw_id} was not found.")
        with tenant.data.lock:
            return Response(200, dumps(incident_json(incident, tenant)))

    # ---- ground truth (control API) -------------------------------------------------

    def ground_truth(self, tenant: Tenant) -> Response:
        with tenant.data.lock:
            chunks = [a.json(expanded=True) for a in tenant.data.alerts]
        return Response(200, b'{"value":[' + b",".join(chunks) + b"]}")

    def ground_truth_incidents(self, tenant: Tenant) -> Response:
        with tenant.data.lock:
            chunks = [dumps(incident_json(i, tenant)) for i in tenant.data.incidents.values()]
        return Response(200, b'{"value":[' + b",".join(chunks) + b"]}")
