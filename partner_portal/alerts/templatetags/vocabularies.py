"""Words for Defender's values in the console's templates: `{% load vocabularies %}`.

The words come from the protocol core's vocabularies (`partner_portal.defender`), the
same ones the forms offer, so a template never spells a label by hand. A value the core
does not know (Microsoft adds values now and then) is shown as Defender sent it.
"""

from __future__ import annotations

from django import template

from partner_portal.defender import AlertStatus, IncidentStatus

register = template.Library()

_ALERT_STATUS_LABELS = {status.value: status.label for status in AlertStatus}


@register.filter
def alert_status_label(value: str) -> str:
    """An alert status in words (InProgress, say, as its label in the core)."""
    return _ALERT_STATUS_LABELS.get(value, value)


_INCIDENT_STATUS_LABELS = {status.value: status.label for status in IncidentStatus}


@register.filter
def incident_status_label(value: str) -> str:
    """An incident status in words (AwaitingAction, say)."""
    return _INCIDENT_STATUS_LABELS.get(value, value)
