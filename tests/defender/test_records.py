"""Alert and incident parsing: timestamps, enums, unknown fields, malformed items."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

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


# --------------------------------------------------------------------------------------
# The quick path of parse_alert / parse_alert_page against the field-by-field reading.
#
# ``_parse_alert_checked`` reads an alert one field at a time and is the reference: for
# every input, parse_alert and parse_alert_page must give an equal record (same values,
# same unknown_values, the same ``raw`` object, UTC datetimes) or the same error.

TIME_FIELDS = (
    "alertCreationTime",
    "firstEventTime",
    "lastEventTime",
    "lastUpdateTime",
    "resolvedTime",
)

TRICKY_TIMESTAMPS: list[object] = [
    None,
    "2021-01-26T20:33:57Z",
    "2021-01-26T20:33:57.7Z",
    "2021-01-26T20:33:57.72Z",
    "2021-01-26T20:33:57.722Z",
    "2021-01-26T20:33:57.7220Z",
    "2021-01-26T20:33:57.72202Z",
    "2021-01-26T20:33:57.722023Z",
    "2021-01-26T20:33:57.7220239Z",
    "2021-01-26T20:33:57.9999999Z",
    "2021-01-26T20:33:57.0000000Z",
    "2021-01-26T20:33:57.72202391Z",
    "2021-01-26T20:33:57.722023912Z",
    "2021-01-26T20:33:57.7220239123Z",
    "2021-01-26T22:33:57.5+02:00",
    "2021-01-26T15:03:57.7220239-05:30",
    "2021-01-26T22:33:57+0200",
    "2021-01-26T20:33:57-00:00",
    "2021-01-26T20:33:57",
    "2021-01-26T20:33:57.5",
    "2021-01-26 20:33:57Z",
    "2021-01-26T20:33:57z",
    " 2021-01-26T20:33:57Z ",
    "2021-01-26T20:33:57.Z",
    "2021-01-26T20:33:57,5Z",
    "2021-W04-2T20:33:57Z",
    "2021-01-26T20:33Z",
    "2021-01-26T24:00:00Z",
    "2021-02-30T00:00:00Z",
    "2021-13-01T00:00:00Z",
    "2021-01-26T20:33:57.5+02:00Z",
    "2021-01-26",
    "",
    "soon",
    12,
    1.5,
    True,
    ["2021-01-26T20:33:57Z"],
    {"t": "2021-01-26T20:33:57Z"},
]


class _Str(str):
    """A str subclass: allowed by some checks of the reference, not by the quick path."""


class _Dict(dict):  # type: ignore[type-arg]
    pass


TRICKY_VALUES: dict[str, list[object]] = {
    "id": [None, "", 5, ["x"], _Str("id-1")],
    "title": [None, "", 3, True, ["t"], {"a": 1}, _Str("t")],
    "description": [None, 1.5],
    "aadTenantId": [None, 7],
    "severity": [None, "", "High", "Critical", "high", 3, ["High"], {"a": 1}, _Str("Low")],
    "status": [None, "Resolved", "Closed", False, _Str("New")],
    "classification": [None, "TruePositive", "BenignPositive", 0, ["x"]],
    "determination": [None, "Phishing", "SomethingNew", 2.0],
    "incidentId": [None, 0, -3, 2**70, "42", " 42 ", "-7", "4.2", "abc", "", True, 1.5, [1]],
    "investigationId": [None, 5, "9", False, {"a": 1}],
    "mitreTechniques": [None, [], ["T1"], ["T1", "T2"], "T1", [1], [None], [_Str("T1")], ()],
    "relatedUser": [
        None,
        {},
        {"userName": "a"},
        {"userName": "a", "domainName": None},
        {"userName": 1, "domainName": "D"},
        {"userName": ["a"], "domainName": "D"},
        {"userName": _Str("a"), "domainName": "D"},
        "someone",
        [],
        _Dict(userName="a", domainName="D"),
    ],
    "comments": [
        None,
        [],
        [{}],
        [{"comment": "x", "createdBy": None, "createdTime": "2021-01-26T22:33:57.5+02:00"}],
        [{"comment": "x", "createdBy": "y", "createdTime": "2021-01-26T20:33:57.1234567Z"}],
        [{"comment": 5}],
        [{"createdTime": 5}],
        [{"createdTime": "2021-02-30T00:00:00Z"}],
        ["text"],
        {"a": 1},
        "text",
        [_Dict(comment="x")],
    ],
    "evidence": [None, [], [{}], [{"entityType": "File"}, {}], [1], {"a": 1}, [_Dict()]],
}


def _outcome(parse: Any, data: object) -> tuple[object, ...]:
    try:
        record = parse(data)
    except MalformedResponse as exc:
        return ("error", exc.status, exc.code, exc.message)
    return ("record", record)


def _assert_same(data: object) -> None:
    from partner_portal.defender.records.alerts import _parse_alert_checked, parse_alert_page

    expected = _outcome(_parse_alert_checked, data)
    for parse in (parse_alert, lambda d: parse_alert_page([d])[0]):
        got = _outcome(parse, data)
        assert got == expected, data
        if expected[0] == "record":
            record, reference = got[1], expected[1]
            assert vars(record) == vars(reference)
            assert record.raw is data
            for value in vars(record).values():
                if isinstance(value, datetime):
                    assert value.tzinfo is UTC
            for comment in record.comments:
                assert comment.created_time is None or comment.created_time.tzinfo is UTC


@pytest.mark.parametrize("stamp", TRICKY_TIMESTAMPS, ids=repr)
@pytest.mark.parametrize("name", TIME_FIELDS)
def test_quick_path_timestamps_match_reference(name: str, stamp: object) -> None:
    _assert_same(alert_json(**{name: stamp}))


@pytest.mark.parametrize("stamp", TRICKY_TIMESTAMPS, ids=repr)
def test_quick_path_timestamps_agree_with_parse_timestamp(stamp: object) -> None:
    try:
        expected: object = parse_timestamp(stamp)
    except MalformedResponse:
        expected = MalformedResponse
    try:
        got: object = parse_alert(alert_json(resolvedTime=stamp)).resolved_time
    except MalformedResponse:
        got = MalformedResponse
    assert got == expected


def test_seven_fraction_digits_are_truncated_not_rounded() -> None:
    alert = parse_alert(alert_json(resolvedTime="2021-01-26T20:33:57.9999999Z"))
    assert alert.resolved_time == datetime(2021, 1, 26, 20, 33, 57, 999999, tzinfo=UTC)


def test_offsets_become_utc() -> None:
    alert = parse_alert(alert_json(firstEventTime="2021-01-26T15:03:57.7220239-05:30"))
    assert alert.first_event_time == datetime(2021, 1, 26, 20, 33, 57, 722023, tzinfo=UTC)
    assert alert.first_event_time is not None and alert.first_event_time.tzinfo is UTC


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, values in TRICKY_VALUES.items() for value in values],
    ids=repr,
)
def test_quick_path_fields_match_reference(name: str, value: object) -> None:
    _assert_same(alert_json(**{name: value}))


@pytest.mark.parametrize("name", sorted(alert_json()))
def test_quick_path_missing_field_matches_reference(name: str) -> None:
    data = alert_json()
    del data[name]
    _assert_same(data)


@pytest.mark.parametrize(
    "data", [None, "alert", 5, [alert_json()], _Dict(alert_json()), {}], ids=repr
)
def test_quick_path_non_alerts_match_reference(data: object) -> None:
    _assert_same(data)


def test_quick_path_random_mixtures_match_reference() -> None:
    import random

    rng = random.Random(20240501)
    choices = {name: list(values) for name, values in TRICKY_VALUES.items()}
    for name in TIME_FIELDS:
        choices[name] = TRICKY_TIMESTAMPS
    for _ in range(3000):
        overrides = {
            name: rng.choice(values) for name, values in choices.items() if rng.random() < 0.3
        }
        _assert_same(alert_json(rng.randrange(100), **overrides))


def test_parse_alert_page_is_all_or_nothing() -> None:
    from partner_portal.defender.records import parse_alert_page

    items = [alert_json(n, severity=s) for n, s in enumerate(["Low", "Critical", None] * 5)]
    items[4]["comments"] = []
    items[7]["lastUpdateTime"] = "2021-01-26T22:33:57.5+02:00"
    assert parse_alert_page(items) == [parse_alert(item) for item in items]
    assert parse_alert_page([]) == []
    for bad in (alert_json(lastUpdateTime="soon"), "x", alert_json(incidentId=True)):
        for position in (0, 7, 15):
            page = [*items[:position], bad, *items[position:]]
            with pytest.raises(MalformedResponse):
                parse_alert_page(page)


def test_parse_alert_page_records_are_independent_values() -> None:
    from partner_portal.defender.records import parse_alert_page

    first, second = parse_alert_page([alert_json(1), alert_json(2)])
    # One related user is shared between records of a page; it is immutable.
    assert first.related_user == second.related_user == RelatedUser("temp123", "MIDDLEEAST")
    with pytest.raises(AttributeError):
        first.related_user.user_name = "x"  # type: ignore[misc, union-attr]
    assert first.comments == second.comments
    assert first.raw is not second.raw


def test_usual_alerts_take_the_quick_path() -> None:
    from partner_portal.defender.records.alerts import _alert_fast

    assert _alert_fast(alert_json(), {}) is not None
    assert _alert_fast(alert_json(severity="Critical", resolvedTime=None), {}) is not None
    # Everything unusual is left to the field-by-field reading.
    assert _alert_fast(alert_json(incidentId="42"), {}) is None
    assert _alert_fast(alert_json(lastUpdateTime="2021-01-26T22:33:57.5+02:00"), {}) is None


# --------------------------------------------------------------------------------------
# The field table both readings are made from.


def test_alert_table_names_every_attribute_once() -> None:
    from partner_portal.defender.records.alerts import ALERT_FIELDS, ALERT_TABLE

    names = [f.name for f in ALERT_TABLE]
    assert len(names) == len(set(names))
    assert {*names, "unknown_values", "raw"} == ALERT_FIELDS
    json_names = [f.json_name for f in ALERT_TABLE]
    assert len(json_names) == len(set(json_names))


def test_quick_reading_keeps_its_source() -> None:
    from partner_portal.defender.records.alerts import ALERT_TABLE, _alert_fast

    source = _alert_fast.__source__
    assert source.startswith("def _alert_fast(data, shared):")
    for f in ALERT_TABLE:
        assert f"{f.name}=f_{f.name}" in source


def test_custom_fields_need_both_readings() -> None:
    from partner_portal.defender.records.table import (
        Field,
        Kind,
        quick_reader,
        read_carefully,
    )

    @dataclass(frozen=True)
    class Thing:
        id: str
        extra: object
        unknown_values: tuple[str, ...] = ()
        raw: object = None

    lacking_quick = (
        Field("id", "id", Kind.ID),
        Field("extra", "extra", Kind.CUSTOM, careful=lambda r, f: r.data.get(f.json_name)),
    )
    with pytest.raises(TypeError, match="extra needs its quick reading"):
        quick_reader(lacking_quick, Thing, "read_thing")
    lacking_careful = (Field("extra", "extra", Kind.CUSTOM, quick=lambda v, shared: v),)
    with pytest.raises(TypeError, match="extra needs its careful reading"):
        read_carefully(lacking_careful, {"extra": 1}, "thing")
    assert read_carefully(lacking_quick, {"id": "a", "extra": 2}, "thing") == {
        "id": "a",
        "extra": 2,
        "unknown_values": (),
    }
    reader = quick_reader(
        (*lacking_quick[:1], Field("extra", "extra", Kind.CUSTOM, quick=lambda v, s: v)),
        Thing,
        "read_thing",
    )
    thing = {"id": "a", "extra": 3}
    assert vars(reader(thing, {})) == {"id": "a", "extra": 3, "unknown_values": (), "raw": thing}
    assert reader({"id": "", "extra": 3}, {}) is None
    with pytest.raises(ValueError, match="cannot name"):
        quick_reader((Field("x", "x; import os", Kind.TEXT),), Thing, "read_thing")
