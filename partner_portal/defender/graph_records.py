"""Typed, immutable records of the Microsoft Graph security API: alerts, incidents, pages.

Microsoft retires the Defender for Endpoint and Defender XDR APIs (message MC1220762:
from 6 February 2026, gone on 1 February 2027), so Graph's ``/security/alerts_v2`` and
``/security/incidents`` become the product's sources. This module reads their objects
the way :mod:`.records` reads the old ones:

* every documented field is checked and typed: :class:`GraphAlert`, :class:`GraphIncident`,
  :class:`GraphComment`, and the evidence of :mod:`.graph_evidence`; timestamps (Graph
  sends up to seven fraction digits and ``Z``) become aware UTC datetimes;
* enum values are compared without regard to case (Microsoft's own examples send both
  ``Active`` and ``active``) and stored in Graph's spelling; a value Microsoft has not
  documented is kept as sent and its field named in ``unknown_values``, never an error
  (:mod:`.graph_vocab`). An alert's ``unknown_values`` also names those of its evidence
  (``evidence[2].verdict``);
* ``raw`` is the object exactly as Microsoft sent it (the same dictionary, never
  changed), so a field Microsoft adds later is not lost;
* data of the wrong shape (not an object, no ``id``, a number where text belongs) raises
  :class:`~partner_portal.defender.errors.MalformedResponse`, the error today's parser
  raises, saying in words which object and which field. A page is read all or nothing:
  a bad item is never dropped quietly, nor does it surface as a ``KeyError``.

Shapes Microsoft's documentation shows side by side are all read: incident tags as
``customTags`` or the older ``tags``; comments as Graph's ``alertComment``
(``createdByDisplayName``, ``createdDateTime``) or as in the incident examples
(``createdBy``, ``createdTime``); an incident's ``alerts`` only when the request had
``$expand=alerts`` (``None`` otherwise, which is not the same as ``()``).

:func:`parse_graph_alert_page` and :func:`parse_graph_incident_page` read a whole answer
(``{"@odata.context", "value": [...], "@odata.nextLink"?, "@odata.count"?}``) into a
:class:`GraphPage`.

Speed: each object is read in one pass, one dictionary lookup and one type test per
field in the usual case (:mod:`.graph_schema`). A page of 1,000 alerts shaped like
Microsoft's example (four evidence items, some 130 fields an alert) takes about 40 to
50 ms of CPU on the shared 2-vCPU development machine, where ``json.loads`` of the same
page takes about 30 ms; ``bench/bench_graph_records.py`` measures it. A page is read with
the cycle collector paused (:mod:`.collector`), which otherwise adds about a quarter.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from .collector import collector_paused
from .errors import MalformedResponse
from .fields import (
    FieldError,
    malformed,
    object_items,
    read_strings,
    wrong,
)
from .graph_evidence import AlertEvidence, read_evidence_list
from .graph_observables import Observable, evidence_observables
from .graph_schema import graph_field, reader
from .graph_vocab import (
    GRAPH_ALERT_CLASSIFICATIONS,
    GRAPH_ALERT_DETERMINATIONS,
    GRAPH_ALERT_SEVERITIES,
    GRAPH_ALERT_STATUSES,
    GRAPH_DETECTION_SOURCES,
    GRAPH_INCIDENT_STATUSES,
    GRAPH_SERVICE_SOURCES,
    service_source_label,
)
from .timestamps import read_time

__all__ = [
    "GraphAlert",
    "GraphComment",
    "GraphIncident",
    "GraphPage",
    "graph_envelope",
    "parse_graph_alert",
    "parse_graph_alert_page",
    "parse_graph_alerts",
    "parse_graph_incident",
    "parse_graph_incident_page",
    "parse_graph_incidents",
]

R = TypeVar("R")


@dataclass(frozen=True, kw_only=True)
class GraphComment:
    """A comment on an alert or incident (Graph credits an app's comments to the app)."""

    comment: str | None
    created_by_display_name: str | None
    created_date_time: datetime | None


@dataclass(frozen=True, kw_only=True)
class GraphAlert:
    """One alert of ``GET /security/alerts_v2`` (or embedded in an incident)."""

    id: str
    provider_alert_id: str | None
    incident_id: str | None = graph_field(ident=True)
    tenant_id: str | None
    status: str | None = graph_field(vocab=GRAPH_ALERT_STATUSES)
    severity: str | None = graph_field(vocab=GRAPH_ALERT_SEVERITIES)
    classification: str | None = graph_field(vocab=GRAPH_ALERT_CLASSIFICATIONS)
    determination: str | None = graph_field(vocab=GRAPH_ALERT_DETERMINATIONS)
    assigned_to: str | None
    service_source: str | None = graph_field(vocab=GRAPH_SERVICE_SOURCES)
    detection_source: str | None = graph_field(vocab=GRAPH_DETECTION_SOURCES)
    product_name: str | None
    detector_id: str | None
    title: str | None
    description: str | None
    recommended_actions: str | None
    category: str | None
    actor_display_name: str | None
    threat_display_name: str | None
    threat_family_name: str | None
    mitre_techniques: tuple[str, ...]
    created_date_time: datetime | None
    last_update_date_time: datetime | None
    resolved_date_time: datetime | None
    first_activity_date_time: datetime | None
    last_activity_date_time: datetime | None
    alert_web_url: str | None
    incident_web_url: str | None
    comments: tuple[GraphComment, ...] = graph_field(manual=True)
    evidence: tuple[AlertEvidence, ...] = graph_field(manual=True)
    system_tags: tuple[str, ...]
    #: JSON names of fields whose value Microsoft does not document (kept as sent),
    #: the alert's own and its evidence's (``evidence[2].verdict``).
    unknown_values: tuple[str, ...] = ()
    #: The object exactly as Microsoft sent it, unknown fields included.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def service_source_label(self) -> str:
        """The product that raised the alert, for people ("Defender for Office 365")."""
        return service_source_label(self.service_source)

    def observables(self) -> tuple[Observable, ...]:
        """File hashes, IPs, URLs, domains, senders, app IDs, UPNs and device IDs."""
        return evidence_observables(self.evidence)


@dataclass(frozen=True, kw_only=True)
class GraphIncident:
    """One incident of ``GET /security/incidents`` (``$expand=alerts`` fills ``alerts``)."""

    id: str
    display_name: str | None
    incident_web_url: str | None
    #: Set when Microsoft merged this incident into another (status ``redirected``).
    redirect_incident_id: str | None = graph_field(ident=True)
    tenant_id: str | None
    status: str | None = graph_field(vocab=GRAPH_INCIDENT_STATUSES)
    severity: str | None = graph_field(vocab=GRAPH_ALERT_SEVERITIES)
    classification: str | None = graph_field(vocab=GRAPH_ALERT_CLASSIFICATIONS)
    determination: str | None = graph_field(vocab=GRAPH_ALERT_DETERMINATIONS)
    assigned_to: str | None
    custom_tags: tuple[str, ...] = graph_field(manual=True)
    system_tags: tuple[str, ...]
    comments: tuple[GraphComment, ...] = graph_field(manual=True)
    description: str | None
    summary: str | None
    created_date_time: datetime | None
    last_update_date_time: datetime | None
    #: None unless the request asked for ``$expand=alerts``.
    alerts: tuple[GraphAlert, ...] | None = graph_field(manual=True)
    unknown_values: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class GraphPage(Generic[R]):
    """One answer of a Graph list call: its records and the link to the next page."""

    items: list[R]
    #: ``@odata.nextLink``: where the next page is, None on the last page.
    next_link: str | None
    #: ``@odata.count``, present when the request had ``$count=true``.
    count: int | None = None


_read_alert = reader(GraphAlert)
_read_incident = reader(GraphIncident)


def _comments(key: str, value: object) -> tuple[GraphComment, ...]:
    comments = []
    for step, item in object_items(key, value):
        text, by, at = (item.get(k) for k in ("comment", "createdByDisplayName", "createdDateTime"))
        if by is None:
            by = item.get("createdBy")
        for name, got in (("comment", text), ("createdByDisplayName", by)):
            if got is not None and type(got) is not str:
                raise wrong(f"{step}.{name}", got, "text")
        at = item.get("createdTime") if at is None else at
        when = None if at is None else read_time(f"{step}.createdDateTime", at)
        comments.append(
            GraphComment(comment=text, created_by_display_name=by, created_date_time=when)
        )
    return tuple(comments)


def _alert(data: object) -> GraphAlert:
    if not isinstance(data, dict):
        raise wrong("", data, "a JSON object")
    unknown: list[str] = []
    record = _read_alert(data, unknown)  # sets raw and unknown_values too
    out = record.__dict__
    out["comments"] = _comments("comments", data.get("comments"))
    mark = len(unknown)
    out["evidence"] = read_evidence_list("evidence", data.get("evidence"), unknown)
    if len(unknown) > mark:
        out["unknown_values"] = tuple(unknown)
    return record


def _incident(data: object) -> GraphIncident:
    if not isinstance(data, dict):
        raise wrong("", data, "a JSON object")
    unknown: list[str] = []
    record = _read_incident(data, unknown)  # sets raw and unknown_values too
    out = record.__dict__
    tags_key = "tags" if data.get("customTags") is None and "tags" in data else "customTags"
    out["custom_tags"] = read_strings(tags_key, data.get(tags_key))
    out["comments"] = _comments("comments", data.get("comments"))
    alerts = data.get("alerts")
    if alerts is not None:
        if type(alerts) is not list:
            raise wrong("alerts", alerts, "a list")
        read = []
        for index, item in enumerate(alerts):
            try:
                read.append(_alert(item))
            except FieldError as exc:
                exc.steps[:] = ["alerts", f"[{index}]", *filter(None, exc.steps)]
                raise
        alerts = tuple(read)
    out["alerts"] = alerts
    return record


def parse_graph_alert(data: object) -> GraphAlert:
    """Check and convert one alert object; raise ``MalformedResponse`` if it is unusable."""
    try:
        return _alert(data)
    except FieldError as exc:
        raise malformed("Graph alert", data, exc) from None


def parse_graph_incident(data: object) -> GraphIncident:
    """Check and convert one incident object; raise ``MalformedResponse`` if unusable."""
    try:
        return _incident(data)
    except FieldError as exc:
        raise malformed("Graph incident", data, exc) from None


def parse_graph_alerts(items: Iterable[object]) -> list[GraphAlert]:
    """:func:`parse_graph_alert` for every item of a page's ``value``, all or nothing."""
    return _parse_all("Graph alert", _alert, items)


def parse_graph_incidents(items: Iterable[object]) -> list[GraphIncident]:
    """:func:`parse_graph_incident` for every item of a page's ``value``, all or nothing."""
    return _parse_all("Graph incident", _incident, items)


def _parse_all(what: str, parse: Callable[[object], R], items: Iterable[object]) -> list[R]:
    records = []
    with collector_paused():
        for index, data in enumerate(items):
            try:
                records.append(parse(data))
            except FieldError as exc:
                raise malformed(what, data, exc, index=index) from None
    return records


def _envelope(page: object) -> tuple[list[Any], str | None, int | None]:
    if not isinstance(page, dict) or not isinstance(page.get("value"), list):
        raise MalformedResponse(
            None, "MalformedPage", "Graph answer is not an OData collection (no 'value' list)"
        )
    next_link, count = page.get("@odata.nextLink"), page.get("@odata.count")
    if next_link is not None and not isinstance(next_link, str):
        raise MalformedResponse(None, "MalformedPage", "@odata.nextLink is not text")
    if count is not None and (type(count) is not int or count < 0):
        raise MalformedResponse(None, "MalformedPage", "@odata.count is not a count")
    return page["value"], next_link or None, count


def graph_envelope(page: object) -> GraphPage[Any]:
    """Read one answer of a Graph list call, leaving its items as they came (JSON)."""
    return GraphPage(*_envelope(page))


def parse_graph_alert_page(page: object) -> GraphPage[GraphAlert]:
    """Read one answer of ``GET /security/alerts_v2``: its alerts and its next link."""
    items, next_link, count = _envelope(page)
    return GraphPage(parse_graph_alerts(items), next_link, count)


def parse_graph_incident_page(page: object) -> GraphPage[GraphIncident]:
    """Read one answer of ``GET /security/incidents``: its incidents and its next link."""
    items, next_link, count = _envelope(page)
    return GraphPage(parse_graph_incidents(items), next_link, count)
