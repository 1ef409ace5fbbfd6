"""Graph's ``/v1.0/security/incidents``: list (``$filter``, ``$expand=alerts``, paging),
get, PATCH (``status``, ``classification``, ``determination``, ``assignedTo``,
``customTags``) and ``POST …/comments``. Roles ``SecurityIncident.Read.All`` /
``SecurityIncident.ReadWrite.All``; 150 calls a minute. Enum members newer than
``unknownFutureValue`` (status ``awaitingAction``) only for callers that ask
(``graph_enums.py``).

Incidents group the Graph alerts (``graph_data.py``) by ``incidentId``; status, severity
and ``lastUpdateDateTime`` follow their alerts unless a caller set them. Merged incidents
answer status ``redirected`` with ``redirectIncidentId``. The ``expand_500`` fault makes
``$expand=alerts`` together with ``$filter`` answer 500, as Microsoft did for Elastic.

Also the control API's ``GET /_sandbox/tenants/{id}/graph/ground-truth``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .api import ApiError
from .directory import Tenant
from .faults import Faults
from .graph_alerts_api import page
from .graph_data import GraphData, GraphTenant, IncidentState
from .graph_enums import (
    ALERT_CLASSIFICATION,
    ALERT_DETERMINATION,
    INCIDENT_NEWER,
    check_body,
    enum_field,
    incident_as_seen,
    invalid_value,
    settable,
    wants_newer,
)
from .graph_gate import graph_family
from .graph_views import View, alert_views
from .model import dumps, format_ticks, now_ticks, parse_datetime
from .odata import Field
from .state import Sandbox
from .web import Request, Response, json_response

if TYPE_CHECKING:
    from .app import SandboxApp

GRAPH_INCIDENTS = graph_family("graph_incidents")
READ = {"SecurityIncident.Read.All", "SecurityIncident.ReadWrite.All"}
WRITE = {"SecurityIncident.ReadWrite.All"}
SEVERITY_RANK = {"unknown": 0, "informational": 1, "low": 2, "medium": 3, "high": 4}
# The statuses a caller may set (redirected and awaitingAction are Microsoft's to give).
SETTABLE_STATUSES = ("active", "inProgress", "resolved")


def incident_fields(include: bool) -> dict[str, Field]:
    """The filterable properties; enums as a caller with(out) the preference sees them."""

    def enum(name: str) -> Field:
        return enum_field(name, INCIDENT_NEWER[name], include, lambda i: i[name])

    return {
        "createdDateTime": Field("datetime", lambda i: parse_datetime(i["createdDateTime"])),
        "lastUpdateDateTime": Field("datetime", lambda i: parse_datetime(i["lastUpdateDateTime"])),
        "status": enum("status"),
        "severity": enum("severity"),
        "classification": enum("classification"),
        "determination": enum("determination"),
        "assignedTo": Field("string", lambda i: i["assignedTo"]),
    }


def register(app: SandboxApp) -> None:
    api = GraphIncidentsApi(app.sandbox, app.graph_data, app.faults)
    item = r"incidents/(?P<incident_id>[^/]+)"
    app.graph.route("GET", r"incidents", GRAPH_INCIDENTS, READ, api.list_incidents)
    app.graph.route("GET", item, GRAPH_INCIDENTS, READ, api.get_incident)
    app.graph.route("PATCH", item, GRAPH_INCIDENTS, WRITE, api.patch_incident)
    app.graph.route("POST", item + "/comments", GRAPH_INCIDENTS, WRITE, api.add_comment)
    app.control.route(
        "GET",
        r"/_sandbox/tenants/(?P<tid>[^/]+)/graph/ground-truth",
        lambda r, p, tid: api.ground_truth(app.control.tenant(r, tid)),
    )


class GraphIncidentsApi:
    def __init__(self, sandbox: Sandbox, data: GraphData, faults: Faults) -> None:
        self.sandbox = sandbox
        self.data = data
        self.faults = faults

    def incidents(self, tenant: Tenant) -> tuple[list[dict[str, Any]], list[View]]:
        graph = self.data.of(tenant)
        views = alert_views(tenant, graph)
        groups: dict[int, list[View]] = {}
        for view in views:
            groups.setdefault(int(view.record["incidentId"]), []).append(view)
        with tenant.data.lock:
            created = {i: inc.created for i, inc in tenant.data.incidents.items()}
            names = {i: inc.name for i, inc in tenant.data.incidents.items()}
        with graph.lock:
            result = [
                self._incident(tenant, graph, iid, alerts, created, names)
                for iid, alerts in sorted(groups.items())
            ]
        return result, views

    def _incident(
        self,
        tenant: Tenant,
        graph: GraphTenant,
        iid: int,
        alerts: list[View],
        created: dict[int, int],
        names: dict[int, str],
    ) -> dict[str, Any]:
        state = graph.incidents.get(iid) or IncidentState()
        first = created.get(iid) or graph.created.get(iid) or min(a.created for a in alerts)
        updated = max([first, state.updated, *(a.updated for a in alerts)])
        if state.redirect_to is not None:
            status = "redirected"
        elif state.status is not None:
            status = state.status
        elif all(a.record["status"] == "resolved" for a in alerts):
            status = "resolved"
        else:
            status = "active"
        assigned = state.assigned_to or next(
            (a.record["assignedTo"] for a in alerts if a.record["assignedTo"]), None
        )
        products = sorted({a.record["serviceSource"] for a in alerts})
        name = names.get(iid) or f"{alerts[0].record['title']} involving one user"
        if len(products) > 1:
            name = f"Multi-stage incident on {len(products)} products: {name}"
        return {
            "id": str(iid),
            "tenantId": tenant.tenant_id,
            "displayName": name,
            "incidentWebUrl": f"https://security.microsoft.com/incidents/{iid}?tid={tenant.tenant_id}",
            "redirectIncidentId": str(state.redirect_to) if state.redirect_to else None,
            "status": status,
            "severity": max(
                (a.record["severity"] for a in alerts), key=lambda s: SEVERITY_RANK.get(s, 0)
            ),
            "classification": state.classification,
            "determination": state.determination,
            "assignedTo": assigned,
            "customTags": list(state.custom_tags),
            "systemTags": [],
            "description": None,
            "summary": None,
            "comments": list(state.comments),
            "createdDateTime": format_ticks(first),
            "lastUpdateDateTime": format_ticks(updated),
            "_alertIds": [a.record["id"] for a in alerts],
        }

    @staticmethod
    def _public(
        incident: dict[str, Any], by_id: dict[str, dict[str, Any]] | None
    ) -> dict[str, Any]:
        """The incident as Graph shows it; with ``by_id`` (alerts by ID), its alerts too."""
        ids = incident["_alertIds"]
        out = {k: v for k, v in incident.items() if k != "_alertIds"}
        if by_id is not None:
            out["alerts"] = [by_id[i] for i in ids if i in by_id]
        return out

    @staticmethod
    def _by_id(views: list[View]) -> dict[str, dict[str, Any]]:
        return {v.record["id"]: v.record for v in views}

    def list_incidents(self, request: Request, tenant: Tenant) -> Response:
        expand = request.arg("$expand")
        if expand is not None and expand.strip().lower() != "alerts":
            raise ApiError(400, "BadRequest", f"Could not find a property named '{expand}'.")
        if expand and request.arg("$filter") and self.faults.config(tenant.tenant_id).expand_500:
            raise ApiError(500, "InternalServerError", "An unexpected error occurred.")
        include = wants_newer(request)
        incidents, views = self.incidents(tenant)
        chunk, meta, _ = page(
            request,
            self.sandbox.origin,
            incidents,
            incident_fields(include),
            {"lastUpdateDateTime", "createdDateTime"},
            {"$expand"},
        )
        context = "https://graph.microsoft.com/v1.0/$metadata#security/incidents"
        by_id = self._by_id(views) if expand else None
        value = [incident_as_seen(self._public(i, by_id), include) for i in chunk]
        return Response(200, dumps({"@odata.context": context, **meta, "value": value}))

    def _find(self, tenant: Tenant, incident_id: str) -> tuple[dict[str, Any], list[View]]:
        incidents, views = self.incidents(tenant)
        for incident in incidents:
            if incident["id"] == incident_id:
                return incident, views
        raise ApiError(404, "NotFound", f"Incident with id '{incident_id}' was not found.")

    def get_incident(self, request: Request, tenant: Tenant, incident_id: str) -> Response:
        incident, views = self._find(tenant, incident_id)
        expand = (request.arg("$expand") or "").lower() == "alerts"
        public = self._public(incident, self._by_id(views) if expand else None)
        return json_response(200, incident_as_seen(public, wants_newer(request)))

    def _state(self, graph: GraphTenant, incident_id: str) -> IncidentState:
        """The incident's changes (call under ``graph.lock``, after ``_find``: never
        look alerts up while holding ``graph.lock``, whose order is data, then graph)."""
        return graph.incidents.setdefault(int(incident_id), IncidentState())

    def patch_incident(self, request: Request, tenant: Tenant, incident_id: str) -> Response:
        try:
            changes = request.json()
        except ValueError:
            raise ApiError(400, "BadRequest", "The request body is not valid JSON.") from None
        if not isinstance(changes, dict) or not changes:
            raise ApiError(400, "BadRequest", "The request body must be a non-empty JSON object.")
        include = wants_newer(request)
        changes = {k: v for k, v in changes.items() if not k.startswith("@odata.")}
        changes = check_body(changes, INCIDENT_NEWER, include)
        allowed = {"status", "classification", "determination", "assignedTo", "customTags"}
        for key in changes:
            if key not in allowed:
                raise ApiError(400, "BadRequest", f"Property '{key}' cannot be updated.")
        tags = changes.get("customTags")
        if tags is not None and not (
            isinstance(tags, list) and all(isinstance(t, str) for t in tags)
        ):
            raise ApiError(400, "BadRequest", "customTags must be a list of strings.")
        status = changes.get("status")
        if status is not None and (not isinstance(status, str) or status not in SETTABLE_STATUSES):
            raise invalid_value("status", status, SETTABLE_STATUSES)
        for key, members in (
            ("classification", ALERT_CLASSIFICATION),
            ("determination", ALERT_DETERMINATION),
        ):
            value = changes.get(key)
            if value is not None and (not isinstance(value, str) or value not in settable(members)):
                raise invalid_value(key, value, sorted(settable(members)))
        incident, _ = self._find(tenant, incident_id)
        if not changes:  # only unknownFutureValue: nothing changes
            return json_response(200, incident_as_seen(self._public(incident, None), include))
        graph = self.data.of(tenant)
        with graph.lock:
            state = self._state(graph, incident_id)
            if "status" in changes:
                state.status = status
            for key, attr in (
                ("classification", "classification"),
                ("determination", "determination"),
                ("assignedTo", "assigned_to"),
            ):
                if key in changes:
                    setattr(state, attr, changes[key])
            if tags is not None:
                state.custom_tags = list(tags)
            state.updated = now_ticks()
        self.data.save()
        incident, _ = self._find(tenant, incident_id)
        return json_response(200, incident_as_seen(self._public(incident, None), include))

    def add_comment(self, request: Request, tenant: Tenant, incident_id: str) -> Response:
        try:
            body = request.json()
        except ValueError:
            raise ApiError(400, "BadRequest", "The request body is not valid JSON.") from None
        item = body[0] if isinstance(body, list) and len(body) == 1 else body
        comment = item.get("comment") if isinstance(item, dict) else None
        if not isinstance(comment, str) or not comment.strip():
            raise ApiError(400, "BadRequest", "The body must carry a non-empty 'comment'.")
        self._find(tenant, incident_id)
        graph = self.data.of(tenant)
        with graph.lock:
            state = self._state(graph, incident_id)
            now = now_ticks()
            state.comments.append(
                {
                    "comment": comment,
                    "createdByDisplayName": self.sandbox.client_id,
                    "createdDateTime": format_ticks(now),
                }
            )
            state.updated = now
            comments = list(state.comments)
        self.data.save()
        return json_response(200, {"value": comments})

    def ground_truth(self, tenant: Tenant) -> Response:
        incidents, views = self.incidents(tenant)
        body = {
            "alerts": [v.record for v in views],
            "incidents": [self._public(i, None) for i in incidents],
        }
        return Response(200, dumps(body))
