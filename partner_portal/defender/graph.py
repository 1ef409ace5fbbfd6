"""The Microsoft Graph security API (``/v1.0/security``) of one customer tenant.

:class:`GraphClient` replaces :mod:`.mde` and :mod:`.xdr` (retired on 1 February 2027):
it lists ``alerts_v2`` and ``incidents`` changed since a watermark, reads and changes an
alert or an incident, comments on either, and runs advanced hunting queries.
Records are those of :mod:`.graph_records`. Like every client it is built on
:class:`~.client.DefenderApiClient`: one door, typed errors, ``Retry-After``, bounded
retries and a limiter (Graph's 150 calls a minute per app per tenant for security
alerts, :data:`GRAPH_SECURITY_LIMITS`, replaceable with ``limits=``). Every call asks
for Graph's newer enum members (``Prefer: include-unknown-enum-members``); Graph's error
body (``{"error": {"code", "message", "innerError": {"request-id"}}}``) is read into
the usual errors, and a 403 names the permission the call needs when Graph does not.

Listings go by watermark, not ``$skip``: how alerts are paged past ties on
``lastUpdateDateTime`` (with ``prefetch``) and how incidents fall back when
``$expand=alerts`` keeps failing is told in :mod:`.graph_listing`, whose functions the
listing methods delegate to.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import requests

from . import graph_listing
from .client import DefenderApiClient
from .clouds import (
    GRAPH_ALERT_READ,
    GRAPH_ALERT_READWRITE,
    GRAPH_HUNTING,
    GRAPH_INCIDENT_READ,
    GRAPH_INCIDENT_READWRITE,
)
from .errors import Forbidden, MalformedResponse, PageLimitExceeded
from .graph_hunting import HuntingColumn, HuntingResult, parse_hunting_result
from .graph_listing import ALERTS, INCIDENTS
from .graph_records import (
    GraphAlert,
    GraphComment,
    GraphIncident,
    GraphPage,
    parse_graph_alert,
    parse_graph_alert_page,
    parse_graph_incident,
)
from .graph_requests import (
    SETTABLE_ALERT_STATUSES,
    SETTABLE_INCIDENT_STATUSES,
    GraphClientStats,
    changes,
    enum_value,
    parse_comments,
    quoted,
)
from .graph_vocab import (
    GRAPH_ALERT_CLASSIFICATIONS,
    GRAPH_ALERT_DETERMINATIONS,
    GRAPH_ALERT_STATUSES,
    GRAPH_INCIDENT_STATUSES,
)
from .rate_limit import Limits, RateLimiter, per_minute

__all__ = [
    "GRAPH_MAX_TOP",
    "GRAPH_SECURITY_LIMITS",
    "GraphClient",
    "GraphClientStats",
    "HuntingColumn",
    "HuntingResult",
]

R = TypeVar("R")

#: Graph's documented throttle for security alerts, per application per tenant.
GRAPH_SECURITY_LIMITS: Limits = (per_minute(150),)
#: The largest ``$top`` Graph honours for alerts (larger values are clamped).
GRAPH_MAX_TOP = 1000

ALERT_READ, ALERT_WRITE = GRAPH_ALERT_READ, GRAPH_ALERT_READWRITE
INCIDENT_READ, INCIDENT_WRITE = GRAPH_INCIDENT_READ, GRAPH_INCIDENT_READWRITE
HUNTING = GRAPH_HUNTING


class GraphClient(DefenderApiClient):
    """Microsoft Graph security (alerts, incidents, hunting) of one customer tenant."""

    endpoint_field = "graph_url"
    base_path = "/v1.0"
    resource_field = "graph_resource"
    limits = GRAPH_SECURITY_LIMITS
    limiter_scope = "graph"
    max_page_size = GRAPH_MAX_TOP
    default_headers: ClassVar[dict[str, str]] = {
        "Accept": "application/json",
        "Prefer": "include-unknown-enum-members",
    }
    #: ``@odata.nextLink`` hops before an alert listing starts again from its watermark.
    max_hops: ClassVar[int] = 50

    def __init__(
        self,
        base_url: str,
        tenant_id: str,
        get_token: Callable[[bool], str],
        *,
        limits: Limits | None = None,
        **kwargs: Any,
    ) -> None:
        if limits is not None and kwargs.get("limiter") is None:
            timing = {k: kwargs[k] for k in ("clock", "sleep") if k in kwargs}
            kwargs["limiter"] = RateLimiter(limits, **timing)
        super().__init__(base_url, tenant_id, get_token, **kwargs)
        self.stats: GraphClientStats = GraphClientStats()

    def error_fields(self, response: requests.Response) -> tuple[str | None, str]:
        """Graph's ``error.code``/``error.message``, with the request ID Microsoft's
        support asks for when there is one."""
        code, message = super().error_fields(response)
        try:
            inner = response.json()["error"]["innerError"]
            request_id = inner.get("request-id")
        except (ValueError, KeyError, TypeError, AttributeError):
            return code, message
        if isinstance(request_id, str) and request_id:
            message = f"{message} (request-id {request_id})"
        return code, message

    # -- calls --------------------------------------------------------------------

    def _call(self, permission: str, method: str, path: str, **kwargs: Any) -> Any:
        """``_request``, with a 403 that names ``permission`` if Graph named none."""
        try:
            return self._request(method, path, **kwargs)
        except Forbidden as exc:
            if exc.missing_permissions:
                raise
            text = f"{exc.message} (this call needs {permission})".lstrip()
            raise Forbidden(exc.status, exc.code, text) from None

    def _page(
        self,
        permission: str,
        url: str,
        query: dict[str, str | int] | None,
        parse: Callable[[Any], GraphPage[R]],
    ) -> GraphPage[R]:
        page: GraphPage[R] = self._call(permission, "GET", url, params=query, parse=parse)
        self.stats.pages += 1
        return page

    def _next_url(self, url: str, page: GraphPage[Any]) -> str | None:
        link = page.next_link
        if link is not None:
            if not self.same_origin(link):
                raise MalformedResponse(200, None, "@odata.nextLink points outside the API host")
            if link == url:
                raise MalformedResponse(200, None, "@odata.nextLink repeats the page")
        return link

    def _count_page(self, number: int, bound: int) -> None:
        if number > bound:
            raise PageLimitExceeded(None, None, f"more than {bound} pages")

    def _follow(
        self,
        permission: str,
        path: str,
        params: dict[str, str | int],
        parse: Callable[[Any], GraphPage[R]],
        max_pages: int,
    ) -> Iterator[GraphPage[R]]:
        url: str | None = path
        query: dict[str, str | int] | None = params
        number = 0
        while url is not None:
            number += 1
            self._count_page(number, max_pages)
            page = self._page(permission, url, query, parse)
            yield page
            url, query = self._next_url(url, page), None

    # -- alerts -------------------------------------------------------------------

    def iter_alert_pages(
        self,
        since: datetime | None = None,
        *,
        page_size: int = GRAPH_MAX_TOP,
        max_pages: int | None = None,
    ) -> Iterator[list[GraphAlert]]:
        """Alerts changed after ``since`` (all without it), oldest change first, one
        list per page; each alert is given once (see :mod:`.graph_listing`)."""
        self._check_page_size(page_size)
        bound = self.default_max_pages if max_pages is None else max_pages
        yield from graph_listing.alert_pages(self, since, page_size=page_size, bound=bound)

    def incident_alerts(self, incident_id: str) -> list[GraphAlert]:
        """All alerts of one incident (``$filter=incidentId eq '…'``)."""
        params: dict[str, str | int] = {"$filter": f"incidentId eq {quoted(incident_id)}"}
        alerts: list[GraphAlert] = []
        for page in self._follow(ALERT_READ, ALERTS, params, parse_graph_alert_page, 100):
            alerts.extend(page.items)
        return list({alert.id: alert for alert in alerts}.values())

    def get_alert(self, alert_id: str) -> GraphAlert:
        path = f"{ALERTS}/{quote(alert_id, safe='')}"
        alert: GraphAlert = self._call(ALERT_READ, "GET", path, parse=parse_graph_alert)
        return alert

    def update_alert(
        self,
        alert_id: str,
        *,
        status: str | None = None,
        classification: str | None = None,
        determination: str | None = None,
        assigned_to: str | None = None,
    ) -> GraphAlert:
        """Change an alert and return it as Graph now has it (``SecurityAlert.ReadWrite.All``).

        Enum values are sent in Graph's spelling whatever their case here.
        """
        body = changes(
            status=enum_value(GRAPH_ALERT_STATUSES, status, SETTABLE_ALERT_STATUSES),
            classification=enum_value(GRAPH_ALERT_CLASSIFICATIONS, classification),
            determination=enum_value(GRAPH_ALERT_DETERMINATIONS, determination),
            assignedTo=assigned_to,
        )
        path = f"{ALERTS}/{quote(alert_id, safe='')}"
        alert: GraphAlert = self._call(
            ALERT_WRITE, "PATCH", path, json=body, parse=parse_graph_alert
        )
        return alert

    def add_alert_comment(self, alert_id: str, text: str) -> tuple[GraphComment, ...]:
        """Comment on an alert; returns all its comments (credited to the app)."""
        return self._comment(ALERT_WRITE, f"{ALERTS}/{quote(alert_id, safe='')}/comments", text)

    def _comment(self, permission: str, path: str, text: str) -> tuple[GraphComment, ...]:
        if not text.strip():
            raise ValueError("a comment needs text")
        body = {"@odata.type": "microsoft.graph.security.alertComment", "comment": text}
        # Not repeated after a dropped connection: the comment may already be there.
        comments: tuple[GraphComment, ...] = self._call(
            permission, "POST", path, json=body, idempotent=False, parse=parse_comments
        )
        return comments

    # -- incidents ----------------------------------------------------------------

    def iter_incident_pages(
        self,
        since: datetime | None = None,
        *,
        expand_alerts: bool = True,
        page_size: int | None = None,
        max_pages: int | None = None,
    ) -> Iterator[list[GraphIncident]]:
        """Incidents changed after ``since`` (all without it), one list per page, with
        their alerts when ``expand_alerts`` (see :mod:`.graph_listing` for the fallback)."""
        self._check_page_size(page_size)
        bound = self.default_max_pages if max_pages is None else max_pages
        yield from graph_listing.incident_pages(
            self, since, expand_alerts=expand_alerts, page_size=page_size, bound=bound
        )

    def get_incident(self, incident_id: str, *, expand_alerts: bool = False) -> GraphIncident:
        """One incident as Graph has it now, with its alerts when ``expand_alerts`` (one
        incident by ID, without ``$filter``, which is not what made ``$expand`` fail)."""
        path = f"{INCIDENTS}/{quote(incident_id, safe='')}"
        params = {"$expand": "alerts"} if expand_alerts else None
        incident: GraphIncident = self._call(
            INCIDENT_READ, "GET", path, params=params, parse=parse_graph_incident
        )
        return incident

    def update_incident(
        self,
        incident_id: str,
        *,
        status: str | None = None,
        classification: str | None = None,
        determination: str | None = None,
        assigned_to: str | None = None,
        custom_tags: Sequence[str] | None = None,
    ) -> GraphIncident:
        """Change an incident (``SecurityIncident.ReadWrite.All``); returns it as Graph
        now has it. ``custom_tags`` replaces the incident's tags."""
        body = changes(
            status=enum_value(GRAPH_INCIDENT_STATUSES, status, SETTABLE_INCIDENT_STATUSES),
            classification=enum_value(GRAPH_ALERT_CLASSIFICATIONS, classification),
            determination=enum_value(GRAPH_ALERT_DETERMINATIONS, determination),
            assignedTo=assigned_to,
            customTags=None if custom_tags is None else list(custom_tags),
        )
        path = f"{INCIDENTS}/{quote(incident_id, safe='')}"
        incident: GraphIncident = self._call(
            INCIDENT_WRITE, "PATCH", path, json=body, parse=parse_graph_incident
        )
        return incident

    def add_incident_comment(self, incident_id: str, text: str) -> tuple[GraphComment, ...]:
        """Comment on an incident; returns all its comments (credited to the app)."""
        path = f"{INCIDENTS}/{quote(incident_id, safe='')}/comments"
        return self._comment(INCIDENT_WRITE, path, text)

    # -- hunting ------------------------------------------------------------------

    def run_hunting_query(self, query: str, timespan: str | None = None) -> HuntingResult:
        """Run a KQL query (``ThreatHunting.Read.All``); ``timespan`` is ISO 8601
        (``P30D`` or ``start/end``). A query Microsoft rejects raises ``InvalidRequest``
        with Microsoft's words."""
        if not query.strip():
            raise ValueError("a hunting query needs text")
        body = {"Query": query} if timespan is None else {"Query": query, "Timespan": timespan}
        result: HuntingResult = self._call(
            HUNTING, "POST", "/security/runHuntingQuery", json=body, parse=parse_hunting_result
        )
        return result
