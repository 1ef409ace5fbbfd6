"""The enum vocabularies of alerts and incidents: Microsoft's spellings, the portal's words."""

from __future__ import annotations

import pytest

import partner_portal.defender as defender
from partner_portal.defender import (
    ALERT_CLASSIFICATIONS,
    ALERT_DETERMINATIONS,
    ALERT_SEVERITIES,
    ALERT_STATUSES,
    INCIDENT_CLASSIFICATIONS,
    INCIDENT_STATUSES,
    SETTABLE_ALERT_DETERMINATIONS,
    SETTABLE_ALERT_STATUSES,
    AlertClassification,
    AlertDetermination,
    AlertSeverity,
    AlertStatus,
    IncidentStatus,
    Vocabulary,
    parse_alert,
    parse_incident,
)

from .fakes import alert_json


def test_members_are_microsofts_spellings_with_the_portals_labels() -> None:
    iea = AlertClassification.INFORMATIONAL_EXPECTED_ACTIVITY
    assert iea == "InformationalExpectedActivity"
    assert iea.label == "Informational, expected activity"
    assert AlertStatus.IN_PROGRESS.label == "In progress"
    assert IncidentStatus.IN_PROGRESS.label == "In progress"
    assert AlertSeverity.UNSPECIFIED == "UnSpecified"
    assert AlertSeverity.UNSPECIFIED.label == "Unspecified"
    assert AlertDetermination.APT.label == "APT"
    # Without a label of its own, a member is shown as Microsoft spells it.
    assert AlertSeverity.HIGH.label == "High"
    assert AlertStatus("InProgress") is AlertStatus.IN_PROGRESS
    assert f"{AlertStatus.IN_PROGRESS}" == "InProgress"


@pytest.mark.parametrize(
    ("vocabulary", "values"),
    [
        (AlertSeverity, ALERT_SEVERITIES),
        (AlertStatus, ALERT_STATUSES),
        (AlertClassification, ALERT_CLASSIFICATIONS),
        (AlertDetermination, ALERT_DETERMINATIONS),
        (IncidentStatus, INCIDENT_STATUSES),
        (AlertClassification, INCIDENT_CLASSIFICATIONS),
    ],
)
def test_value_sets_are_the_vocabularies_as_plain_strings(
    vocabulary: type[Vocabulary], values: frozenset[str]
) -> None:
    assert values == vocabulary.values() == set(vocabulary)
    assert all(type(value) is str for value in values)
    assert [value for value, _ in vocabulary.choices()] == [m.value for m in vocabulary]


def test_documented_values() -> None:
    assert {"UnSpecified", "Informational", "Low", "Medium", "High"} == ALERT_SEVERITIES
    assert {"Unknown", "New", "InProgress", "Resolved"} == ALERT_STATUSES
    assert {
        "Unknown",
        "TruePositive",
        "InformationalExpectedActivity",
        "FalsePositive",
    } == ALERT_CLASSIFICATIONS
    # AwaitingAction: Graph only (Defender Experts), read with Prefer: include-unknown-enum-members.
    assert {"Active", "Resolved", "Redirected", "InProgress", "AwaitingAction"} == INCIDENT_STATUSES
    assert len(ALERT_DETERMINATIONS) == 19
    assert [s.label for s in AlertSeverity] == [
        "Unspecified",
        "Informational",
        "Low",
        "Medium",
        "High",
    ]


def test_settable_values_are_part_of_their_vocabulary() -> None:
    assert [s.value for s in SETTABLE_ALERT_STATUSES] == ["New", "InProgress", "Resolved"]
    assert set(SETTABLE_ALERT_DETERMINATIONS) <= ALERT_DETERMINATIONS
    assert len(set(SETTABLE_ALERT_DETERMINATIONS)) == 15
    assert SETTABLE_ALERT_DETERMINATIONS[0] is AlertDetermination.NOT_AVAILABLE
    assert SETTABLE_ALERT_DETERMINATIONS[-1] is AlertDetermination.OTHER


def test_records_compare_with_members() -> None:
    alert = parse_alert(alert_json(status="InProgress", classification="TruePositive"))
    assert alert.status == AlertStatus.IN_PROGRESS
    assert AlertStatus(alert.status).label == "In progress"
    assert alert.classification == AlertClassification.TRUE_POSITIVE
    incident = parse_incident({"incidentId": 1, "status": "Redirected"})
    assert incident.status == IncidentStatus.REDIRECTED


def test_exported_from_the_package() -> None:
    for name in (
        "AlertSeverity",
        "AlertStatus",
        "AlertClassification",
        "AlertDetermination",
        "IncidentStatus",
        "ALERT_SEVERITIES",
    ):
        assert name in defender.__all__
