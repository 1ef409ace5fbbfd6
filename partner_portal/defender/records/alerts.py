"""Defender for Endpoint alerts (``GET /api/alerts``) as typed, immutable records.

:func:`parse_alert` checks each documented field's type and converts timestamps to aware
UTC datetimes. The original JSON object is kept in ``raw`` so that fields Microsoft
adds later are not lost. :func:`parse_alert_page` does the same for a whole page, all or
nothing.

One table, two readings. :data:`ALERT_TABLE` describes every field of an alert once
(JSON name, record attribute, kind, and for enums the vocabulary and default). A sync
parses tens of thousands of alerts, so an alert of the shape Microsoft sends takes the
quick reading compiled from that table (:func:`_alert_fast`, see :mod:`.table`);
anything unusual there (a wrong type, a timestamp with an offset, an ID sent as a
string) is handed to the careful reading of the same table
(:func:`_parse_alert_checked`), which converts or rejects it and names the first
problem. Tests hold both readings to the same results. The related user and the
comments are read by their own pair of readings, below; a related user that recurs on a
page is made once.

Unknown enum values: Microsoft adds values to enums from time to time (classification
and determination grew several in recent years). A sync must not stop because of that,
so an unknown value is kept as the raw string and its field is named in
``unknown_values``; a known one is found in any case and stored in Microsoft's spelling,
by the rule the Graph records follow (:class:`~..fields.Enumeration`). A value of the
wrong JSON type, by contrast, is malformed data and raises
:class:`~partner_portal.defender.errors.MalformedResponse`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from ..errors import MalformedResponse
from ..timestamps import usual_utc
from .reading import FieldReader
from .table import UNUSUAL, Field, Kind, fields_of, quick_reader, read_carefully
from .vocabularies import AlertClassification, AlertDetermination, AlertSeverity, AlertStatus

__all__ = [
    "ALERT_FIELDS",
    "ALERT_TABLE",
    "AlertComment",
    "AlertRecord",
    "RelatedUser",
    "parse_alert",
    "parse_alert_page",
]


@dataclass(frozen=True)
class RelatedUser:
    user_name: str | None
    domain_name: str | None


@dataclass(frozen=True)
class AlertComment:
    comment: str | None
    created_by: str | None
    created_time: datetime | None


@dataclass(frozen=True)
class AlertRecord:
    """One Defender for Endpoint alert (``GET /api/alerts``)."""

    id: str
    title: str | None
    severity: str
    status: str
    incident_id: int | None
    investigation_id: int | None
    assigned_to: str | None
    classification: str | None
    determination: str | None
    investigation_state: str | None
    detection_source: str | None
    detector_id: str | None
    category: str | None
    threat_family_name: str | None
    threat_name: str | None
    description: str | None
    alert_creation_time: datetime | None
    first_event_time: datetime | None
    last_event_time: datetime | None
    last_update_time: datetime | None
    resolved_time: datetime | None
    machine_id: str | None
    computer_dns_name: str | None
    rbac_group_name: str | None
    aad_tenant_id: str | None
    mitre_techniques: tuple[str, ...]
    related_user: RelatedUser | None
    comments: tuple[AlertComment, ...]
    evidence: tuple[Mapping[str, Any], ...]
    #: Names of enum fields whose value is not one Microsoft documents (kept as sent).
    unknown_values: tuple[str, ...] = ()
    #: The object exactly as Microsoft sent it, unknown fields included.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


# ---------------------------------------------------- the related user and comments

_STR_OR_NONE = frozenset({str, type(None)})
_NO_COMMENTS: tuple[AlertComment, ...] = ()


def _careful_user(r: FieldReader, f: Field) -> RelatedUser | None:
    ur = r.object(f.json_name)
    if ur is None:
        return None
    return RelatedUser(ur.str_opt("userName"), ur.str_opt("domainName"))


def _quick_user(value: Any, shared: dict[Any, Any]) -> object:
    """The related user, made once per page for each (userName, domainName)."""
    if value is None:
        return None
    if type(value) is not dict:
        return UNUSUAL
    key = (value.get("userName"), value.get("domainName"))
    if not _STR_OR_NONE.issuperset(map(type, key)):
        return UNUSUAL
    user = shared.get(key)
    if user is None:
        user = shared[key] = object.__new__(RelatedUser)
        user.__dict__.update(user_name=key[0], domain_name=key[1])
    return user


def _careful_comments(r: FieldReader, f: Field) -> tuple[AlertComment, ...]:
    comments = []
    for cr in r.each_object(f.json_name):
        comments.append(
            AlertComment(
                comment=cr.str_opt("comment"),
                created_by=cr.str_opt("createdBy"),
                created_time=cr.time_opt("createdTime"),
            )
        )
    return tuple(comments)


def _quick_comments(value: Any, shared: dict[Any, Any]) -> object:
    if not value:
        # None and [] read as no comments; other empty values are not lists.
        return _NO_COMMENTS if value is None or type(value) is list else UNUSUAL
    if type(value) is not list:
        return UNUSUAL
    made = []
    for item in value:
        if type(item) is not dict:
            return UNUSUAL
        text, author = item.get("comment"), item.get("createdBy")
        if not _STR_OR_NONE.issuperset((type(text), type(author))):
            return UNUSUAL
        stamp = item.get("createdTime")
        created_time = None
        if stamp is not None:
            created_time = usual_utc(stamp)
            if created_time is None:
                return UNUSUAL
        made.append(AlertComment(text, author, created_time))
    return tuple(made)


# ------------------------------------------------------------------------- the table

#: Every field of an alert, in the order the careful reading takes them (which decides
#: the problem an alert with several is reported by, and the order of unknown_values).
ALERT_TABLE: tuple[Field, ...] = (
    Field("id", "id", Kind.ID),
    *fields_of(
        Kind.TEXT,
        ("title", "title"),
        ("assignedTo", "assigned_to"),
        ("investigationState", "investigation_state"),
        ("detectionSource", "detection_source"),
        ("detectorId", "detector_id"),
        ("category", "category"),
        ("threatFamilyName", "threat_family_name"),
        ("threatName", "threat_name"),
        ("description", "description"),
        ("machineId", "machine_id"),
        ("computerDnsName", "computer_dns_name"),
        ("rbacGroupName", "rbac_group_name"),
        ("aadTenantId", "aad_tenant_id"),
    ),
    *fields_of(
        Kind.TIME,
        ("alertCreationTime", "alert_creation_time"),
        ("firstEventTime", "first_event_time"),
        ("lastEventTime", "last_event_time"),
        ("lastUpdateTime", "last_update_time"),
        ("resolvedTime", "resolved_time"),
    ),
    Field("relatedUser", "related_user", Kind.CUSTOM, careful=_careful_user, quick=_quick_user),
    Field("comments", "comments", Kind.CUSTOM, careful=_careful_comments, quick=_quick_comments),
    Field("severity", "severity", Kind.CHOICE, AlertSeverity.enumeration(), default="UnSpecified"),
    Field("status", "status", Kind.CHOICE, AlertStatus.enumeration(), default="Unknown"),
    Field("incidentId", "incident_id", Kind.NUMBER),
    Field("investigationId", "investigation_id", Kind.NUMBER),
    Field("classification", "classification", Kind.CHOICE, AlertClassification.enumeration()),
    Field("determination", "determination", Kind.CHOICE, AlertDetermination.enumeration()),
    Field("mitreTechniques", "mitre_techniques", Kind.TEXT_LIST),
    Field("evidence", "evidence", Kind.OBJECTS),
)

#: Every attribute a record must be given (a test holds both readings to it).
ALERT_FIELDS = frozenset(f.name for f in fields(AlertRecord))

#: The quick reading: ``(alert, shared) -> AlertRecord``, or None to read it carefully.
_alert_fast = quick_reader(ALERT_TABLE, AlertRecord, "_alert_fast")


def parse_alert(data: object) -> AlertRecord:
    """Check and convert one alert object; raise ``MalformedResponse`` if it is unusable."""
    if type(data) is dict:
        record: AlertRecord | None = _alert_fast(data, {})
        if record is not None:
            return record
    return _parse_alert_checked(data)


def parse_alert_page(items: Iterable[object]) -> list[AlertRecord]:
    """:func:`parse_alert` for every item of one page, all or nothing.

    Either every item is checked and converted, or ``MalformedResponse`` is raised and
    nothing is returned. A related user that recurs on the page is made once and shared
    (it is immutable, so the records stay independent).
    """
    shared: dict[Any, Any] = {}
    records: list[AlertRecord] = []
    append = records.append
    quick = _alert_fast
    for data in items:
        record = quick(data, shared) if type(data) is dict else None
        append(record if record is not None else _parse_alert_checked(data))
    return records


def _parse_alert_checked(data: object) -> AlertRecord:
    """Read an alert field by field down :data:`ALERT_TABLE`, naming the first problem.

    :func:`_alert_fast` leaves everything outside the usual shape to this, so unusual
    input is judged, converted and reported in one place.
    """
    if not isinstance(data, dict):
        raise MalformedResponse(None, "MalformedItem", "alert is not a JSON object")
    values = read_carefully(ALERT_TABLE, data, "alert")
    values["raw"] = data
    # Filled like the quick reading's records (see quick_reader): the same object.
    record = object.__new__(AlertRecord)
    record.__dict__.update(values)
    return record
