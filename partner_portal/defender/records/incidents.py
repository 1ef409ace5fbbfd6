"""Defender XDR incidents (``GET /api/incidents``) as typed, immutable records.

:func:`parse_incident` reads one incident field by field with a
:class:`~.reading.FieldReader` (an incident is read once per sync page of at most 100,
so it needs no quick path): types checked, timestamps converted to UTC, the incident's
alerts read as :class:`IncidentAlert`, values outside the known vocabularies kept and
named in ``unknown_values``. The JSON object is kept whole in ``raw``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..errors import MalformedResponse
from .alerts import AlertComment
from .reading import FieldReader
from .vocabularies import AlertClassification, AlertDetermination, AlertSeverity, IncidentStatus

__all__ = ["IncidentAlert", "IncidentRecord", "parse_incident"]

_CLASSIFICATIONS = AlertClassification.enumeration()
_DETERMINATIONS = AlertDetermination.enumeration()
_STATUSES = IncidentStatus.enumeration()
_SEVERITIES = AlertSeverity.enumeration()


@dataclass(frozen=True)
class IncidentAlert:
    """An alert as embedded in a Defender XDR incident."""

    alert_id: str
    incident_id: int | None
    service_source: str | None
    detection_source: str | None
    title: str | None
    category: str | None
    status: str | None
    severity: str | None
    creation_time: datetime | None
    last_updated_time: datetime | None
    devices: tuple[Mapping[str, Any], ...]
    entities: tuple[Mapping[str, Any], ...]
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class IncidentRecord:
    """One Defender XDR incident (``GET /api/incidents``)."""

    incident_id: int
    incident_name: str | None
    redirect_incident_id: int | None
    created_time: datetime | None
    last_update_time: datetime | None
    assigned_to: str | None
    classification: str | None
    determination: str | None
    status: str
    severity: str
    tags: tuple[str, ...]
    comments: tuple[AlertComment, ...]
    alerts: tuple[IncidentAlert, ...]
    unknown_values: tuple[str, ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


def parse_incident(data: object) -> IncidentRecord:
    """Check and convert one incident object; raise ``MalformedResponse`` if unusable."""
    if not isinstance(data, dict):
        raise MalformedResponse(None, "MalformedItem", "incident is not a JSON object")
    r = FieldReader(data, "incident")
    incident_id = r.int_opt("incidentId")
    if incident_id is None:
        raise r.fail("incidentId", "is missing")
    comments = []
    for cr in r.each_object("comments"):
        comments.append(
            AlertComment(cr.str_opt("comment"), cr.str_opt("createdBy"), cr.time_opt("createdTime"))
        )
    alerts = []
    for ar in r.each_object("alerts"):
        alerts.append(
            IncidentAlert(
                alert_id=ar.ident("alertId"),
                incident_id=ar.int_opt("incidentId"),
                service_source=ar.str_opt("serviceSource"),
                detection_source=ar.str_opt("detectionSource"),
                title=ar.str_opt("title"),
                category=ar.str_opt("category"),
                status=ar.str_opt("status"),
                severity=ar.str_opt("severity"),
                creation_time=ar.time_opt("creationTime"),
                last_updated_time=ar.time_opt("lastUpdatedTime"),
                devices=ar.objects("devices"),
                entities=ar.objects("entities"),
                raw=ar.data,
            )
        )
    return IncidentRecord(
        incident_id=incident_id,
        incident_name=r.str_opt("incidentName"),
        redirect_incident_id=r.int_opt("redirectIncidentId"),
        created_time=r.time_opt("createdTime"),
        last_update_time=r.time_opt("lastUpdateTime"),
        assigned_to=r.str_opt("assignedTo"),
        classification=r.enum("classification", _CLASSIFICATIONS, default=None),
        determination=r.enum("determination", _DETERMINATIONS, default=None),
        status=r.enum("status", _STATUSES, default="Active") or "Active",
        severity=r.enum("severity", _SEVERITIES, default="UnSpecified") or "UnSpecified",
        tags=r.str_list("tags"),
        comments=tuple(comments),
        alerts=tuple(alerts),
        unknown_values=tuple(r.unknown),
        raw=data,
    )
