"""Graph's ``/v1.0/security/alerts_v2``: list (``$filter``, ``$orderby``, ``$top`` clamped
to 1,000, ``$skip``, ``$count``, ``@odata.nextLink``), get, PATCH (``status``,
``classification``, ``determination``, ``assignedTo``) and ``POST …/comments`` (the body
an object, or a JSON array as msgraph-sdk sends; the answer the whole comment list).
Roles ``SecurityAlert.Read.All`` / ``SecurityAlert.ReadWrite.All``; 150 calls a minute.
Enum members newer than ``unknownFutureValue`` only for callers that ask
(``graph_enums.py``).

The control API's ``GET /_sandbox/tenants/{id}/graph/ground-truth`` answers every Graph
alert and incident, without faults or counting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .api import ApiError
from .directory import Tenant
from .graph_data import GraphData, change_extra
from .graph_enums import (
    ALERT_CLASSIFICATION,
    ALERT_DETERMINATION,
    ALERT_NEWER,
    alert_as_seen,
    check_body,
    enum_field,
    invalid_value,
    settable,
    wants_newer,
)
from .graph_gate import graph_family
from .graph_views import (
    GRAPH_TO_MDE_DETERMINATION,
    View,
    alert_views,
    endpoint_alert,
    ordered_views,
    upper_first,
)
from .model import Alert, dumps
from .odata import Field, compile_filter, next_link, parse_int_option, query_options
from .state import Sandbox
from .web import Request, Response, json_response

if TYPE_CHECKING:
    from .app import SandboxApp

GRAPH_ALERTS = graph_family("graph_alerts")
READ = {"SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"}
WRITE = {"SecurityAlert.ReadWrite.All"}
MAX_TOP = 1000
CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2"


def _text(name: str) -> Field:
    return Field("string", lambda v: v.record[name])


def alert_fields(include: bool) -> dict[str, Field]:
    """The filterable properties; enums as a caller with(out) the preference sees them."""

    def enum(name: str) -> Field:
        return enum_field(name, ALERT_NEWER[name], include, lambda v: v.record[name])

    return {
        "createdDateTime": Field("datetime", lambda v: v.created),
        "lastUpdateDateTime": Field("datetime", lambda v: v.updated),
        "status": enum("status"),
        "severity": enum("severity"),
        "serviceSource": enum("serviceSource"),
        "classification": enum("classification"),
        "determination": enum("determination"),
        "assignedTo": _text("assignedTo"),
        "incidentId": _text("incidentId"),
        "id": _text("id"),
    }


# Enum values must be members of Graph's enums (its metadata, whose determination
# members differ from some spellings of the reference page's property list).
PATCH_VALUES: dict[str, frozenset[str] | None] = {
    "status": frozenset({"new", "inProgress", "resolved"}),
    "classification": settable(ALERT_CLASSIFICATION),
    "determination": settable(ALERT_DETERMINATION),
    "assignedTo": None,
}


def register(app: SandboxApp) -> None:
    api = GraphAlertsApi(app.sandbox, app.graph_data)
    item = r"alerts_v2/(?P<alert_id>[^/]+)"
    app.graph.route("GET", r"alerts_v2", GRAPH_ALERTS, READ, api.list_alerts)
    app.graph.route("GET", item, GRAPH_ALERTS, READ, api.get_alert)
    app.graph.route("PATCH", item, GRAPH_ALERTS, WRITE, api.patch_alert)
    app.graph.route("POST", item + "/comments", GRAPH_ALERTS, WRITE, api.add_comment)


def page(
    request: Request,
    origin: str,
    items: list[Any],
    fields: dict[str, Field],
    orderby: set[str],
    extra: set[str] | None = None,
    ordered: Callable[[str, bool], list[Any]] | None = None,
) -> tuple[list[Any], dict[str, Any], dict[str, str]]:
    """Filter, order and cut a page; the envelope's OData keys besides ``value``.

    ``ordered(name, descending)``, when given, answers ``items`` sorted on a field (a
    cached order); ordering before filtering keeps the same items in the same order.
    """
    options = query_options(
        request, {"$filter", "$top", "$skip", "$count", "$orderby", *(extra or set())}
    )
    predicate = compile_filter(options["$filter"], fields) if "$filter" in options else None
    order = options.get("$orderby")
    if order:
        name, _, direction = order.strip().partition(" ")
        if name not in orderby or direction.strip().lower() not in {"", "asc", "desc"}:
            raise ApiError(400, "BadRequest", f"Invalid $orderby '{order}'.")
        descending = direction.strip().lower() == "desc"
        if ordered is not None:
            items = ordered(name, descending)
        else:
            items = sorted(items, key=fields[name].get, reverse=descending)
    if predicate is not None:
        items = [i for i in items if predicate(i)]
    top = parse_int_option("$top", options.get("$top"))
    limit = min(top if top is not None else MAX_TOP, MAX_TOP)
    skip = parse_int_option("$skip", options.get("$skip")) or 0
    chunk = items[skip : skip + limit]
    meta: dict[str, Any] = {}
    if options.get("$count", "").lower() == "true":
        meta["@odata.count"] = len(items)
    if skip + limit < len(items):
        meta["@odata.nextLink"] = next_link(origin, request, skip + limit)
    return chunk, meta, options


class GraphAlertsApi:
    def __init__(self, sandbox: Sandbox, data: GraphData) -> None:
        self.sandbox = sandbox
        self.data = data

    def list_alerts(self, request: Request, tenant: Tenant) -> Response:
        include = wants_newer(request)
        fields = alert_fields(include)
        graph = self.data.of(tenant)
        views = alert_views(tenant, graph)

        def ordered(name: str, descending: bool) -> list[View]:
            # Only timestamps are orderable, which look the same with or without Prefer.
            return ordered_views(graph, views, fields[name].get, name, descending)

        chunk, meta, _ = page(
            request,
            self.sandbox.origin,
            views,
            fields,
            {"lastUpdateDateTime", "createdDateTime"},
            ordered=ordered,
        )
        if not include:
            value = [alert_as_seen(v.record, include) for v in chunk]
            return Response(200, dumps({"@odata.context": CONTEXT, **meta, "value": value}))
        # The body is joined from each alert's cached serialisation.
        head = dumps({"@odata.context": CONTEXT, **meta})[:-1]
        return Response(200, head + b',"value":[' + b",".join(v.json() for v in chunk) + b"]}")

    def _find(self, tenant: Tenant, alert_id: str) -> View:
        with tenant.data.lock:
            alert = tenant.data.by_id.get(alert_id)
            if alert is not None:
                return View(endpoint_alert(alert, tenant), alert.created, alert.updated, alert)
        graph = self.data.of(tenant)
        with graph.lock:
            for extra in graph.extras:
                if extra.data["id"] == alert_id:
                    return View(extra.data, extra.created, extra.updated, extra)
        raise ApiError(404, "NotFound", f"Alert with id '{alert_id}' was not found.")

    def get_alert(self, request: Request, tenant: Tenant, alert_id: str) -> Response:
        record = self._find(tenant, alert_id).record
        return json_response(200, alert_as_seen(record, wants_newer(request)))

    def patch_alert(self, request: Request, tenant: Tenant, alert_id: str) -> Response:
        changes = self._body(request)
        if not isinstance(changes, dict) or not changes:
            raise ApiError(400, "BadRequest", "The request body must be a non-empty JSON object.")
        include = wants_newer(request)
        changes = {k: v for k, v in changes.items() if not k.startswith("@odata.")}
        changes = check_body(changes, ALERT_NEWER, include)
        for key, value in changes.items():
            if key not in PATCH_VALUES:
                raise ApiError(400, "BadRequest", f"Property '{key}' cannot be updated.")
            allowed = PATCH_VALUES[key]
            if value is not None and not isinstance(value, str):
                raise ApiError(400, "BadRequest", f"Invalid value for '{key}'.")
            if allowed is not None and value not in allowed:
                raise invalid_value(key, value, sorted(allowed))
        view = self._find(tenant, alert_id)
        if changes:
            self._apply(tenant, view, changes, None)
            view = self._find(tenant, alert_id)
        return json_response(200, alert_as_seen(view.record, include))

    def add_comment(self, request: Request, tenant: Tenant, alert_id: str) -> Response:
        body = self._body(request)
        # msgraph-sdk posts the comment as a one-item JSON array.
        item = body[0] if isinstance(body, list) and len(body) == 1 else body
        comment = item.get("comment") if isinstance(item, dict) else None
        if not isinstance(comment, str) or not comment.strip():
            raise ApiError(400, "BadRequest", "The body must carry a non-empty 'comment'.")
        self._apply(tenant, self._find(tenant, alert_id), {}, comment)
        comments = self._find(tenant, alert_id).record["comments"]
        return json_response(200, {"value": comments})

    @staticmethod
    def _body(request: Request) -> Any:
        try:
            return request.json()
        except ValueError:
            raise ApiError(400, "BadRequest", "The request body is not valid JSON.") from None

    def _apply(
        self, tenant: Tenant, view: View, changes: dict[str, Any], comment: str | None
    ) -> None:
        source = view.source
        if isinstance(source, Alert):
            mde: dict[str, Any] = {}
            for key, value in changes.items():
                if key == "assignedTo" or value is None:
                    mde[key] = value
                elif key == "determination" and value in GRAPH_TO_MDE_DETERMINATION:
                    mde[key] = GRAPH_TO_MDE_DETERMINATION[value]
                else:
                    mde[key] = upper_first(value)
            if comment is not None:
                mde["comment"] = comment
            if mde:
                self.sandbox.patch_alert(tenant, source, mde)
            return
        graph = self.data.of(tenant)
        with graph.lock:
            change_extra(graph, source, changes, comment, self.sandbox.client_id)
        self.data.save()
