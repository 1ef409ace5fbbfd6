"""The Microsoft Graph security API (``/v1.0/security``) of one customer tenant.

:class:`GraphClient` replaces :mod:`.mde` and :mod:`.xdr` (retired on 1 February 2027):
it lists ``alerts_v2`` and ``incidents`` changed since a watermark, reads and changes an
alert, changes an incident, comments on either, and runs advanced hunting queries.
Records are those of :mod:`.graph_records`. Like every client it is built on
:class:`~.client.DefenderApiClient`: one door, typed errors, ``Retry-After``, bounded
retries and a limiter (Graph's 150 calls a minute per app per tenant for security
alerts, :data:`GRAPH_SECURITY_LIMITS`, replaceable with ``limits=``). Every call asks
for Graph's newer enum members (``Prefer: include-unknown-enum-members``); Graph's error
body (``{"error": {"code", "message", "innerError": {"request-id"}}}``) is read into
the usual errors, and a 403 names the permission the call needs when Graph does not.

Deep listings of alerts do not use ``$skip`` (its limits are low): the listing is sorted
on ``lastUpdateDateTime`` and, when a run of ``@odata.nextLink`` hops reaches its bound
or a full page comes without a link, it starts again from the last timestamp seen
(``ge``, leaving out the alerts already given at exactly that timestamp), so nothing is
lost to ties and nothing is given twice; when more alerts share one timestamp than a run
holds, it asks for larger pages, and at 1,000 it raises ``PageLimitExceeded`` rather than
loop. It relies on ``$orderby`` being honoured (undocumented, used by Elastic). With the
client's ``prefetch`` on, each next link is fetched while the current page is read.

Incidents come with their alerts (``$expand=alerts``) unless that keeps failing with
server errors, Microsoft's known fault on large tenants (elastic/integrations#18144):
the page is then read without ``$expand`` and each incident's alerts are listed
separately, for the rest of the listing; ``stats.expand_fallbacks`` counts such pages.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, ClassVar, TypeVar
from urllib.parse import quote

import requests

from .client import DefenderApiClient
from .clouds import (
    GRAPH_ALERT_READ,
    GRAPH_ALERT_READWRITE,
    GRAPH_HUNTING,
    GRAPH_INCIDENT_READ,
    GRAPH_INCIDENT_READWRITE,
)
from .errors import Forbidden, MalformedResponse, PageLimitExceeded, ServerError
from .graph_hunting import HuntingColumn, HuntingResult, parse_hunting_result
from .graph_records import (
    GraphAlert,
    GraphComment,
    GraphIncident,
    GraphPage,
    graph_envelope,
    parse_graph_alert,
    parse_graph_alert_page,
    parse_graph_alerts,
    parse_graph_incident,
    parse_graph_incident_page,
)
from .graph_requests import (
    SETTABLE_ALERT_STATUSES,
    SETTABLE_INCIDENT_STATUSES,
    GraphClientStats,
    changes,
    enum_value,
    parse_comments,
    quoted,
    without_expand,
)
from .graph_vocab import (
    GRAPH_ALERT_CLASSIFICATIONS,
    GRAPH_ALERT_DETERMINATIONS,
    GRAPH_ALERT_STATUSES,
    GRAPH_INCIDENT_STATUSES,
)
from .paging import Ahead
from .rate_limit import Limits, RateLimiter, per_minute
from .records import format_timestamp

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

ALERTS = "/security/alerts_v2"
INCIDENTS = "/security/incidents"
ORDER = "lastUpdateDateTime asc"  # undocumented, used in production by Elastic
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
        list per page; each alert is given once (see the module's story)."""
        self._check_page_size(page_size)
        bound = self.default_max_pages if max_pages is None else max_pages
        # With ``prefetch``, each next page is asked for while this one is read.
        ahead: Ahead[GraphPage[Any]] = Ahead(self.prefetch)
        try:
            yield from self._alert_listing(since, page_size, bound, ahead)
        finally:
            ahead.close()

    def _alert_listing(
        self,
        since: datetime | None,
        page_size: int,
        bound: int,
        ahead: Ahead[GraphPage[Any]],
    ) -> Iterator[list[GraphAlert]]:
        mark = since
        at_mark: set[str] = set()  # alerts given whose change time is exactly ``mark``
        given: dict[str, datetime | None] = {}
        operator, number, top = "gt", 0, page_size
        while True:
            params: dict[str, str | int] = {"$orderby": ORDER, "$top": top}
            if mark is not None:
                params["$filter"] = f"lastUpdateDateTime {operator} {format_timestamp(mark)}"
            url: str = ALERTS
            query: dict[str, str | int] | None = params
            start = (mark, len(at_mark))
            hops = 0
            while True:
                number += 1
                hops += 1
                self._count_page(number, bound)
                raw = ahead.result(url, functools.partial(self._raw_alerts, url, query))
                if hops < self.max_hops and number < bound:
                    self._read_ahead(ahead, url, raw.next_link)
                page = self._alert_page(url, query, raw)
                fresh = []
                for alert in page.items:
                    when = alert.last_update_date_time
                    if alert.id in given and (when is None or (given[alert.id] or when) >= when):
                        continue  # given already, in this state or a newer one
                    given[alert.id] = when
                    fresh.append(alert)
                    if when is not None:
                        if mark is None or when > mark:
                            mark, at_mark = when, set()
                        at_mark.add(alert.id)
                self.stats.items += len(fresh)
                if fresh:
                    yield fresh
                link = self._next_url(url, page)
                if link is None and len(page.items) < top:
                    return  # the last page
                if link is None or hops >= self.max_hops:
                    break
                url, query = link, None
            if (mark, len(at_mark)) == start:
                # A whole run brought nothing new: more alerts share one timestamp than
                # a run holds. Larger pages, else stop in words rather than loop.
                if top >= self.max_page_size:
                    stuck = f"alert listing cannot advance past lastUpdateDateTime {mark}"
                    raise PageLimitExceeded(None, None, stuck)
                top = min(2 * top, self.max_page_size)
            operator = "ge"
            self.stats.filter_restarts += 1

    def _raw_alerts(self, url: str, query: dict[str, str | int] | None = None) -> GraphPage[Any]:
        """A page of alerts as it came; read by :meth:`_alert_page` (in the caller's
        thread while the next page is on its way, with the client's ``prefetch``)."""
        page: GraphPage[Any] = self._call(
            ALERT_READ, "GET", url, params=query, parse=graph_envelope
        )
        return page

    def _read_ahead(self, ahead: Ahead[GraphPage[Any]], url: str, link: str | None) -> None:
        """Ask for the page at ``link`` now, in the background, if it will be followed
        (a link that :meth:`_next_url` refuses is not)."""
        if link is not None and link != url and self.same_origin(link):
            ahead.start(link, functools.partial(self._raw_alerts, link))

    def _alert_page(
        self, url: str, query: dict[str, str | int] | None, raw: GraphPage[Any]
    ) -> GraphPage[GraphAlert]:
        try:
            page = GraphPage(parse_graph_alerts(raw.items), raw.next_link, raw.count)
        except MalformedResponse:
            # A garbled item may be a passing fault: the page is asked for again, with
            # the usual bounds.
            page = self._call(ALERT_READ, "GET", url, params=query, parse=parse_graph_alert_page)
        self.stats.pages += 1
        return page

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
        their alerts when ``expand_alerts`` (see the module's story for the fallback)."""
        self._check_page_size(page_size)
        bound = self.default_max_pages if max_pages is None else max_pages
        params: dict[str, str | int] = {}
        if since is not None:
            params["$filter"] = f"lastUpdateDateTime gt {format_timestamp(since)}"
        if page_size is not None:
            params["$top"] = page_size
        expand = expand_alerts
        url: str | None = INCIDENTS
        query: dict[str, str | int] | None = {**params, "$expand": "alerts"} if expand else params
        given: set[str] = set()
        number = 0
        while url is not None:
            number += 1
            self._count_page(number, bound)
            try:
                page = self._page(INCIDENT_READ, url, query, parse_graph_incident_page)
            except ServerError:
                if not expand:
                    raise
                expand = False
                url = without_expand(url)
                query = None if query is None else params
                page = self._page(INCIDENT_READ, url, query, parse_graph_incident_page)
            if expand_alerts and not expand:
                self.stats.expand_fallbacks += 1
                items = [
                    dataclasses.replace(i, alerts=tuple(self.incident_alerts(i.id)))
                    for i in page.items
                ]
            else:
                items = page.items
            fresh = [i for i in items if i.id not in given]
            given.update(i.id for i in fresh)
            self.stats.items += len(fresh)
            yield fresh
            url, query = self._next_url(url, page), None
            if url is not None and not expand:
                url = without_expand(url)

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
