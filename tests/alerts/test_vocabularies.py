"""The console's hand-written status, classification and determination choices say
what the protocol core's vocabularies say (until the forms read them from there)."""

from __future__ import annotations

from partner_portal.alerts import filters, forms, selectors
from partner_portal.alerts.models import SEVERITY_RANK
from partner_portal.defender import (
    SETTABLE_ALERT_DETERMINATIONS,
    SETTABLE_ALERT_STATUSES,
    AlertClassification,
    AlertSeverity,
    AlertStatus,
    IncidentStatus,
)


def _pairs(members: object) -> list[tuple[str, str]]:
    return [(m.value, m.label) for m in members]  # type: ignore[attr-defined]


def test_alert_choices_match_the_vocabularies() -> None:
    assert _pairs(SETTABLE_ALERT_STATUSES) == forms.STATUS_CHOICES
    assert _pairs(SETTABLE_ALERT_DETERMINATIONS) == forms.DETERMINATION_CHOICES
    assert AlertClassification.choices()[:3] == forms.CLASSIFICATION_CHOICES
    assert list(selectors.STATUSES) == [s.value for s in SETTABLE_ALERT_STATUSES]
    assert set(selectors.SEVERITIES) < set(AlertSeverity)
    assert list(SEVERITY_RANK) == list(AlertSeverity)
    assert {"InProgress": AlertStatus.IN_PROGRESS.label} == selectors.STATUS_LABELS


def test_incident_status_choices_match_the_vocabulary() -> None:
    field = forms.IncidentFilterForm.base_fields["status"]
    assert list(field.choices)[1:] == IncidentStatus.choices()  # type: ignore[attr-defined]
    status = filters.AlertFilterForm.base_fields["status"]
    assert list(status.choices) == _pairs(SETTABLE_ALERT_STATUSES)  # type: ignore[attr-defined]
