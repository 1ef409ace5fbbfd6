"""Defender for Endpoint alerts (``GET /api/alerts``) as typed, immutable records.

:func:`parse_alert` checks each documented field's type and converts timestamps to aware
UTC datetimes. The original JSON object is kept in ``raw`` so that fields Microsoft
adds later are not lost. :func:`parse_alert_page` does the same for a whole page, all or
nothing.

Speed: a sync parses tens of thousands of alerts, so alerts of the shape Microsoft sends
take a quick path that reads every field in one pass; anything unusual (a wrong type, a
timestamp with an offset, an ID sent as a string) is handed to the field-by-field
reading, which produces or rejects the record exactly as before. Tests hold both paths to
the same results.

Unknown enum values: Microsoft adds values to enums from time to time (classification
and determination grew several in recent years). A sync must not stop because of that,
so an unknown value is kept as the raw string and its field is named in
``unknown_values``; a value of the wrong JSON type, by contrast, is malformed data and
raises :class:`~partner_portal.defender.errors.MalformedResponse`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from operator import itemgetter
from typing import Any

from ..errors import MalformedResponse
from .reading import FieldReader
from .timestamps import utc_of_usual_shape
from .vocabularies import (
    ALERT_CLASSIFICATIONS,
    ALERT_DETERMINATIONS,
    ALERT_SEVERITIES,
    ALERT_STATUSES,
)

__all__ = [
    "ALERT_FIELDS",
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


# JSON name -> field name, for the plain optional strings of an alert.
_ALERT_STRINGS = (
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
)
_ALERT_TIMES = (
    ("alertCreationTime", "alert_creation_time"),
    ("firstEventTime", "first_event_time"),
    ("lastEventTime", "last_event_time"),
    ("lastUpdateTime", "last_update_time"),
    ("resolvedTime", "resolved_time"),
)


def parse_alert(data: object) -> AlertRecord:
    """Check and convert one alert object; raise ``MalformedResponse`` if it is unusable."""
    if type(data) is dict:
        record = _alert_fast(data, {})
        if record is not None:
            return record
    return _parse_alert_checked(data)


def parse_alert_page(items: Iterable[object]) -> list[AlertRecord]:
    """:func:`parse_alert` for every item of one page, all or nothing.

    Either every item is checked and converted, or ``MalformedResponse`` is raised and
    nothing is returned. A related user that recurs on the page is made once and shared
    (it is immutable, so the records stay independent).
    """
    users: dict[tuple[object, object], RelatedUser] = {}
    records: list[AlertRecord] = []
    append = records.append
    for data in items:
        record = _alert_fast(data, users) if type(data) is dict else None
        append(record if record is not None else _parse_alert_checked(data))
    return records


def _parse_alert_checked(data: object) -> AlertRecord:
    """Read an alert field by field, naming the first problem met.

    :func:`_alert_fast` leaves everything outside the usual shape to this, so unusual
    input is judged, converted and reported in one place.
    """
    if not isinstance(data, dict):
        raise MalformedResponse(None, "MalformedItem", "alert is not a JSON object")
    r = FieldReader(data, "alert")
    values: dict[str, Any] = {"id": r.str_req("id")}
    get = data.get
    for json_name, name in _ALERT_STRINGS:
        value = get(json_name)
        if value is not None and type(value) is not str:
            raise r.fail(json_name, "is not a string")
        values[name] = value
    for json_name, name in _ALERT_TIMES:
        values[name] = r.time_opt(json_name)
    related_user: RelatedUser | None = None
    user_raw = get("relatedUser")
    if user_raw is not None:
        if not isinstance(user_raw, dict):
            raise r.fail("relatedUser", "is not an object")
        ur = FieldReader(user_raw, "alert.relatedUser")
        related_user = RelatedUser(ur.str_opt("userName"), ur.str_opt("domainName"))
    comments = []
    for item in r.objects("comments"):
        cr = FieldReader(item, "alert.comments[]")
        comments.append(
            AlertComment(
                comment=cr.str_opt("comment"),
                created_by=cr.str_opt("createdBy"),
                created_time=cr.time_opt("createdTime"),
            )
        )
    values["severity"] = r.enum("severity", ALERT_SEVERITIES, default="UnSpecified")
    values["status"] = r.enum("status", ALERT_STATUSES, default="Unknown")
    values["incident_id"] = r.int_opt("incidentId")
    values["investigation_id"] = r.int_opt("investigationId")
    values["classification"] = r.enum("classification", ALERT_CLASSIFICATIONS, default=None)
    values["determination"] = r.enum("determination", ALERT_DETERMINATIONS, default=None)
    values["mitre_techniques"] = r.str_list("mitreTechniques")
    values["related_user"] = related_user
    values["comments"] = tuple(comments)
    values["evidence"] = r.objects("evidence")
    values["unknown_values"] = tuple(r.unknown)
    values["raw"] = data
    return _build(AlertRecord, values)


#: Every field ``_build`` must be given (a test holds ``parse_alert`` to it).
ALERT_FIELDS = frozenset(f.name for f in fields(AlertRecord))


def _build(cls: type[AlertRecord], values: dict[str, Any]) -> AlertRecord:
    """Create a frozen record from complete, already checked values.

    A frozen dataclass's ``__init__`` sets each of its thirty fields through
    ``object.__setattr__``, which costs more than parsing the alert; filling the
    instance dictionary at once gives the same object, still immutable afterwards.
    """
    record = object.__new__(cls)
    record.__dict__.update(values)
    return record


# The JSON names _alert_fast reads in one pass, in the order it unpacks them.
_FAST_KEYS = (
    "id",
    *(json_name for json_name, _ in _ALERT_STRINGS),
    *(json_name for json_name, _ in _ALERT_TIMES),
    "severity",
    "status",
    "classification",
    "determination",
    "incidentId",
    "investigationId",
    "mitreTechniques",
    "relatedUser",
    "comments",
    "evidence",
)
_get_fast_keys = itemgetter(*_FAST_KEYS)
_STR_OR_NONE = frozenset({str, type(None)})
_INT_OR_NONE = frozenset({int, type(None)})
_JUST_STR = frozenset({str})
_JUST_DICT = frozenset({dict})
_NO_STRINGS: tuple[str, ...] = ()
_NO_COMMENTS: tuple[AlertComment, ...] = ()
_NO_OBJECTS: tuple[Mapping[str, Any], ...] = ()
_from_iso = datetime.fromisoformat


def _new_user(names: tuple[Any, Any]) -> RelatedUser:
    user = object.__new__(RelatedUser)
    user.__dict__.update(user_name=names[0], domain_name=names[1])
    return user


def _alert_fast(
    data: dict[str, Any], users: dict[tuple[object, object], RelatedUser]
) -> AlertRecord | None:
    """Convert an alert of the usual shape in one go; None means "read it field by
    field" (:func:`_parse_alert_checked`).

    For every alert it accepts, the record equals the field-by-field one: each check
    is the same or stricter (``type(x) is str`` where the other path also takes
    subclasses), and anything not plainly fine (a wrong type, a timestamp of another
    shape, a string for an integer) is handed over, to be converted or rejected there
    with its precise message. ``users`` holds the related users already made, by
    (userName, domainName).
    """
    try:
        values = _get_fast_keys(data)
    except KeyError:
        # Microsoft sends every documented field, null or not; the odd alert that
        # lacks some reads them as None, as the field-by-field path does.
        values = tuple(map(data.get, _FAST_KEYS))
    (
        ident,
        title,
        assigned_to,
        investigation_state,
        detection_source,
        detector_id,
        category,
        threat_family_name,
        threat_name,
        description,
        machine_id,
        computer_dns_name,
        rbac_group_name,
        aad_tenant_id,
        created,
        first_event,
        last_event,
        last_update,
        resolved,
        severity,
        status,
        classification,
        determination,
        incident_id,
        investigation_id,
        mitre,
        user_raw,
        comments_raw,
        evidence_raw,
    ) = values
    if type(ident) is not str or not ident:
        return None
    if not _STR_OR_NONE.issuperset(
        map(
            type,
            (
                title,
                assigned_to,
                investigation_state,
                detection_source,
                detector_id,
                category,
                threat_family_name,
                threat_name,
                description,
                machine_id,
                computer_dns_name,
                rbac_group_name,
                aad_tenant_id,
            ),
        )
    ):
        return None
    # Timestamps: the shape test and conversion of _utc_fast, written out because
    # this loop runs five times per alert.
    converted: list[datetime | None] = []
    for stamp in (created, first_event, last_event, last_update, resolved):
        if type(stamp) is str:
            if len(stamp) < 20 or stamp[10] != "T" or stamp[-1] != "Z" or stamp[4] != "-":
                return None
            try:
                parsed = _from_iso(stamp)
            except ValueError:
                return None
            converted.append(parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC))
        elif stamp is None:
            converted.append(None)
        else:
            return None

    # Unknown enum names, in the order the field-by-field path lists them.
    unknown = _NO_STRINGS
    if severity is None:
        severity = "UnSpecified"
    elif type(severity) is not str:
        return None
    elif severity not in ALERT_SEVERITIES:
        unknown += ("severity",)
    if status is None:
        status = "Unknown"
    elif type(status) is not str:
        return None
    elif status not in ALERT_STATUSES:
        unknown += ("status",)
    if classification is not None:
        if type(classification) is not str:
            return None
        if classification not in ALERT_CLASSIFICATIONS:
            unknown += ("classification",)
    if determination is not None:
        if type(determination) is not str:
            return None
        if determination not in ALERT_DETERMINATIONS:
            unknown += ("determination",)
    if type(incident_id) not in _INT_OR_NONE or type(investigation_id) not in _INT_OR_NONE:
        return None

    mitre_techniques = _NO_STRINGS
    if mitre is not None:
        if type(mitre) is not list or not _JUST_STR.issuperset(map(type, mitre)):
            return None
        mitre_techniques = tuple(mitre)

    related_user: RelatedUser | None = None
    if user_raw is not None:
        if type(user_raw) is not dict:
            return None
        user_key = (user_raw.get("userName"), user_raw.get("domainName"))
        if not _STR_OR_NONE.issuperset(map(type, user_key)):
            return None
        related_user = users.get(user_key)
        if related_user is None:
            related_user = users[user_key] = _new_user(user_key)

    comments = _NO_COMMENTS
    if comments_raw is not None:
        if type(comments_raw) is not list:
            return None
        if comments_raw:
            made = []
            for item in comments_raw:
                if type(item) is not dict:
                    return None
                text, author = item.get("comment"), item.get("createdBy")
                if not _STR_OR_NONE.issuperset((type(text), type(author))):
                    return None
                stamp = item.get("createdTime")
                created_time = None
                if stamp is not None:
                    created_time = utc_of_usual_shape(stamp)
                    if created_time is None:
                        return None
                made.append(AlertComment(text, author, created_time))
            comments = tuple(made)

    evidence = _NO_OBJECTS
    if evidence_raw is not None:
        if type(evidence_raw) is not list or not _JUST_DICT.issuperset(map(type, evidence_raw)):
            return None
        evidence = tuple(evidence_raw)

    record = object.__new__(AlertRecord)
    record.__dict__.update(
        id=ident,
        title=title,
        severity=severity,
        status=status,
        incident_id=incident_id,
        investigation_id=investigation_id,
        assigned_to=assigned_to,
        classification=classification,
        determination=determination,
        investigation_state=investigation_state,
        detection_source=detection_source,
        detector_id=detector_id,
        category=category,
        threat_family_name=threat_family_name,
        threat_name=threat_name,
        description=description,
        alert_creation_time=converted[0],
        first_event_time=converted[1],
        last_event_time=converted[2],
        last_update_time=converted[3],
        resolved_time=converted[4],
        machine_id=machine_id,
        computer_dns_name=computer_dns_name,
        rbac_group_name=rbac_group_name,
        aad_tenant_id=aad_tenant_id,
        mitre_techniques=mitre_techniques,
        related_user=related_user,
        comments=comments,
        evidence=evidence,
        unknown_values=unknown,
        raw=data,
    )
    return record
