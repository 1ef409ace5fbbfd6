"""The values Microsoft documents for the enum fields of alerts and incidents.

Defined once, here: the parsers flag a value outside these sets (and keep it), the
clients check what they send, and the portal may list them.
"""

from __future__ import annotations

__all__ = [
    "ALERT_CLASSIFICATIONS",
    "ALERT_DETERMINATIONS",
    "ALERT_SEVERITIES",
    "ALERT_STATUSES",
    "INCIDENT_CLASSIFICATIONS",
    "INCIDENT_STATUSES",
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
