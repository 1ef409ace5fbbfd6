"""The values Microsoft documents for the enum fields of alerts and incidents, defined once.

Each vocabulary is a :class:`Vocabulary`: a ``StrEnum`` whose members are Microsoft's
spellings (so a member equals the string the API sends, and can be sent back as it is)
and carry the words the portal shows (``label``), e.g.
``AlertClassification.INFORMATIONAL_EXPECTED_ACTIVITY`` is
``"InformationalExpectedActivity"``, shown as "Informational, expected activity".
``choices()`` lists ``(value, label)`` pairs in the order the portal offers them.

The parsers read a value through the vocabulary's ``enumeration()``, the lookup the
Graph vocabularies use too (:class:`~..fields.Enumeration`): in any case, stored in
Microsoft's spelling (``"high"`` reads as ``"High"``), and a value outside it flagged and
kept as sent (Microsoft adds values now and then, see :mod:`.alerts`). Each vocabulary
also gives the plain ``frozenset`` of its values (``ALERT_SEVERITIES`` and the like),
which the clients check what they send against.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Self

from ..fields import Enumeration

__all__ = [
    "ALERT_CLASSIFICATIONS",
    "ALERT_DETERMINATIONS",
    "ALERT_SEVERITIES",
    "ALERT_STATUSES",
    "INCIDENT_CLASSIFICATIONS",
    "INCIDENT_STATUSES",
    "SETTABLE_ALERT_DETERMINATIONS",
    "SETTABLE_ALERT_STATUSES",
    "AlertClassification",
    "AlertDetermination",
    "AlertSeverity",
    "AlertStatus",
    "IncidentStatus",
    "Vocabulary",
    "humanise",
    "in_words",
]


_ENUMERATIONS: dict[type, Enumeration] = {}


class Vocabulary(StrEnum):
    """A Microsoft enum: member values as the API spells them, labels in plain words.

    A member is written ``NAME = "Value"`` (the label is the value) or
    ``NAME = "Value", "Label"``.
    """

    label: str

    def __new__(cls, value: str, label: str | None = None) -> Self:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label if label is not None else value
        return member

    @classmethod
    def values(cls) -> frozenset[str]:
        """Every value, as plain strings (what the parsers test membership in)."""
        return frozenset(member.value for member in cls)

    @classmethod
    def enumeration(cls) -> Enumeration:
        """The members found in any case, as the parsers read values (made once)."""
        made = _ENUMERATIONS.get(cls)
        if made is None:
            members = (member.value for member in cls)
            made = _ENUMERATIONS[cls] = Enumeration(cls.__name__, members)
        return made

    @classmethod
    def choices(cls) -> list[tuple[str, str]]:
        """``(value, label)`` of every member, in the order they are declared."""
        return [(member.value, member.label) for member in cls]


class AlertSeverity(Vocabulary):
    """An alert's (and an incident's) severity, lowest first."""

    UNSPECIFIED = "UnSpecified", "Unspecified"
    INFORMATIONAL = "Informational"
    LOW = "Low"
    MEDIUM = "Medium"
    HIGH = "High"


class AlertStatus(Vocabulary):
    UNKNOWN = "Unknown"
    NEW = "New"
    IN_PROGRESS = "InProgress", "In progress"
    RESOLVED = "Resolved"


class AlertClassification(Vocabulary):
    """An alert's (and an incident's) classification; null until someone classifies it."""

    TRUE_POSITIVE = "TruePositive", "True positive"
    INFORMATIONAL_EXPECTED_ACTIVITY = (
        "InformationalExpectedActivity",
        "Informational, expected activity",
    )
    FALSE_POSITIVE = "FalsePositive", "False positive"
    UNKNOWN = "Unknown"


class AlertDetermination(Vocabulary):
    """What an alert turned out to be: the original documented set plus the values
    Microsoft added when it aligned classification and determination with the Defender
    XDR portal (the ones an update accepts first, in the order the portal offers them)."""

    NOT_AVAILABLE = "NotAvailable", "Not available"
    APT = "Apt", "APT"
    MALWARE = "Malware"
    SECURITY_PERSONNEL = "SecurityPersonnel", "Security personnel"
    SECURITY_TESTING = "SecurityTesting", "Security testing"
    UNWANTED_SOFTWARE = "UnwantedSoftware", "Unwanted software"
    MULTI_STAGED_ATTACK = "MultiStagedAttack", "Multi-staged attack"
    MALICIOUS_USER_ACTIVITY = "MaliciousUserActivity", "Malicious user activity"
    COMPROMISED_ACCOUNT = "CompromisedAccount", "Compromised account"
    PHISHING = "Phishing"
    LINE_OF_BUSINESS_APPLICATION = "LineOfBusinessApplication", "Line-of-business application"
    CONFIRMED_ACTIVITY = "ConfirmedActivity", "Confirmed activity"
    NOT_MALICIOUS = "NotMalicious", "Not malicious"
    INSUFFICIENT_DATA = "InsufficientData", "Insufficient data"
    OTHER = "Other"
    COMPROMISED_USER = "CompromisedUser", "Compromised user"
    CLEAN = "Clean"
    NOT_ENOUGH_DATA_TO_VALIDATE = "NotEnoughDataToValidate", "Not enough data to validate"
    CONFIRMED_USER_ACTIVITY = "ConfirmedUserActivity", "Confirmed user activity"


class IncidentStatus(Vocabulary):
    ACTIVE = "Active"
    IN_PROGRESS = "InProgress", "In progress"
    RESOLVED = "Resolved"
    REDIRECTED = "Redirected"
    #: Graph only (set by Defender Experts; sent with ``Prefer: include-unknown-enum-members``).
    AWAITING_ACTION = "AwaitingAction", "Awaiting action"


#: The statuses an alert can be given (``PATCH /api/alerts/{id}``).
SETTABLE_ALERT_STATUSES: tuple[AlertStatus, ...] = (
    AlertStatus.NEW,
    AlertStatus.IN_PROGRESS,
    AlertStatus.RESOLVED,
)
#: The determinations Defender accepts on ``PATCH /api/alerts/{id}``.
SETTABLE_ALERT_DETERMINATIONS: tuple[AlertDetermination, ...] = (
    AlertDetermination.NOT_AVAILABLE,
    AlertDetermination.APT,
    AlertDetermination.MALWARE,
    AlertDetermination.SECURITY_PERSONNEL,
    AlertDetermination.SECURITY_TESTING,
    AlertDetermination.UNWANTED_SOFTWARE,
    AlertDetermination.MULTI_STAGED_ATTACK,
    AlertDetermination.MALICIOUS_USER_ACTIVITY,
    AlertDetermination.COMPROMISED_ACCOUNT,
    AlertDetermination.PHISHING,
    AlertDetermination.LINE_OF_BUSINESS_APPLICATION,
    AlertDetermination.CONFIRMED_ACTIVITY,
    AlertDetermination.NOT_MALICIOUS,
    AlertDetermination.INSUFFICIENT_DATA,
    AlertDetermination.OTHER,
)

ALERT_SEVERITIES = AlertSeverity.values()
ALERT_STATUSES = AlertStatus.values()
ALERT_CLASSIFICATIONS = AlertClassification.values()
ALERT_DETERMINATIONS = AlertDetermination.values()
INCIDENT_STATUSES = IncidentStatus.values()
INCIDENT_CLASSIFICATIONS = ALERT_CLASSIFICATIONS


_WORD_START = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def humanise(value: str) -> str:
    """``"inProgress"`` -> ``"In progress"``, ``"UnsupportedAlertType"`` -> ``"Unsupported
    alert type"``: words for a code that has no label of its own (acronyms kept)."""
    words = _WORD_START.sub(" ", value).split()
    text = " ".join(w if w.isupper() else w.lower() for w in words)
    return text[:1].upper() + text[1:]


# Every label, found by the value in any case (Graph spells ``inProgress`` what the MDE API
# spells ``InProgress``); the vocabularies agree where a value appears in several.
_LABELS: dict[str, str] = {
    member.value.lower(): member.label
    for vocabulary in (
        AlertSeverity, AlertStatus, AlertClassification, AlertDetermination, IncidentStatus,
    )
    for member in vocabulary
}  # fmt: skip


def in_words(value: str | None) -> str:
    """Any code Defender or Graph sends for a status, classification, determination or
    state, in the portal's words: a vocabulary's label, else the code cut into words
    (Microsoft adds values now and then); '' for no value."""
    if not value:
        return ""
    return _LABELS.get(value.lower()) or humanise(value)
