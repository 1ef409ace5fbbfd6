"""Defender for Endpoint alerts: ``/api/alerts`` (also ``/api/v1.0/alerts``).

- ``GET /api/alerts``: ``$filter`` on the documented properties (:data:`ALERT_FIELDS`),
  ``$top`` up to 10,000, ``$skip``, ``$expand=evidence``; without ``$top``, server pages
  of ``--page-size`` with an absolute ``@odata.nextLink``. Creation order; an updated
  alert keeps its place.
- ``GET /api/alerts/{id}`` (404 ``NotFound``) and ``PATCH /api/alerts/{id}`` with any of
  ``status``, ``assignedTo``, ``classification``, ``determination``, ``comment``
  (case-sensitive; else 400 ``InvalidInput``), role ``Alert.ReadWrite.All``.
- The control API's ``GET /_sandbox/ground-truth?tenant=ID``: every alert as the API
  returns it with ``$expand=evidence``, without faults or counting.

Token, roles, limits (100/minute, 1,500/hour) and faults are the gate's (``api.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .api import ApiError, ApiFamily
from .directory import Tenant
from .identity import MDE_AUDIENCE
from .model import Alert
from .odata import Field, Listing, ODataError, query_options
from .state import Sandbox
from .web import Request, Response

if TYPE_CHECKING:
    from .app import SandboxApp

MAX_ALERTS_TOP = 10_000
ALERTS = ApiFamily(
    "alerts",
    frozenset({MDE_AUDIENCE, "https://securitycenter.onmicrosoft.com/windowsatpservice"}),
    "ODataError",
    limits=((60, 100, "Minute"), (3600, 1500, "Hour")),
)
ALERT_READ_ROLES = {"Alert.Read.All", "Alert.ReadWrite.All"}
ALERT_WRITE_ROLES = {"Alert.ReadWrite.All"}

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


def register(app: SandboxApp) -> None:
    alerts = AlertsApi(app.sandbox)
    app.defender.route("GET", r"alerts", ALERTS, ALERT_READ_ROLES, alerts.list_alerts)
    item = r"alerts/(?P<alert_id>[^/]+)"
    app.defender.route("GET", item, ALERTS, ALERT_READ_ROLES, alerts.get_alert)
    app.defender.route("PATCH", item, ALERTS, ALERT_WRITE_ROLES, alerts.patch_alert)
    app.control.route(
        "GET", r"/_sandbox/ground-truth", lambda r, p: alerts.ground_truth(app.control.tenant(r))
    )


class AlertsApi:
    """The alerts of the tenant whose token calls."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.page_size = sandbox.options.page_size

    def list_alerts(self, request: Request, tenant: Tenant) -> Response:
        options = query_options(request, {"$filter", "$top", "$skip", "$expand"})
        listing = Listing.read(
            options, ALERT_FIELDS, max_top=MAX_ALERTS_TOP, page_size=self.page_size
        )
        expanded = self._expand(options)
        data = tenant.data
        with data.lock:
            page, more = listing.page(data.alerts)
            chunks = [a.json(expanded=expanded) for a in page]
        return listing.response(self.sandbox.origin, request, "Alerts", chunks, more)

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
        expanded = self._expand(query_options(request, {"$expand"}))
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

    # ---- ground truth (control API) -------------------------------------------------

    def ground_truth(self, tenant: Tenant) -> Response:
        with tenant.data.lock:
            chunks = [a.json(expanded=True) for a in tenant.data.alerts]
        return Response(200, b'{"value":[' + b",".join(chunks) + b"]}")
