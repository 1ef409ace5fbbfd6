"""Graph's evolvable enumerations, and ``Prefer: include-unknown-enum-members``.

Each enumeration Graph serves ends its first members with the sentinel
``unknownFutureValue``; members Microsoft added later stand after it. Graph shows those
only to a caller whose request carries ``Prefer: include-unknown-enum-members`` (and
answers ``Preference-Applied: include-unknown-enum-members``); any other caller reads
``unknownFutureValue`` in their place, may not name them in ``$filter`` or a ``PATCH``
body (400), and finds them with ``$filter=… eq 'unknownFutureValue'``. A ``PATCH`` value
``unknownFutureValue`` leaves the property as it was. (Microsoft's "evolvable enums"
pattern of its Graph API guidelines.)

The members, in Microsoft's order, are those of the v1.0 metadata (the reference pages
of ``alert``, ``incident`` and ``alertEvidence``; Microsoft's Graph SDK for Python is
generated from the same metadata).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .api import ApiError
from .odata import Field, ODataError
from .web import Request

SENTINEL = "unknownFutureValue"
PREFERENCE = "include-unknown-enum-members"

ALERT_STATUS = ("unknown", "new", "inProgress", "resolved", SENTINEL)
ALERT_SEVERITY = ("unknown", "informational", "low", "medium", "high", SENTINEL)
ALERT_CLASSIFICATION = (
    "unknown", "falsePositive", "truePositive", "informationalExpectedActivity", SENTINEL,
)  # fmt: skip
ALERT_DETERMINATION = (
    "unknown", "apt", "malware", "securityPersonnel", "securityTesting", "unwantedSoftware",
    "other", "multiStagedAttack", "compromisedAccount", "phishing", "maliciousUserActivity",
    "notMalicious", "notEnoughDataToValidate", "confirmedActivity",
    "lineOfBusinessApplication", SENTINEL,
)  # fmt: skip
SERVICE_SOURCE = (
    "unknown", "microsoftDefenderForEndpoint", "microsoftDefenderForIdentity",
    "microsoftDefenderForCloudApps", "microsoftDefenderForOffice365", "microsoft365Defender",
    "azureAdIdentityProtection", "microsoftAppGovernance", "dataLossPrevention", SENTINEL,
    "microsoftDefenderForCloud", "microsoftSentinel", "microsoftInsiderRiskManagement",
    "microsoftThreatIntelligence", "microsoftSecurityForAI",
)  # fmt: skip
DETECTION_SOURCE = (
    "unknown", "microsoftDefenderForEndpoint", "antivirus", "smartScreen", "customTi",
    "microsoftDefenderForOffice365", "automatedInvestigation", "microsoftThreatExperts",
    "customDetection", "microsoftDefenderForIdentity", "cloudAppSecurity",
    "microsoft365Defender", "azureAdIdentityProtection", "manual",
    "microsoftDataLossPrevention", "appGovernancePolicy", "appGovernanceDetection", SENTINEL,
    "microsoftDefenderForCloud", "microsoftDefenderForIoT", "microsoftDefenderForServers",
    "microsoftDefenderForStorage", "microsoftDefenderForDNS", "microsoftDefenderForDatabases",
    "microsoftDefenderForContainers", "microsoftDefenderForNetwork",
    "microsoftDefenderForAppService", "microsoftDefenderForKeyVault",
    "microsoftDefenderForResourceManager", "microsoftDefenderForApiManagement", "nrtAlerts",
    "scheduledAlerts", "microsoftDefenderThreatIntelligenceAnalytics", "builtInMl",
    "microsoftInsiderRiskManagement", "microsoftThreatIntelligence",
    "microsoftDefenderForAIServices", "securityCopilot", "microsoftSentinel",
)  # fmt: skip
# awaitingAction: set by Defender Experts only.
INCIDENT_STATUS = ("active", "resolved", "inProgress", "redirected", SENTINEL, "awaitingAction")
EVIDENCE_VERDICT = ("unknown", "suspicious", "malicious", "noThreatsFound", SENTINEL)
EVIDENCE_REMEDIATION_STATUS = (
    "none", "remediated", "prevented", "blocked", "notFound", SENTINEL, "active",
    "pendingApproval", "declined", "unremediated", "running", "partiallyRemediated",
)  # fmt: skip

#: The enumerated properties of each resource, with their members in order.
ALERT_ENUMS: Mapping[str, tuple[str, ...]] = {
    "status": ALERT_STATUS,
    "severity": ALERT_SEVERITY,
    "classification": ALERT_CLASSIFICATION,
    "determination": ALERT_DETERMINATION,
    "serviceSource": SERVICE_SOURCE,
    "detectionSource": DETECTION_SOURCE,
}
INCIDENT_ENUMS: Mapping[str, tuple[str, ...]] = {
    "status": INCIDENT_STATUS,
    "severity": ALERT_SEVERITY,
    "classification": ALERT_CLASSIFICATION,
    "determination": ALERT_DETERMINATION,
}
EVIDENCE_ENUMS: Mapping[str, tuple[str, ...]] = {
    "verdict": EVIDENCE_VERDICT,
    "remediationStatus": EVIDENCE_REMEDIATION_STATUS,
}


def newer(members: tuple[str, ...]) -> frozenset[str]:
    """The members after the sentinel: those shown only on request."""
    return frozenset(members[members.index(SENTINEL) + 1 :])


Newer = Mapping[str, frozenset[str]]
#: Per resource, each enumerated property's newer members.
ALERT_NEWER: Newer = {name: newer(members) for name, members in ALERT_ENUMS.items()}
INCIDENT_NEWER: Newer = {name: newer(members) for name, members in INCIDENT_ENUMS.items()}
EVIDENCE_NEWER: Newer = {name: newer(members) for name, members in EVIDENCE_ENUMS.items()}


def settable(members: tuple[str, ...]) -> frozenset[str]:
    """The members a ``PATCH`` may set: all but the sentinel. (:func:`check_body` has by
    then dropped the sentinel, and refused newer members unless they were asked for.)"""
    return frozenset(members) - {SENTINEL}


def invalid_value(name: str, value: Any, allowed: Iterable[str]) -> ApiError:
    """The 400 for a value that is not one of ``allowed``."""
    return ApiError(
        400, "BadRequest", f"Invalid value '{value}' for '{name}'; allowed: {', '.join(allowed)}."
    )


def wants_newer(request: Request) -> bool:
    """Whether the request carries ``Prefer: include-unknown-enum-members`` (among the
    preferences of its ``Prefer`` header, which are separated by commas)."""
    prefer = request.headers.get("prefer", "")
    return any(p.strip().lower() == PREFERENCE for p in prefer.split(","))


def shown(newer_members: frozenset[str], value: Any, include: bool) -> Any:
    """``value`` as a caller sees it: a newer member is the sentinel unless asked for."""
    if include or value not in newer_members:
        return value
    return SENTINEL


def _masked(record: dict[str, Any], enums: Newer) -> dict[str, Any]:
    changed = {name: SENTINEL for name, later in enums.items() if record.get(name) in later}
    return {**record, **changed} if changed else record


def _seen_with(
    record: dict[str, Any],
    enums: Newer,
    nested: str,
    nested_seen: Callable[[dict[str, Any]], dict[str, Any]],
) -> dict[str, Any]:
    """`record` masked, and each object of its `nested` list as `nested_seen` shows it;
    a copy is made only where something changed."""
    out = _masked(record, enums)
    items = record.get(nested)
    if isinstance(items, list):
        seen = [nested_seen(i) if isinstance(i, dict) else i for i in items]
        if any(a is not b for a, b in zip(seen, items, strict=True)):
            out = {**out, nested: seen}
    return out


def _alert_masked(record: dict[str, Any]) -> dict[str, Any]:
    return _seen_with(record, ALERT_NEWER, "evidence", lambda e: _masked(e, EVIDENCE_NEWER))


def alert_as_seen(record: dict[str, Any], include: bool) -> dict[str, Any]:
    """An alert (and its evidence) as the caller sees it; the record itself is kept."""
    return record if include else _alert_masked(record)


def incident_as_seen(record: dict[str, Any], include: bool) -> dict[str, Any]:
    """An incident (and its expanded alerts) as the caller sees it."""
    return record if include else _seen_with(record, INCIDENT_NEWER, "alerts", _alert_masked)


def hidden_member_error(name: str, value: str) -> str:
    return (
        f"The value '{value}' of '{name}' is a member added after 'unknownFutureValue'; "
        f"send the header 'Prefer: {PREFERENCE}' to use it."
    )


def check_body(changes: dict[str, Any], enums: Newer, include: bool) -> dict[str, Any]:
    """A ``PATCH`` body as Graph takes it: a newer member without the preference is 400;
    ``unknownFutureValue`` leaves its property unchanged (it is dropped here)."""
    kept = {}
    for name, value in changes.items():
        later = enums.get(name)
        if later is not None and value == SENTINEL:
            continue
        if later is not None and not include and isinstance(value, str) and value in later:
            raise ApiError(400, "BadRequest", hidden_member_error(name, value))
        kept[name] = value
    return kept


def enum_field(
    name: str, later: frozenset[str], include: bool, read: Callable[[Any], Any]
) -> Field:
    """A ``$filter`` property of an evolvable enum: compared as the caller sees it
    (``eq 'unknownFutureValue'`` finds the newer members unless they were asked for), and
    naming a newer member without the preference is 400."""

    def check(value: str) -> None:
        if not include and value in later:
            raise ODataError(hidden_member_error(name, value))

    return Field("string", lambda item: shown(later, read(item), include), check=check)
