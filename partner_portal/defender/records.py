"""Typed, immutable views of Defender alerts and incidents.

:func:`parse_alert` and :func:`parse_incident` check each documented field's type and
convert timestamps to aware UTC datetimes. The original JSON object is kept in ``raw``
so that fields Microsoft adds later are not lost. :func:`parse_alert_page` does the same
for a whole page, all or nothing.

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

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta, timezone
from operator import itemgetter
from typing import Any

from .errors import MalformedResponse

__all__ = [
    "ALERT_CLASSIFICATIONS",
    "ALERT_DETERMINATIONS",
    "ALERT_SEVERITIES",
    "ALERT_STATUSES",
    "INCIDENT_CLASSIFICATIONS",
    "INCIDENT_STATUSES",
    "AlertComment",
    "AlertRecord",
    "IncidentAlert",
    "IncidentRecord",
    "RelatedUser",
    "format_timestamp",
    "parse_alert",
    "parse_alert_page",
    "parse_incident",
    "parse_timestamp",
]

ALERT_SEVERITIES = frozenset({"UnSpecified", "Informational", "Low", "Medium", "High"})
ALERT_STATUSES = frozenset({"Unknown", "New", "InProgress", "Resolved"})
ALERT_CLASSIFICATIONS = frozenset(
    {"Unknown", "TruePositive", "InformationalExpectedActivity", "FalsePositive"}
)
# The original documented set plus the values Microsoft added when it aligned
# classification and determination with the Defender XDR portal.
ALERT_DETERMINATIONS = frozenset(
    {
        "NotAvailable",
        "Apt",
        "Malware",
        "SecurityPersonnel",
        "SecurityTesting",
        "UnwantedSoftware",
        "Other",
        "MultiStagedAttack",
        "CompromisedAccount",
        "CompromisedUser",
        "Phishing",
        "MaliciousUserActivity",
        "NotMalicious",
        "Clean",
        "NotEnoughDataToValidate",
        "InsufficientData",
        "ConfirmedActivity",
        "ConfirmedUserActivity",
        "LineOfBusinessApplication",
    }
)
INCIDENT_STATUSES = frozenset({"Active", "Resolved", "Redirected", "InProgress"})
INCIDENT_CLASSIFICATIONS = ALERT_CLASSIFICATIONS

# Up to 7 fraction digits (.NET ticks); "Z" or an offset; no zone is read as UTC
# because Microsoft's APIs only ever speak UTC.
_TS_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(value: object, *, field_name: str = "timestamp") -> datetime | None:
    """Parse Microsoft's ISO 8601 timestamps into aware UTC datetimes; None stays None."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise MalformedResponse(None, "MalformedTimestamp", f"{field_name} is not a string")
    # Fast path for the shape Microsoft always sends ("...T...Z", up to 7 fraction
    # digits), which Python 3.11's fromisoformat reads directly; a sync parses several
    # per alert, so this matters. Anything else goes through the strict pattern.
    if len(value) >= 20 and value[10] == "T" and value[-1] == "Z" and value[4] == "-":
        try:
            return datetime.fromisoformat(value).astimezone(UTC)
        except ValueError:
            pass
    match = _TS_RE.match(value.strip())
    if not match:
        raise MalformedResponse(None, "MalformedTimestamp", f"{field_name} is not ISO 8601")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    micro = int((fraction or "0")[:6].ljust(6, "0"))
    tz: timezone = UTC
    if zone and zone not in ("Z", "z"):
        sign = 1 if zone[0] == "+" else -1
        digits = zone[1:].replace(":", "")
        tz = timezone(sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:])))
    try:
        parsed = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=tz
        )
    except ValueError:
        raise MalformedResponse(
            None, "MalformedTimestamp", f"{field_name} is not a valid date"
        ) from None
    return parsed.astimezone(UTC)


def format_timestamp(value: datetime) -> str:
    """Format an aware datetime the way OData filters expect (UTC, ``Z``)."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("aware datetime required")
    utc = value.astimezone(UTC)
    if utc.microsecond:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.strftime("%Y-%m-%dT%H:%M:%SZ")


class _Reader:
    """Reads typed fields from one JSON object and collects problems."""

    def __init__(self, data: Mapping[str, Any], kind: str) -> None:
        self.data = data
        self.kind = kind
        self.unknown: list[str] = []

    def fail(self, name: str, what: str) -> MalformedResponse:
        return MalformedResponse(None, "MalformedItem", f"{self.kind} field {name!r} {what}")

    def str_opt(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is None or isinstance(value, str):
            return value
        raise self.fail(name, "is not a string")

    def str_req(self, name: str) -> str:
        value = self.data.get(name)
        if not isinstance(value, str) or not value:
            raise self.fail(name, "is missing or not a non-empty string")
        return value

    def int_opt(self, name: str) -> int | None:
        value = self.data.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise self.fail(name, "is not an integer")
        if isinstance(value, int):
            return value
        # Some IDs arrive as strings of digits depending on the API version.
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
        raise self.fail(name, "is not an integer")

    def time_opt(self, name: str) -> datetime | None:
        try:
            return parse_timestamp(self.data.get(name), field_name=f"{self.kind}.{name}")
        except MalformedResponse as exc:
            raise self.fail(name, exc.message.split(" ", 1)[-1]) from None

    def enum(self, name: str, allowed: frozenset[str], *, default: str | None) -> str | None:
        value = self.str_opt(name)
        if value is None:
            return default
        if value not in allowed:
            self.unknown.append(name)
        return value

    def list_of(self, name: str) -> list[Any]:
        value = self.data.get(name)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(name, "is not a list")
        return value

    def str_list(self, name: str) -> tuple[str, ...]:
        items = self.list_of(name)
        if not all(isinstance(item, str) for item in items):
            raise self.fail(name, "holds a non-string")
        return tuple(items)

    def objects(self, name: str) -> tuple[Mapping[str, Any], ...]:
        items = self.list_of(name)
        if not all(isinstance(item, dict) for item in items):
            raise self.fail(name, "holds a non-object")
        return tuple(items)


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
    r = _Reader(data, "alert")
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
        ur = _Reader(user_raw, "alert.relatedUser")
        related_user = RelatedUser(ur.str_opt("userName"), ur.str_opt("domainName"))
    comments = []
    for item in r.objects("comments"):
        cr = _Reader(item, "alert.comments[]")
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


def _utc_fast(value: object) -> datetime | None:
    """A timestamp of the shape Microsoft sends (``...T...Z``), converted exactly as
    :func:`parse_timestamp` converts it; None if it needs the full treatment there."""
    if type(value) is not str or len(value) < 20:
        return None
    if value[10] != "T" or value[-1] != "Z" or value[4] != "-":
        return None
    try:
        parsed = _from_iso(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


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
                    created_time = _utc_fast(stamp)
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
    r = _Reader(data, "incident")
    incident_id = r.int_opt("incidentId")
    if incident_id is None:
        raise r.fail("incidentId", "is missing")
    comments = []
    for item in r.objects("comments"):
        cr = _Reader(item, "incident.comments[]")
        comments.append(
            AlertComment(cr.str_opt("comment"), cr.str_opt("createdBy"), cr.time_opt("createdTime"))
        )
    alerts = []
    for item in r.objects("alerts"):
        ar = _Reader(item, "incident.alerts[]")
        alerts.append(
            IncidentAlert(
                alert_id=ar.str_req("alertId"),
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
                raw=item,
            )
        )
    return IncidentRecord(
        incident_id=incident_id,
        incident_name=r.str_opt("incidentName"),
        redirect_incident_id=r.int_opt("redirectIncidentId"),
        created_time=r.time_opt("createdTime"),
        last_update_time=r.time_opt("lastUpdateTime"),
        assigned_to=r.str_opt("assignedTo"),
        classification=r.enum("classification", INCIDENT_CLASSIFICATIONS, default=None),
        determination=r.enum("determination", ALERT_DETERMINATIONS, default=None),
        status=r.enum("status", INCIDENT_STATUSES, default="Active") or "Active",
        severity=r.enum("severity", ALERT_SEVERITIES, default="UnSpecified") or "UnSpecified",
        tags=r.str_list("tags"),
        comments=tuple(comments),
        alerts=tuple(alerts),
        unknown_values=tuple(r.unknown),
        raw=data,
    )
