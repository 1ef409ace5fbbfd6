"""Graph security API records: every field typed, enums in any case, unknowns kept, bad data
rejected in words, observables, raw kept as sent.

The payloads in ``graph_payloads/`` are the example responses Microsoft prints in the Graph
v1.0 reference (microsoftgraph/microsoft-graph-docs-contrib, ``api-reference/v1.0/api/``):

* ``list_alerts_v2.json``: security-list-alerts_v2.md, "List alerts_v2";
* ``get_alert.json``: security-alert-get.md, "Get alert" (the listed alert, another id);
* ``list_incidents.json``: security-list-incidents.md, example 1 (``Active``,
  ``TruePositive``, ``customTags``, comments with ``createdBy`` / ``createdTime``);
* ``list_incidents_expand_alerts.json``: the same page, example 2 (``$expand=alerts``;
  ``active``, ``truePositive``, the older ``tags``). As printed it is not valid JSON: two
  trailing commas are left out here;
* ``get_incident.json``: security-incident-get.md.

Microsoft prints no example of the other evidence kinds, so
``mail_alert_written_for_tests.json`` was written for these tests in the shape the
resource pages document for each kind (analyzedMessage, mailbox, user, ip, url,
cloudApplication, oauthApplication, registryValue evidence), plus mailClusterEvidence
(not modelled here) and a kind Microsoft has not documented.
"""

from __future__ import annotations

import json
from dataclasses import FrozenInstanceError, dataclass, fields, is_dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import UnionType
from typing import Any, get_args, get_origin, get_type_hints

import pytest

from partner_portal.defender.errors import MalformedResponse
from partner_portal.defender.graph_evidence import (
    AlertEvidence,
    AnalyzedMessageEvidence,
    CloudApplicationEvidence,
    DeviceEvidence,
    EmailSender,
    FileDetails,
    FileEvidence,
    IpEvidence,
    MailboxEvidence,
    OAuthApplicationEvidence,
    ProcessEvidence,
    RegistryKeyEvidence,
    RegistryValueEvidence,
    UnknownEvidence,
    UrlEvidence,
    UserAccount,
    UserEvidence,
    VmMetadata,
    parse_graph_evidence,
)
from partner_portal.defender.graph_observables import Observable, evidence_observables
from partner_portal.defender.graph_records import (
    GraphAlert,
    GraphComment,
    GraphIncident,
    GraphPage,
    parse_graph_alert,
    parse_graph_alert_page,
    parse_graph_alerts,
    parse_graph_incident,
    parse_graph_incident_page,
    parse_graph_incidents,
)
from partner_portal.defender.graph_schema import reader, reader_source
from partner_portal.defender.graph_vocab import (
    GRAPH_ALERT_STATUSES,
    GRAPH_SERVICE_SOURCES,
    Vocabulary,
    service_source_label,
)

PAYLOADS = Path(__file__).parent / "graph_payloads"
ALERT_FILES = ("list_alerts_v2.json", "get_alert.json", "mail_alert_written_for_tests.json")
INCIDENT_FILES = ("list_incidents.json", "list_incidents_expand_alerts.json", "get_incident.json")


def text(name: str) -> str:
    return (PAYLOADS / name).read_text(encoding="utf-8")


def load(name: str) -> Any:
    return json.loads(text(name))


def items(name: str) -> list[Any]:
    data = load(name)
    return list(data.get("value", [data]))


def at(
    hour: int, minute: int, second: int, micro: int = 0, *, day: tuple[int, int, int]
) -> datetime:
    return datetime(*day, hour, minute, second, micro, tzinfo=UTC)


DAY = (2021, 4, 27)
CREATED = at(12, 19, 27, 721130, day=DAY)  # "2021-04-27T12:19:27.7211305Z": 7th digit cut
DEVICE_ID = "73e7e2de709dff64ef64b1d0c30e67fab63279db"
MSSENSE = FileDetails(
    sha1="5f1e8acedc065031aad553b710838eb366cfee9a",
    sha256="8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec",
    file_name="MsSense.exe",
    file_path="C:\\Program Files\\temp",
    file_size=6136392,
    file_publisher="Microsoft Corporation",
    signer=None,
    issuer=None,
)
BASE: dict[str, Any] = {
    "created_date_time": CREATED,
    "verdict": "unknown",
    "remediation_status": "none",
    "remediation_status_details": None,
}
DOC_EVIDENCE = (
    DeviceEvidence(
        odata_type="#microsoft.graph.security.deviceEvidence",
        **BASE,
        roles=("compromised",),
        detailed_roles=("Main device",),
        tags=("Test Machine",),
        first_seen_date_time=datetime(2020, 9, 12, 7, 28, 32, 432175, tzinfo=UTC),
        mde_device_id=DEVICE_ID,
        azure_ad_device_id=None,
        device_dns_name="tempDns",
        os_platform="Windows10",
        os_build=22424,
        version="Other",
        health_status="active",
        risk_score="medium",
        rbac_group_id=75,
        rbac_group_name="UnassignedGroup",
        onboarding_status="onboarded",
        defender_av_status="unknown",
        ip_interfaces=("1.1.1.1",),
        last_ip_address=None,
        last_external_ip_address=None,
        logged_on_users=(),
        vm_metadata=VmMetadata(
            vm_id="ca1b0d41-5a3b-4d95-b48b-f220aed11d78",
            cloud_provider="azure",
            resource_id="/subscriptions/8700d3a3-3bb7-4fbe-a090-488a1ad04161/resourceGroups/"
            "WdatpApi-EUS-STG/providers/Microsoft.Compute/virtualMachines/NirLaviTests",
            subscription_id="8700d3a3-3bb7-4fbe-a090-488a1ad04161",
        ),
    ),
    FileEvidence(
        odata_type="#microsoft.graph.security.fileEvidence",
        **BASE,
        roles=(),
        detailed_roles=("Referred in command line",),
        tags=(),
        file_details=MSSENSE,
        detection_status="detected",
        mde_device_id=DEVICE_ID,
    ),
    ProcessEvidence(
        odata_type="#microsoft.graph.security.processEvidence",
        **BASE,
        roles=(),
        detailed_roles=(),
        tags=(),
        process_id=4780,
        parent_process_id=668,
        process_command_line='"MsSense.exe"',
        process_creation_date_time=datetime(2021, 8, 12, 12, 43, 19, 77257, tzinfo=UTC),
        parent_process_creation_date_time=datetime(2021, 8, 12, 7, 39, 9, 90923, tzinfo=UTC),
        image_file=MSSENSE,
        parent_process_image_file=FileDetails(
            sha1=None,
            sha256=None,
            file_name="services.exe",
            file_path="C:\\Windows\\System32",
            file_size=731744,
            file_publisher="Microsoft Corporation",
            signer=None,
            issuer=None,
        ),
        user_account=UserAccount(
            account_name="SYSTEM",
            domain_name="NT AUTHORITY",
            user_sid="S-1-5-18",
            azure_ad_user_id=None,
            user_principal_name=None,
            display_name="System",
        ),
        detection_status="detected",
        mde_device_id=DEVICE_ID,
    ),
    RegistryKeyEvidence(
        odata_type="#microsoft.graph.security.registryKeyEvidence",
        **BASE,
        roles=(),
        detailed_roles=(),
        tags=(),
        registry_key="SYSTEM\\CONTROLSET001\\CONTROL\\WMI\\AUTOLOGGER\\SENSEAUDITLOGGER",
        registry_hive="HKEY_LOCAL_MACHINE",
    ),
)


def doc_alert(ident: str) -> GraphAlert:
    """The alert of Microsoft's alerts_v2 examples, as it must be read."""
    tid = "b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c"
    return GraphAlert(
        id=ident,
        provider_alert_id=ident,
        incident_id="28282",
        tenant_id=tid,
        status="new",
        severity="low",
        classification="unknown",
        determination="unknown",
        assigned_to=None,
        service_source="microsoftDefenderForEndpoint",
        detection_source="antivirus",
        product_name=None,
        detector_id="e0da400f-affd-43ef-b1d5-afc2eb6f2756",
        title="Suspicious execution of hidden file",
        description="A hidden file has been launched. This activity could indicate a "
        "compromised host. Attackers often hide files associated with malicious tools to "
        "evade file system inspection and defenses.",
        recommended_actions=load("get_alert.json")["recommendedActions"],
        category="DefenseEvasion",
        actor_display_name=None,
        threat_display_name=None,
        threat_family_name=None,
        mitre_techniques=("T1564.001",),
        created_date_time=CREATED,
        last_update_date_time=datetime(2021, 5, 2, 14, 19, 1, 326666, tzinfo=UTC),
        resolved_date_time=None,
        first_activity_date_time=datetime(2021, 4, 26, 7, 45, 50, 116000, tzinfo=UTC),
        last_activity_date_time=datetime(2021, 5, 2, 7, 56, 58, 222000, tzinfo=UTC),
        alert_web_url=f"https://security.microsoft.com/alerts/{ident}?tid={tid}",
        incident_web_url=f"https://security.microsoft.com/incidents/28282?tid={tid}",
        comments=(),
        evidence=DOC_EVIDENCE,
        system_tags=("Defender Experts",),
    )


# ---------------------------------------------------------------- every field, typed


def test_list_alerts_example_reads_every_field() -> None:
    page = parse_graph_alert_page(load("list_alerts_v2.json"))
    assert page == GraphPage([doc_alert("da637551227677560813_-961444813")], None, None)
    alert = page.items[0]
    assert alert.unknown_values == ()
    assert [type(e) for e in alert.evidence] == [
        DeviceEvidence,
        FileEvidence,
        ProcessEvidence,
        RegistryKeyEvidence,
    ]
    assert alert.service_source_label == "Defender for Endpoint"
    assert "\ufffd\tReview the machine timeline" in str(alert.recommended_actions)


def test_get_alert_example_reads_every_field() -> None:
    assert parse_graph_alert(load("get_alert.json")) == doc_alert("da637578995287051192_756343937")


def _check_typed(record: object, where: str = "record") -> int:
    """Every declared field is set, with a value of its declared type; returns how many
    records were checked (nested ones included)."""
    assert is_dataclass(record) and not isinstance(record, type)
    hints = get_type_hints(type(record))
    names = {f.name for f in fields(record)}
    assert set(vars(record)) == names, f"{where}: fields set {sorted(vars(record))}"
    checked = 1
    for name in names:
        value, hint = getattr(record, name), hints[name]
        if name == "raw":
            assert isinstance(value, dict)
            continue
        options = get_args(hint) if isinstance(hint, UnionType) else (hint,)
        for option in options:
            origin = get_origin(option)
            if option is type(None) and value is None:
                break
            if origin is tuple and isinstance(value, tuple):
                inner = get_args(option)[0]
                for item in value:
                    assert isinstance(item, get_origin(inner) or inner), f"{where}.{name}"
                    if is_dataclass(item):
                        checked += _check_typed(item, f"{where}.{name}[]")
                break
            if origin is None and option is not type(None) and isinstance(value, option):
                if isinstance(value, datetime):
                    assert value.tzinfo is UTC, f"{where}.{name} is not UTC"
                if is_dataclass(value):
                    checked += _check_typed(value, f"{where}.{name}")
                break
        else:
            raise AssertionError(f"{where}.{name} = {value!r} is not a {hint}")
    return checked


@pytest.mark.parametrize("name", ALERT_FILES)
def test_every_alert_field_is_set_and_typed(name: str) -> None:
    for data in items(name):
        assert _check_typed(parse_graph_alert(data)) >= 5


@pytest.mark.parametrize("name", INCIDENT_FILES)
def test_every_incident_field_is_set_and_typed(name: str) -> None:
    for data in items(name):
        _check_typed(parse_graph_incident(data))


def test_the_written_mail_alert_reads_every_kind() -> None:
    alert = parse_graph_alert(load("mail_alert_written_for_tests.json"))
    assert (alert.status, alert.severity, alert.classification, alert.determination) == (
        "inProgress",
        "high",
        "truePositive",
        "phishing",
    )
    assert alert.service_source_label == "Defender for Office 365"
    assert alert.product_name == "Microsoft Defender for Office 365"
    assert alert.comments == (
        GraphComment(
            comment="Blocked the sender domain.",
            created_by_display_name="Partner Portal",
            created_date_time=datetime(2025, 3, 4, 9, 30, tzinfo=UTC),
        ),
    )
    message, mailbox, user, ip, url, cloud_app, oauth_app, registry, cluster, future = (
        alert.evidence
    )
    assert isinstance(message, AnalyzedMessageEvidence)
    assert (message.verdict, message.remediation_status) == ("malicious", "remediated")
    assert message.p1_sender == EmailSender(
        email_address="Bounce@Mailer.Example-Phish.test",
        display_name="",
        domain_name="Mailer.Example-Phish.test",
    )
    assert message.p2_sender is not None
    assert message.p2_sender.email_address == "billing@example-phish.test"
    assert (message.subject, message.recipient_email_address) == (
        "Your invoice is overdue",
        "alex@contoso.example",
    )
    assert (message.network_message_id, message.delivery_action) == (
        "42220a17-4fae-42b7-e485-08dd51827298",
        "Delivered",
    )
    assert message.urls == (
        "https://Login.Example-Phish.test/o365?u=alex",
        "http://198.51.100.7/x",
    )
    assert (message.threats, message.url_count, message.attachments_count) == (("Phish",), 2, 0)
    assert message.received_date_time == datetime(2025, 3, 4, 9, 1, 2, tzinfo=UTC)
    assert isinstance(mailbox, MailboxEvidence) and mailbox.upn == "Alex@Contoso.example"
    assert mailbox.user_account is not None
    assert mailbox.user_account.azure_ad_user_id == "c4bedccf-e5ff-4215-a1df-468800618a6c"
    assert isinstance(user, UserEvidence) and user.user_account is not None
    assert user.user_account.user_principal_name == "Megan@contoso.example"
    assert user.roles == ("compromised",) and user.detailed_roles == ("Clicked the URL",)
    assert isinstance(ip, IpEvidence)
    assert (ip.ip_address, ip.country_letter_code) == ("2001:DB8:0:0:0:0:0:1", "NL")
    assert ip.roles == ("attacker", "source")  # sent as "Attacker"
    assert isinstance(url, UrlEvidence) and url.remediation_status == "blocked"
    assert isinstance(cloud_app, CloudApplicationEvidence)
    assert (cloud_app.app_id, cloud_app.instance_id, cloud_app.saas_app_id) == (11161, 0, 11161)
    assert isinstance(oauth_app, OAuthApplicationEvidence)
    assert (oauth_app.app_id, oauth_app.publisher) == (
        "9A8B7C6D-1111-4222-8333-444455556666",
        "Example Phish Ltd",
    )
    assert oauth_app.remediation_status == "pendingApproval"
    assert isinstance(registry, RegistryValueEvidence)
    assert (registry.registry_value_name, registry.registry_value_type) == (
        "InvoiceViewer",
        "String",
    )
    assert type(cluster) is UnknownEvidence and type(future) is UnknownEvidence


# ------------------------------------------------------------------------ timestamps


@pytest.mark.parametrize(
    ("sent", "expected"),
    [
        ("2021-04-27T12:19:27.7211305Z", datetime(2021, 4, 27, 12, 19, 27, 721130, tzinfo=UTC)),
        ("2021-04-26T07:45:50.116Z", datetime(2021, 4, 26, 7, 45, 50, 116000, tzinfo=UTC)),
        ("2021-04-26T07:45:50Z", datetime(2021, 4, 26, 7, 45, 50, tzinfo=UTC)),
        ("2021-04-26T07:45:50.5Z", datetime(2021, 4, 26, 7, 45, 50, 500000, tzinfo=UTC)),
        ("2021-04-26T07:45:50.123456789012Z", datetime(2021, 4, 26, 7, 45, 50, 123456, tzinfo=UTC)),
        ("2021-04-26T09:45:50.25+02:00", datetime(2021, 4, 26, 7, 45, 50, 250000, tzinfo=UTC)),
        ("2021-04-26T07:45:50", datetime(2021, 4, 26, 7, 45, 50, tzinfo=UTC)),
    ],
)
def test_timestamps_become_aware_utc(sent: str, expected: datetime) -> None:
    alert = parse_graph_alert({"id": "a", "createdDateTime": sent})
    assert alert.created_date_time == expected
    assert alert.created_date_time is not None and alert.created_date_time.tzinfo is UTC


@pytest.mark.parametrize(
    ("sent", "words"),
    [
        ("yesterday", "createdDateTime is not an ISO 8601 timestamp ('yesterday')"),
        ("2021-02-30T00:00:00Z", "createdDateTime is not a real date and time"),
        ("2021-W01-1T00:00:00Z", "createdDateTime is not an ISO 8601 timestamp"),
        ("2021-04-26", "createdDateTime is not an ISO 8601 timestamp"),
        (1619439950, "createdDateTime is not a timestamp (found a number)"),
    ],
)
def test_bad_timestamps_are_rejected_in_words(sent: object, words: str) -> None:
    with pytest.raises(MalformedResponse) as caught:
        parse_graph_alert({"id": "a", "createdDateTime": sent})
    assert words in caught.value.message


# ------------------------------------------------------------- enums in any casing


@pytest.mark.parametrize(
    ("key", "attribute", "sent", "stored"),
    [
        ("status", "status", "InProgress", "inProgress"),
        ("status", "status", "inprogress", "inProgress"),
        ("status", "status", "RESOLVED", "resolved"),
        ("severity", "severity", "High", "high"),
        ("classification", "classification", "TruePositive", "truePositive"),
        (
            "classification",
            "classification",
            "informationalexpectedactivity",
            "informationalExpectedActivity",
        ),
        ("determination", "determination", "MultiStagedAttack", "multiStagedAttack"),
        ("determination", "determination", "NotEnoughDataToValidate", "notEnoughDataToValidate"),
        (
            "serviceSource",
            "service_source",
            "MicrosoftDefenderForOffice365",
            "microsoftDefenderForOffice365",
        ),
        ("detectionSource", "detection_source", "CustomTI", "customTi"),
    ],
)
def test_alert_enums_are_read_in_any_case(key: str, attribute: str, sent: str, stored: str) -> None:
    alert = parse_graph_alert({"id": "a", key: sent})
    assert getattr(alert, attribute) == stored
    assert alert.unknown_values == ()


def test_both_casings_of_the_incident_examples_read_the_same() -> None:
    listed = parse_graph_incident_page(load("list_incidents.json")).items[0]
    expanded = parse_graph_incident_page(load("list_incidents_expand_alerts.json")).items[0]
    fetched = parse_graph_incident(load("get_incident.json"))
    for incident in (listed, expanded, fetched):
        assert (
            incident.status,
            incident.severity,
            incident.classification,
            incident.determination,
        ) == ("active", "medium", "truePositive", "multiStagedAttack")
        assert incident.custom_tags == ("Demo",)  # customTags, or the older tags
        assert incident.unknown_values == ()
    assert listed == fetched
    assert listed.alerts is None and expanded.alerts is not None
    assert expanded == GraphIncident(**{**vars(listed), "alerts": expanded.alerts})


def test_incident_example_reads_every_field() -> None:
    incident = parse_graph_incident(load("get_incident.json"))
    assert incident == GraphIncident(
        id="2972395",
        display_name="Multi-stage incident involving Initial access & Command and control on "
        "multiple endpoints reported by multiple sources",
        incident_web_url="https://security.microsoft.com/incidents/2972395"
        "?tid=12f988bf-16f1-11af-11ab-1d7cd011db47",
        redirect_incident_id=None,
        tenant_id="b3c1b5fc-828c-45fa-a1e1-10d74f6d6e9c",
        status="active",
        severity="medium",
        classification="truePositive",
        determination="multiStagedAttack",
        assigned_to="KaiC@contoso.onmicrosoft.com",
        custom_tags=("Demo",),
        system_tags=("Defender Experts",),
        comments=(
            GraphComment(
                comment="Demo incident",
                created_by_display_name="DavidS@contoso.onmicrosoft.com",
                created_date_time=datetime(2021, 9, 30, 12, 7, 37, 275699, tzinfo=UTC),
            ),
        ),
        description=load("get_incident.json")["description"],
        summary=None,
        created_date_time=datetime(2021, 8, 13, 8, 43, 35, 553333, tzinfo=UTC),
        last_update_date_time=datetime(2021, 9, 30, 9, 35, 45, 113333, tzinfo=UTC),
        alerts=None,
    )


def test_expanded_alerts_are_graph_alerts() -> None:
    incident = parse_graph_incident_page(load("list_incidents_expand_alerts.json")).items[0]
    assert incident.alerts is not None and len(incident.alerts) == 1
    alert = incident.alerts[0]
    # Example 2's alert: the listed one without systemTags and the process account's name.
    expected = doc_alert("da637551227677560813_-961444813")
    process = expected.evidence[2]
    assert isinstance(process, ProcessEvidence) and process.user_account is not None
    account = UserAccount(**{**vars(process.user_account), "display_name": None})
    evidence = list(expected.evidence)
    evidence[2] = ProcessEvidence(**{**vars(process), "user_account": account})
    assert alert == GraphAlert(**{**vars(expected), "evidence": tuple(evidence), "system_tags": ()})


def test_an_incident_expanded_without_alerts_is_not_an_unexpanded_one() -> None:
    assert parse_graph_incident({"id": "1", "alerts": []}).alerts == ()
    assert parse_graph_incident({"id": "1"}).alerts is None


def test_a_merged_incident_keeps_where_it_went() -> None:
    incident = parse_graph_incident({"id": 7, "status": "Redirected", "redirectIncidentId": 9})
    assert (incident.id, incident.status, incident.redirect_incident_id) == ("7", "redirected", "9")


def test_custom_tags_win_over_the_older_tags() -> None:
    incident = parse_graph_incident({"id": "1", "customTags": ["new"], "tags": ["old"]})
    assert incident.custom_tags == ("new",)
    assert parse_graph_incident({"id": "1", "customTags": None, "tags": ["old"]}).custom_tags == (
        "old",
    )


# ------------------------------------------------------ unknown values, unknown kinds


def test_unknown_enum_values_are_kept_and_flagged() -> None:
    alert = parse_graph_alert(
        {
            "id": "a",
            "status": "awaitingTriage",
            "severity": "Critical",
            "classification": "TruePositive",
            "determination": "someDeterminationMicrosoftAddsLater",
            "serviceSource": "microsoftSecurityForAI",
            "detectionSource": "brandNewSensor",
        }
    )
    assert (alert.status, alert.severity, alert.determination) == (
        "awaitingTriage",
        "Critical",
        "someDeterminationMicrosoftAddsLater",
    )
    assert (alert.service_source, alert.detection_source) == (
        "microsoftSecurityForAI",
        "brandNewSensor",
    )
    assert alert.classification == "truePositive"
    assert alert.unknown_values == (
        "status",
        "severity",
        "determination",
        "serviceSource",
        "detectionSource",
    )
    assert alert.service_source_label == "microsoftSecurityForAI"


def test_unknown_values_in_evidence_are_flagged_on_the_item_and_the_alert() -> None:
    alert = parse_graph_alert(load("mail_alert_written_for_tests.json"))
    future = alert.evidence[9]
    assert (future.verdict, future.roles) == ("undecided", ("entangled",))
    assert future.unknown_values == ("verdict", "roles")
    assert alert.unknown_values == ("evidence[9].verdict", "evidence[9].roles")
    assert all(e.unknown_values == () for e in alert.evidence[:9])


def test_unknown_incident_values_are_kept_and_flagged() -> None:
    incident = parse_graph_incident({"id": "1", "status": "Snoozed", "severity": "medium"})
    assert (incident.status, incident.unknown_values) == ("Snoozed", ("status",))


def test_evidence_of_unknown_kinds_is_kept_whole() -> None:
    data = load("mail_alert_written_for_tests.json")
    alert = parse_graph_alert(data)
    cluster, future = alert.evidence[8:]
    assert isinstance(cluster, UnknownEvidence) and isinstance(future, UnknownEvidence)
    assert cluster.raw is data["evidence"][8] and future.raw is data["evidence"][9]
    assert cluster.odata_type == "#microsoft.graph.security.mailClusterEvidence"
    assert cluster.raw["clusterByValue"] == "billing@example-phish.test"
    assert cluster.verdict == "malicious"  # the base type's fields are read on every kind
    assert cluster.created_date_time == datetime(2025, 3, 4, 9, 10, 11, 123456, tzinfo=UTC)
    assert future.raw["teleporterId"] == "tp-1"


@pytest.mark.parametrize(
    ("odata_type", "kind"),
    [
        ("#microsoft.graph.security.urlEvidence", UrlEvidence),
        ("microsoft.graph.security.urlEvidence", UrlEvidence),
        ("#microsoft.graph.security.UrlEvidence", UrlEvidence),
        ("#microsoft.graph.security.blobEvidence", UnknownEvidence),
        (None, UnknownEvidence),
        ("", UnknownEvidence),
    ],
)
def test_evidence_kind_comes_from_odata_type(odata_type: str | None, kind: type) -> None:
    item = parse_graph_evidence({"@odata.type": odata_type, "url": "https://example.test/"})
    assert type(item) is kind and item.odata_type == odata_type


# --------------------------------------------------------------- malformed, in words


GOOD = {"id": "alert-1", "title": "Fine"}


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ([], "Graph alert is not a JSON object (found a list)"),
        ("alert", "Graph alert is not a JSON object (found text)"),
        ({"title": "no id"}, "Graph alert: id is missing"),
        ({"id": ""}, "Graph alert: id is empty"),
        ({"id": ["a"]}, "Graph alert: id is not an identifier (found a list)"),
        ({**GOOD, "title": 5}, "Graph alert 'alert-1': title is not text (found a number)"),
        ({**GOOD, "severity": True}, "severity is not text (found true/false)"),
        ({**GOOD, "incidentId": {"id": 1}}, "incidentId is not an identifier (found an object)"),
        (
            {**GOOD, "mitreTechniques": "T1059"},
            "mitreTechniques is not a list of text (found text)",
        ),
        ({**GOOD, "mitreTechniques": ["T1059", 7]}, "mitreTechniques is not a list of text"),
        ({**GOOD, "systemTags": {}}, "systemTags is not a list of text (found an object)"),
        ({**GOOD, "comments": {}}, "comments is not a list (found an object)"),
        ({**GOOD, "comments": [None]}, "comments[0] is not an object (found null)"),
        ({**GOOD, "comments": [{"comment": 1}]}, "comments[0].comment is not text"),
        (
            {**GOOD, "comments": [{"createdDateTime": "soon"}]},
            "comments[0].createdDateTime is not an ISO 8601 timestamp",
        ),
        ({**GOOD, "evidence": "none"}, "evidence is not a list (found text)"),
        ({**GOOD, "evidence": [[]]}, "evidence[0] is not an object (found a list)"),
        ({**GOOD, "evidence": [{"@odata.type": 5}]}, "evidence[0].@odata.type is not text"),
        ({**GOOD, "evidence": [{"verdict": 1}]}, "evidence[0].verdict is not text"),
        ({**GOOD, "evidence": [{"roles": "attacker"}]}, "evidence[0].roles is not a list of text"),
        (
            {
                **GOOD,
                "evidence": [
                    {},
                    {
                        "@odata.type": "#microsoft.graph.security.fileEvidence",
                        "fileDetails": {"fileSize": "big"},
                    },
                ],
            },
            "Graph alert 'alert-1': evidence[1].fileDetails.fileSize is not an integer "
            "(found text)",
        ),
        (
            {
                **GOOD,
                "evidence": [
                    {
                        "@odata.type": "#microsoft.graph.security.deviceEvidence",
                        "loggedOnUsers": [{"accountName": "a"}, {"accountName": 2}],
                    }
                ],
            },
            "evidence[0].loggedOnUsers[1].accountName is not text (found a number)",
        ),
        (
            {
                **GOOD,
                "evidence": [
                    {"@odata.type": "#microsoft.graph.security.processEvidence", "userAccount": []}
                ],
            },
            "evidence[0].userAccount is not an object (found a list)",
        ),
    ],
)
def test_malformed_alerts_are_rejected_in_words(data: object, words: str) -> None:
    with pytest.raises(MalformedResponse) as caught:
        parse_graph_alert(data)
    assert caught.value.code == "MalformedItem"
    assert words in caught.value.message


def test_integers_may_arrive_as_digits() -> None:
    item = parse_graph_evidence(
        {"@odata.type": "#microsoft.graph.security.deviceEvidence", "osBuild": "22621"}
    )
    assert isinstance(item, DeviceEvidence) and item.os_build == 22621
    for bad in ("22H2", "--5", 2.5, True):
        with pytest.raises(MalformedResponse, match="osBuild is not an integer"):
            parse_graph_evidence(
                {"@odata.type": "#microsoft.graph.security.deviceEvidence", "osBuild": bad}
            )


def test_one_bad_alert_fails_the_page_and_says_which() -> None:
    page = load("list_alerts_v2.json")
    bad = {**page["value"][0], "id": "second", "lastUpdateDateTime": 20210502}
    page["value"].append(bad)
    with pytest.raises(MalformedResponse) as caught:
        parse_graph_alert_page(page)
    assert caught.value.message == (
        "Graph alert 'second' (item 1 of the page): lastUpdateDateTime is not a timestamp "
        "(found a number)"
    )
    with pytest.raises(MalformedResponse, match=r"item 2 of the page\) is not a JSON object"):
        parse_graph_alerts([{"id": "a"}, {"id": "b"}, None])


def test_one_bad_incident_fails_the_page_and_says_which() -> None:
    page = load("list_incidents_expand_alerts.json")
    page["value"][0]["alerts"][0]["evidence"][1]["fileDetails"]["sha1"] = 1
    with pytest.raises(MalformedResponse) as caught:
        parse_graph_incident_page(page)
    assert caught.value.message == (
        "Graph incident '2972395' (item 0 of the page): alerts[0].evidence[1].fileDetails.sha1 "
        "is not text (found a number)"
    )
    with pytest.raises(MalformedResponse, match="Graph incident: id is missing"):
        parse_graph_incident({"displayName": "x"})
    with pytest.raises(MalformedResponse, match="tags is not a list of text"):
        parse_graph_incident({"id": "1", "tags": "Demo"})
    with pytest.raises(MalformedResponse, match="alerts is not a list"):
        parse_graph_incidents([{"id": "1", "alerts": {}}])


@pytest.mark.parametrize(
    "page",
    [
        None,
        [],
        {"@odata.context": "x"},
        {"value": {}},
        {"value": [], "@odata.nextLink": 5},
        {"value": [], "@odata.count": "12"},
        {"value": [], "@odata.count": -1},
    ],
)
def test_a_page_that_is_no_odata_collection_is_rejected(page: object) -> None:
    with pytest.raises(MalformedResponse) as caught:
        parse_graph_alert_page(page)
    assert caught.value.code == "MalformedPage"


def test_page_envelope() -> None:
    link = "https://graph.microsoft.com/v1.0/security/alerts_v2?$skiptoken=abc"
    page = parse_graph_alert_page(
        {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2",
            "@odata.count": 2,
            "value": [{"id": "a"}, {"id": "b"}],
            "@odata.nextLink": link,
        }
    )
    assert [a.id for a in page.items] == ["a", "b"]
    assert (page.next_link, page.count) == (link, 2)
    assert parse_graph_alert_page({"value": [], "@odata.nextLink": None}).next_link is None
    assert parse_graph_incident_page({"value": []}) == GraphPage([], None, None)


# ------------------------------------------------------------------------ observables


def test_observables_of_the_documented_alert() -> None:
    alert = parse_graph_alert(load("get_alert.json"))
    assert alert.observables() == (
        Observable("mde_device_id", DEVICE_ID),
        Observable("ip", "1.1.1.1"),
        Observable("sha1", "5f1e8acedc065031aad553b710838eb366cfee9a"),
        Observable("sha256", "8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec"),
    )


def test_observables_of_the_mail_alert() -> None:
    alert = parse_graph_alert(load("mail_alert_written_for_tests.json"))
    assert alert.observables() == (
        Observable("sender", "bounce@mailer.example-phish.test"),
        Observable("domain", "mailer.example-phish.test"),
        Observable("sender", "billing@example-phish.test"),
        Observable("domain", "example-phish.test"),
        Observable("ip", "203.0.113.25"),
        Observable("url", "https://Login.Example-Phish.test/o365?u=alex"),
        Observable("domain", "login.example-phish.test"),
        Observable("url", "http://198.51.100.7/x"),
        Observable("ip", "198.51.100.7"),
        Observable("upn", "alex@contoso.example"),
        Observable("upn", "megan@contoso.example"),
        Observable("ip", "2001:db8::1"),
        Observable("oauth_app_id", "9a8b7c6d-1111-4222-8333-444455556666"),
        Observable("mde_device_id", "505d70d89cfa3428f7aac7d2eb3a64c60fd3d843"),
    )


def test_observables_leave_out_what_every_device_has() -> None:
    device = parse_graph_evidence(
        {
            "@odata.type": "#microsoft.graph.security.deviceEvidence",
            "mdeDeviceId": "ABC",
            "azureAdDeviceId": "1F0E-AA",
            "ipInterfaces": [
                "127.0.0.1",
                "::1",
                "fe80::2f21:c88a:d280:d1dd",
                "::",
                "10.1.2.3",
            ],
            "lastExternalIpAddress": "93.65.246.85",
        }
    )
    url = parse_graph_evidence(
        {"@odata.type": "#microsoft.graph.security.urlEvidence", "url": "evil.example.COM/x"}
    )
    odd_ip = parse_graph_evidence(
        {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "not-an-ip"}
    )
    assert evidence_observables([device, url, odd_ip, device]) == (
        Observable("mde_device_id", "abc"),
        Observable("azure_ad_device_id", "1f0e-aa"),
        Observable("ip", "10.1.2.3"),
        Observable("ip", "93.65.246.85"),
        Observable("url", "evil.example.COM/x"),
        Observable("domain", "evil.example.com"),
        Observable("ip", "not-an-ip"),
    )
    assert evidence_observables([]) == ()


# ------------------------------------------------------------------ raw kept as sent


@pytest.mark.parametrize("name", ALERT_FILES + INCIDENT_FILES)
def test_raw_is_kept_byte_for_byte(name: str) -> None:
    sent = text(name)
    values, untouched = items(name), items(name)
    parse = parse_graph_alert if name in ALERT_FILES else parse_graph_incident
    for value, pristine in zip(values, untouched, strict=True):
        record = parse(value)
        assert record.raw is value and value == pristine  # the very object, unchanged
        assert json.dumps(record.raw, ensure_ascii=False) == json.dumps(
            pristine, ensure_ascii=False
        )
        assert json.dumps(pristine, ensure_ascii=False) in json.dumps(
            json.loads(sent), ensure_ascii=False
        )
        pairs = (
            [(record, value)]
            if isinstance(record, GraphAlert)
            else list(zip(record.alerts or (), value.get("alerts", []), strict=True))
        )
        for alert, alert_data in pairs:
            assert alert.raw is alert_data
            for item, item_data in zip(alert.evidence, alert_data["evidence"], strict=True):
                assert item.raw is item_data


def test_fields_microsoft_adds_later_stay_in_raw() -> None:
    data = load("mail_alert_written_for_tests.json")
    alert = parse_graph_alert(data)
    assert alert.raw["someFieldMicrosoftAddsLater"] == {"nested": [1, 2.5, True, None, "ü"]}
    assert json.loads(json.dumps(alert.raw)) == data


# ------------------------------------------------------------------- record behaviour


def test_records_are_immutable_and_hashable() -> None:
    alert = parse_graph_alert(load("get_alert.json"))
    with pytest.raises(FrozenInstanceError):
        alert.title = "changed"  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        alert.evidence[1].verdict = "malicious"  # type: ignore[misc]
    assert hash(alert) == hash(parse_graph_alert(load("get_alert.json")))
    assert len({alert, parse_graph_alert(load("get_alert.json"))}) == 1
    assert "raw" not in repr(alert)


def test_evidence_records_share_their_base_type() -> None:
    alert = parse_graph_alert(load("mail_alert_written_for_tests.json"))
    assert all(isinstance(item, AlertEvidence) for item in alert.evidence)
    assert [type(item).graph_type for item in alert.evidence[:8]] == [
        "analyzedMessageEvidence",
        "mailboxEvidence",
        "userEvidence",
        "ipEvidence",
        "urlEvidence",
        "cloudApplicationEvidence",
        "oauthApplicationEvidence",
        "registryValueEvidence",
    ]


def test_generated_readers_come_from_the_declarations_only() -> None:
    source = reader_source(GraphAlert)
    assert source.startswith("def read(data, unknown):")
    for spec in fields(GraphAlert):
        if spec.name not in ("comments", "evidence"):
            assert repr(spec.name) in source
    assert reader(GraphAlert) is reader(GraphAlert)

    @dataclass(frozen=True, kw_only=True)
    class Odd:
        when: float | None

    @dataclass(frozen=True, kw_only=True)
    class Odder:
        counts: list[int]

    with pytest.raises(TypeError, match=r"Odd\.when: <class 'float'> is not a record class"):
        reader(Odd)
    with pytest.raises(TypeError, match=r"Odder\.counts: no way to read list\[int\]"):
        reader(Odder)


# ----------------------------------------------------------------------- vocabularies


def test_vocabulary_lookup_and_labels() -> None:
    assert GRAPH_ALERT_STATUSES.canonical("INPROGRESS") == "inProgress"
    assert GRAPH_ALERT_STATUSES.canonical("snoozed") is None
    assert "Resolved" in GRAPH_ALERT_STATUSES and 5 not in GRAPH_ALERT_STATUSES
    assert GRAPH_ALERT_STATUSES.label("inprogress") == "In progress"
    assert service_source_label("microsoftDefenderForOffice365") == "Defender for Office 365"
    assert service_source_label("MICROSOFT365DEFENDER") == "Defender XDR"
    assert service_source_label("azureAdIdentityProtection") == "Entra ID Protection"
    assert service_source_label("microsoftSentinel") == "Microsoft Sentinel"
    assert service_source_label(None) == "Unknown source"
    assert service_source_label("somethingNew") == "somethingNew"
    assert all(GRAPH_SERVICE_SOURCES.label(m) for m in GRAPH_SERVICE_SOURCES)
    with pytest.raises(ValueError, match="differ only in case"):
        Vocabulary("broken", ("active", "Active"))
    with pytest.raises(ValueError, match="labels for non-members"):
        Vocabulary("broken", ("active",), labels={"idle": "Idle"})
