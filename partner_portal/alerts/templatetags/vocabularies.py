"""Words for Defender's values in the console's templates: `{% load vocabularies %}`.

The words come from the protocol core's vocabularies (`partner_portal.defender`), the
same ones the forms offer, so a template never spells a label by hand. A value the core
does not know (Microsoft adds values now and then) is cut into words
("UnsupportedAlertType" reads "Unsupported alert type").

`{{ value|word:"verdict" }}` names the vocabulary of an evidence value (a verdict, a
remediation status, a role, an e-mail's delivery action or location, a device's health
or risk, a detection status); the names are `EVIDENCE_VOCABULARIES`' keys.
"""

from __future__ import annotations

from django import template

from partner_portal.defender import in_words, mitre
from partner_portal.defender.graph_vocab import (
    GRAPH_DELIVERY_ACTIONS,
    GRAPH_DELIVERY_LOCATIONS,
    GRAPH_DETECTION_STATUSES,
    GRAPH_DEVICE_HEALTH_STATUSES,
    GRAPH_DEVICE_RISK_SCORES,
    GRAPH_EVIDENCE_REMEDIATION_STATUSES,
    GRAPH_EVIDENCE_ROLES,
    GRAPH_EVIDENCE_VERDICTS,
    Vocabulary,
)

register = template.Library()


@register.filter
def words(value: str | None) -> str:
    """A status, classification, determination or state in words (the label the core
    gives InProgress, say, or InformationalExpectedActivity)."""
    return in_words(value)


EVIDENCE_VOCABULARIES: dict[str, Vocabulary] = {
    "verdict": GRAPH_EVIDENCE_VERDICTS,
    "remediation": GRAPH_EVIDENCE_REMEDIATION_STATUSES,
    "role": GRAPH_EVIDENCE_ROLES,
    "delivery_action": GRAPH_DELIVERY_ACTIONS,
    "delivery_location": GRAPH_DELIVERY_LOCATIONS,
    "detection": GRAPH_DETECTION_STATUSES,
    "health": GRAPH_DEVICE_HEALTH_STATUSES,
    "risk": GRAPH_DEVICE_RISK_SCORES,
}


@register.filter
def alert_status_label(value: str) -> str:
    """An alert status in words (InProgress, say, as its label in the core)."""
    return in_words(value)


@register.filter
def word(value: object, vocabulary: str) -> str:
    """An evidence value in words ("junkFolder" as "Junk folder"); as sent if unknown."""
    text = "" if value is None else str(value)
    found = EVIDENCE_VOCABULARIES.get(vocabulary)
    return found.label(text) if found is not None and text else text


@register.filter
def incident_status_label(value: str) -> str:
    """An incident status in words (AwaitingAction, say)."""
    return in_words(value)


@register.filter
def technique_name(technique: str) -> str:
    """A MITRE technique's name ("Command and Scripting Interpreter: PowerShell"), or ""."""
    return mitre.technique_name(technique) or ""


@register.filter
def technique_url(technique: str) -> str:
    """MITRE's page for a known technique, or ""."""
    return mitre.technique_url(technique) or ""
