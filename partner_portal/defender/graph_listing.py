"""How :class:`~.graph.GraphClient` lists alerts and incidents changed since a watermark.

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

The functions here are the client's listing machinery; callers use the client's
``iter_alert_pages`` and ``iter_incident_pages``, which check their arguments and
delegate here. Every request still goes through the client's one door.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .clouds import GRAPH_ALERT_READ, GRAPH_INCIDENT_READ
from .errors import MalformedResponse, PageLimitExceeded, ServerError
from .graph_records import (
    GraphAlert,
    GraphIncident,
    GraphPage,
    graph_envelope,
    parse_graph_alert_page,
    parse_graph_alerts,
    parse_graph_incident_page,
)
from .graph_requests import without_expand
from .paging import Ahead
from .records import format_timestamp

if TYPE_CHECKING:
    from .graph import GraphClient

__all__ = ["ALERTS", "INCIDENTS", "ORDER", "alert_pages", "incident_pages"]

ALERTS = "/security/alerts_v2"
INCIDENTS = "/security/incidents"
ORDER = "lastUpdateDateTime asc"  # undocumented, used in production by Elastic


# -- alerts -------------------------------------------------------------------------


def alert_pages(
    client: GraphClient, since: datetime | None, *, page_size: int, bound: int
) -> Iterator[list[GraphAlert]]:
    """Alerts changed after ``since``, oldest change first, each given once, at most
    ``bound`` pages (see the module's story)."""
    # With ``prefetch``, each next page is asked for while this one is read.
    ahead: Ahead[GraphPage[Any]] = Ahead(client.prefetch)
    try:
        yield from _alert_runs(client, since, page_size, bound, ahead)
    finally:
        ahead.close()


def _alert_runs(
    client: GraphClient,
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
            client._count_page(number, bound)
            raw = ahead.result(url, functools.partial(_raw_alerts, client, url, query))
            if hops < client.max_hops and number < bound:
                _read_ahead(client, ahead, url, raw.next_link)
            page = _alert_page(client, url, query, raw)
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
            client.stats.items += len(fresh)
            if fresh:
                yield fresh
            link = client._next_url(url, page)
            if link is None and len(page.items) < top:
                return  # the last page
            if link is None or hops >= client.max_hops:
                break
            url, query = link, None
        if (mark, len(at_mark)) == start:
            # A whole run brought nothing new: more alerts share one timestamp than
            # a run holds. Larger pages, else stop in words rather than loop.
            if top >= client.max_page_size:
                stuck = f"alert listing cannot advance past lastUpdateDateTime {mark}"
                raise PageLimitExceeded(None, None, stuck)
            top = min(2 * top, client.max_page_size)
        operator = "ge"
        client.stats.filter_restarts += 1


def _raw_alerts(
    client: GraphClient, url: str, query: dict[str, str | int] | None = None
) -> GraphPage[Any]:
    """A page of alerts as it came; read by :func:`_alert_page` (in the caller's
    thread while the next page is on its way, with the client's ``prefetch``)."""
    page: GraphPage[Any] = client._call(
        GRAPH_ALERT_READ, "GET", url, params=query, parse=graph_envelope
    )
    return page


def _read_ahead(
    client: GraphClient, ahead: Ahead[GraphPage[Any]], url: str, link: str | None
) -> None:
    """Ask for the page at ``link`` now, in the background, if it will be followed
    (a link that the client's ``_next_url`` refuses is not)."""
    if link is not None and link != url and client.same_origin(link):
        ahead.start(link, functools.partial(_raw_alerts, client, link))


def _alert_page(
    client: GraphClient, url: str, query: dict[str, str | int] | None, raw: GraphPage[Any]
) -> GraphPage[GraphAlert]:
    try:
        page = GraphPage(parse_graph_alerts(raw.items), raw.next_link, raw.count)
    except MalformedResponse:
        # A garbled item may be a passing fault: the page is asked for again, with
        # the usual bounds.
        page = client._call(
            GRAPH_ALERT_READ, "GET", url, params=query, parse=parse_graph_alert_page
        )
    client.stats.pages += 1
    return page


# -- incidents ----------------------------------------------------------------------


def incident_pages(
    client: GraphClient,
    since: datetime | None,
    *,
    expand_alerts: bool,
    page_size: int | None,
    bound: int,
) -> Iterator[list[GraphIncident]]:
    """Incidents changed after ``since``, one list per page, at most ``bound`` pages,
    with their alerts when ``expand_alerts`` (see the module's story for the fallback)."""
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
        client._count_page(number, bound)
        try:
            page = client._page(GRAPH_INCIDENT_READ, url, query, parse_graph_incident_page)
        except ServerError:
            if not expand:
                raise
            expand = False
            url = without_expand(url)
            query = None if query is None else params
            page = client._page(GRAPH_INCIDENT_READ, url, query, parse_graph_incident_page)
        if expand_alerts and not expand:
            client.stats.expand_fallbacks += 1
            items = [
                dataclasses.replace(i, alerts=tuple(client.incident_alerts(i.id)))
                for i in page.items
            ]
        else:
            items = page.items
        fresh = [i for i in items if i.id not in given]
        given.update(i.id for i in fresh)
        client.stats.items += len(fresh)
        yield fresh
        url, query = client._next_url(url, page), None
        if url is not None and not expand:
            url = without_expand(url)
