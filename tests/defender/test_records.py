"""Alert and incident parsing: timestamps, enums, unknown fields, malformed items."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from partner_portal.defender.errors import MalformedResponse
from partner_portal.defender.records import (
    AlertComment,
    RelatedUser,
    format_timestamp,
    parse_alert,
    parse_incident,
    parse_timestamp,
)

from .fakes import alert_json


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2021-01-26T20:33:57.7220239Z", datetime(2021, 1, 26, 20, 33, 57, 722023, tzinfo=UTC)),
        ("2021-01-26T20:33:57Z", datetime(2021, 1, 26, 20, 33, 57, tzinfo=UTC)),
        ("2021-01-26T20:33:57.2Z", datetime(2021, 1, 26, 20, 33, 57, 200000, tzinfo=UTC)),
        ("2021-01-26T22:33:57.5+02:00", datetime(2021, 1, 26, 20, 33, 57, 500000, tzinfo=UTC)),
        ("2021-01-26T20:33:57", datetime(2021, 1, 26, 20, 33, 57, tzinfo=UTC)),
    ],
)
def test_parse_timestamp(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed is not None and parsed.tzinfo is UTC


@pytest.mark.parametrize("bad", ["yesterday", "2021-13-40T00:00:00Z", 12, "2021-01-26"])
def test_parse_timestamp_rejects(bad: object) -> None:
    with pytest.raises(MalformedResponse):
        parse_timestamp(bad)


def test_none_stays_none() -> None:
    assert parse_timestamp(None) is None


def test_format_timestamp() -> None:
    assert format_timestamp(datetime(2024, 5, 1, 12, 0, tzinfo=UTC)) == "2024-05-01T12:00:00Z"
    cest = timezone(timedelta(hours=2))
    assert format_timestamp(datetime(2024, 5, 1, 14, 0, 0, 5, tzinfo=cest)) == (
        "2024-05-01T12:00:00.000005Z"
    )
    with pytest.raises(ValueError):
        format_timestamp(datetime(2024, 5, 1))


def test_parse_alert_fields() -> None:
    data = alert_json(3, someNewField={"x": 1})
    alert = parse_alert(data)
    assert alert.id == data["id"]
    assert alert.incident_id == data["incidentId"]
    assert alert.severity == "Low" and alert.status == "New"
    assert alert.classification is None
    assert alert.alert_creation_time == datetime(2021, 1, 26, 20, 33, 57, 722023, tzinfo=UTC)
    assert alert.last_update_time == datetime(2021, 1, 26, 20, 33, 59, 200000, tzinfo=UTC)
    assert alert.resolved_time is None
    assert alert.mitre_techniques == ("T1064", "T1085", "T1220")
    assert alert.related_user == RelatedUser("temp123", "MIDDLEEAST")
    assert alert.comments == (
        AlertComment(
            "test comment for docs",
            "secop123@contoso.com",
            datetime(2021, 1, 26, 1, 0, 37, 840453, tzinfo=UTC),
        ),
    )
    assert alert.unknown_values == ()
    # Unknown fields are kept with the original.
    assert alert.raw["someNewField"] == {"x": 1}
    assert alert.raw["loggedOnUsers"][0]["accountName"] == "temp123"


def test_fast_built_record_is_complete_and_frozen() -> None:
    from dataclasses import FrozenInstanceError, fields

    from partner_portal.defender.records import ALERT_FIELDS, AlertRecord

    alert = parse_alert(alert_json(5))
    assert set(vars(alert)) == ALERT_FIELDS
    assert alert == AlertRecord(**{f.name: getattr(alert, f.name) for f in fields(AlertRecord)})
    with pytest.raises(FrozenInstanceError):
        alert.status = "Resolved"  # type: ignore[misc]


def test_unknown_enum_kept_and_flagged() -> None:
    alert = parse_alert(
        alert_json(severity="Critical", classification="BenignPositive", status="Resolved")
    )
    assert alert.severity == "Critical"
    assert alert.classification == "BenignPositive"
    assert set(alert.unknown_values) == {"severity", "classification"}


def test_newer_determinations_known() -> None:
    alert = parse_alert(alert_json(classification="TruePositive", determination="Phishing"))
    assert alert.unknown_values == ()


def test_missing_enums_get_documented_defaults() -> None:
    data = alert_json()
    del data["severity"], data["status"]
    alert = parse_alert(data)
    assert (alert.severity, alert.status) == ("UnSpecified", "Unknown")


@pytest.mark.parametrize(
    "data",
    [
        "not an object",
        {"title": "no id"},
        alert_json(id=""),
        alert_json(severity=3),
        alert_json(incidentId="abc"),
        alert_json(incidentId=True),
        alert_json(mitreTechniques="T1064"),
        alert_json(lastUpdateTime="soon"),
        alert_json(relatedUser="someone"),
        alert_json(comments=["text"]),
        alert_json(evidence={"a": 1}),
    ],
)
def test_malformed_alerts(data: object) -> None:
    with pytest.raises(MalformedResponse):
        parse_alert(data)


def test_string_incident_id_accepted() -> None:
    assert parse_alert(alert_json(incidentId="42")).incident_id == 42


def incident_json() -> dict[str, object]:
    return {
        "incidentId": 924565,
        "redirectIncidentId": None,
        "incidentName": "Ransomware activity on one endpoint",
        "createdTime": "2020-09-06T14:09:45.0733333Z",
        "lastUpdateTime": "2020-09-06T14:09:45.0733333Z",
        "assignedTo": None,
        "classification": "Unknown",
        "determination": "NotAvailable",
        "status": "Active",
        "severity": "Medium",
        "tags": ["Demo"],
        "comments": [],
        "alerts": [
            {
                "alertId": "da637349914833441527_393341063",
                "incidentId": 924565,
                "serviceSource": "MicrosoftDefenderForEndpoint",
                "creationTime": "2020-09-06T14:09:43.3439107Z",
                "lastUpdatedTime": "2020-09-06T14:09:45.0733333Z",
                "title": "Ransomware behavior detected",
                "category": "Ransomware",
                "status": "New",
                "severity": "Medium",
                "detectionSource": "WindowsDefenderAv",
                "devices": [{"mdatpDeviceId": "abc", "deviceDnsName": "host1"}],
                "entities": [{"entityType": "File", "fileName": "x.exe"}],
            }
        ],
        "futureField": 1,
    }


def test_parse_incident() -> None:
    incident = parse_incident(incident_json())
    assert incident.incident_id == 924565
    assert incident.status == "Active" and incident.severity == "Medium"
    assert incident.tags == ("Demo",)
    assert incident.alerts[0].alert_id == "da637349914833441527_393341063"
    assert incident.alerts[0].devices[0]["deviceDnsName"] == "host1"
    assert incident.created_time == datetime(2020, 9, 6, 14, 9, 45, 73333, tzinfo=UTC)
    assert incident.raw["futureField"] == 1
    assert incident.unknown_values == ()


def test_malformed_incident() -> None:
    with pytest.raises(MalformedResponse):
        parse_incident({"incidentName": "no id"})
    bad = incident_json()
    bad["alerts"] = [{"title": "no id"}]
    with pytest.raises(MalformedResponse):
        parse_incident(bad)
