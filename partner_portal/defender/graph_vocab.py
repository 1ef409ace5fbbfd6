"""The enumerations of the Microsoft Graph security API (v1.0), read case-insensitively.

Graph spells enum members in camelCase (``inProgress``, ``truePositive``), yet Microsoft's
own examples for the same endpoint also send ``Active``, ``TruePositive`` and
``MultiStagedAttack``, and the MDE and XDR APIs this product still reads spoke PascalCase.
A sync must treat those as one value, so every value is looked up without regard to case
and stored in Graph's canonical spelling: ``"TruePositive"`` becomes ``"truePositive"``.

Graph's enums are "evolvable": Microsoft adds members (newer ones only reach clients that
send ``Prefer: include-unknown-enum-members``; the others see ``unknownFutureValue``), and
its pages disagree about ``determination``. A value that is not a member is therefore
never a failure: :meth:`Vocabulary.canonical` answers ``None``, the parser keeps the value
exactly as sent and names the field in the record's ``unknown_values``. The lookup and
that rule are :class:`~.fields.Enumeration`'s, which the MDE and XDR vocabularies use too.

Members are the union of the v1.0 reference pages (property lists and value tables, which
do not always agree) and the members the Graph SDKs already know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .fields import Enumeration
from .records.vocabularies import humanise

__all__ = [
    "GRAPH_ALERT_CLASSIFICATIONS",
    "GRAPH_ALERT_DETERMINATIONS",
    "GRAPH_ALERT_SEVERITIES",
    "GRAPH_ALERT_STATUSES",
    "GRAPH_DELIVERY_ACTIONS",
    "GRAPH_DELIVERY_LOCATIONS",
    "GRAPH_DETECTION_SOURCES",
    "GRAPH_DETECTION_STATUSES",
    "GRAPH_DEVICE_HEALTH_STATUSES",
    "GRAPH_DEVICE_RISK_SCORES",
    "GRAPH_EVIDENCE_REMEDIATION_STATUSES",
    "GRAPH_EVIDENCE_ROLES",
    "GRAPH_EVIDENCE_VERDICTS",
    "GRAPH_INCIDENT_STATUSES",
    "GRAPH_SERVICE_SOURCES",
    "Vocabulary",
    "service_source_label",
]


class Vocabulary(Enumeration):
    """One Graph enumeration: its members in canonical spelling, found in any case, with
    words for people."""

    __slots__ = ("_labels",)

    def __init__(
        self, name: str, members: Iterable[str], labels: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(name, members)
        self._labels: dict[str, str] = dict(labels or {})
        unknown_labels = set(self._labels) - set(self.members)
        if unknown_labels:
            raise ValueError(f"{name}: labels for non-members {sorted(unknown_labels)}")

    def label(self, value: str) -> str:
        """Words for a value, for people: a member's label, else the value as sent."""
        member = self.canonical(value)
        if member is None:
            return value
        return self._labels.get(member) or humanise(member)


GRAPH_ALERT_STATUSES = Vocabulary(
    # "unknown" is in the page's value table though not in its property list.
    "alert status",
    ("unknown", "new", "inProgress", "resolved", "unknownFutureValue"),
)
GRAPH_ALERT_SEVERITIES = Vocabulary(
    "severity", ("unknown", "informational", "low", "medium", "high", "unknownFutureValue")
)
GRAPH_ALERT_CLASSIFICATIONS = Vocabulary(
    "classification",
    (
        "unknown",
        "falsePositive",
        "truePositive",
        "informationalExpectedActivity",
        "unknownFutureValue",
    ),
)
# The alert page's property list and its value table name different members (e.g.
# compromisedUser / compromisedAccount, clean / notMalicious); both sets are members.
GRAPH_ALERT_DETERMINATIONS = Vocabulary(
    "determination",
    (
        "unknown",
        "apt",
        "malware",
        "securityPersonnel",
        "securityTesting",
        "unwantedSoftware",
        "other",
        "multiStagedAttack",
        "compromisedUser",
        "compromisedAccount",
        "phishing",
        "maliciousUserActivity",
        "clean",
        "notMalicious",
        "insufficientData",
        "notEnoughDataToValidate",
        "confirmedUserActivity",
        "confirmedActivity",
        "lineOfBusinessApplication",
        "unknownFutureValue",
    ),
)
GRAPH_SERVICE_SOURCES = Vocabulary(
    "service source",
    (
        "unknown",
        "microsoftDefenderForEndpoint",
        "microsoftDefenderForIdentity",
        "microsoftDefenderForCloudApps",
        "microsoftDefenderForOffice365",
        "microsoft365Defender",
        "azureAdIdentityProtection",
        "microsoftAppGovernance",
        "dataLossPrevention",
        "unknownFutureValue",
        "microsoftDefenderForCloud",
        "microsoftSentinel",
        "microsoftInsiderRiskManagement",
        "microsoftThreatIntelligence",
    ),
    labels={
        "unknown": "Unknown source",
        "microsoftDefenderForEndpoint": "Defender for Endpoint",
        "microsoftDefenderForIdentity": "Defender for Identity",
        "microsoftDefenderForCloudApps": "Defender for Cloud Apps",
        "microsoftDefenderForOffice365": "Defender for Office 365",
        "microsoft365Defender": "Defender XDR",
        "azureAdIdentityProtection": "Entra ID Protection",
        "microsoftAppGovernance": "App governance",
        "dataLossPrevention": "Purview Data Loss Prevention",
        # Graph says this when the request did not ask for newer members.
        "unknownFutureValue": "A newer Microsoft source",
        "microsoftDefenderForCloud": "Defender for Cloud",
        "microsoftSentinel": "Microsoft Sentinel",
        "microsoftInsiderRiskManagement": "Purview Insider Risk Management",
        "microsoftThreatIntelligence": "Defender Threat Intelligence",
    },
)
GRAPH_DETECTION_SOURCES = Vocabulary(
    "detection source",
    (
        "unknown",
        "microsoftDefenderForEndpoint",
        "antivirus",
        "smartScreen",
        "customTi",
        "microsoftDefenderForOffice365",
        "automatedInvestigation",
        "microsoftThreatExperts",
        "customDetection",
        "microsoftDefenderForIdentity",
        "cloudAppSecurity",
        "microsoft365Defender",
        "azureAdIdentityProtection",
        "manual",
        "microsoftDataLossPrevention",
        "appGovernancePolicy",
        "appGovernanceDetection",
        "unknownFutureValue",
        "microsoftDefenderForCloud",
        "microsoftDefenderForIoT",
        "microsoftDefenderForServers",
        "microsoftDefenderForStorage",
        "microsoftDefenderForDNS",
        "microsoftDefenderForDatabases",
        "microsoftDefenderForContainers",
        "microsoftDefenderForNetwork",
        "microsoftDefenderForAppService",
        "microsoftDefenderForKeyVault",
        "microsoftDefenderForResourceManager",
        "microsoftDefenderForApiManagement",
        "microsoftSentinel",
        "microsoftInsiderRiskManagement",
    ),
)
GRAPH_INCIDENT_STATUSES = Vocabulary(
    # awaitingAction is set by Defender Experts only, and sent only on request.
    "incident status",
    ("active", "resolved", "inProgress", "redirected", "unknownFutureValue", "awaitingAction"),
)
GRAPH_EVIDENCE_VERDICTS = Vocabulary(
    "verdict",
    ("unknown", "suspicious", "malicious", "noThreatsFound", "unknownFutureValue"),
    labels={"unknown": "Not judged", "unknownFutureValue": "A newer verdict"},
)
GRAPH_EVIDENCE_REMEDIATION_STATUSES = Vocabulary(
    # The members after unknownFutureValue are sent only on request.
    "remediation status",
    (
        "none",
        "remediated",
        "prevented",
        "blocked",
        "notFound",
        "unknownFutureValue",
        "active",
        "pendingApproval",
        "declined",
        "unremediated",
        "running",
        "partiallyRemediated",
    ),
    labels={"none": "No action taken", "unremediated": "Not remediated"},
)
GRAPH_EVIDENCE_ROLES = Vocabulary(
    "evidence role",
    (
        "unknown",
        "contextual",
        "scanned",
        "source",
        "destination",
        "created",
        "added",
        "compromised",
        "edited",
        "attacked",
        "attacker",
        "commandAndControl",
        "loaded",
        "suspicious",
        "policyViolator",
        "unknownFutureValue",
    ),
)

GRAPH_DETECTION_STATUSES = Vocabulary(
    "detection status", ("detected", "blocked", "prevented", "unknownFutureValue")
)
GRAPH_DEVICE_HEALTH_STATUSES = Vocabulary(
    "device health",
    (
        "active",
        "inactive",
        "impairedCommunication",
        "noSensorData",
        "noSensorDataImpairedCommunication",
        "unknown",
        "unknownFutureValue",
    ),
    labels={
        "impairedCommunication": "Impaired communication",
        "noSensorData": "No sensor data",
        "noSensorDataImpairedCommunication": "No sensor data, impaired communication",
    },
)
GRAPH_DEVICE_RISK_SCORES = Vocabulary(
    "device risk",
    ("none", "informational", "low", "medium", "high", "unknownFutureValue"),
    labels={"none": "No known risk"},
)
# An analysed e-mail's `deliveryAction` and `deliveryLocation` are text in Graph's schema;
# these are the values Defender for Office 365 documents (Microsoft's pages spell them
# "Delivered" or "junkFolder" alike: the lookup ignores case, other values show as sent).
GRAPH_DELIVERY_ACTIONS = Vocabulary(
    "delivery action",
    ("unknown", "delivered", "deliveredAsSpam", "junked", "blocked", "replaced"),
    labels={
        "delivered": "Delivered",
        "deliveredAsSpam": "Delivered as spam",
        "junked": "Delivered to junk",
        "blocked": "Blocked",
        "replaced": "Replaced (attachment removed)",
    },
)
GRAPH_DELIVERY_LOCATIONS = Vocabulary(
    "delivery location",
    (
        "unknown",
        "inbox",
        "inboxFolder",
        "junkFolder",
        "deletedFolder",
        "deletedItemsFolder",
        "quarantine",
        "onpremExternal",
        "external",
        "failed",
        "dropped",
        "forwarded",
    ),
    labels={
        "inbox": "Inbox",
        "inboxFolder": "Inbox or a folder",
        "junkFolder": "Junk folder",
        "deletedFolder": "Deleted items",
        "deletedItemsFolder": "Deleted items",
        "onpremExternal": "On-premises or external mailbox",
        "external": "External",
    },
)


def service_source_label(value: str | None) -> str:
    """The product's name for an alert's ``serviceSource`` ("Defender for Office 365")."""
    return GRAPH_SERVICE_SOURCES.label("unknown" if value is None else value)
