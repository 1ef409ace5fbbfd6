"""Evidence read per kind (`reads/evidence.py`) in either of Defender's shapes, never
dropped and never altered, its words from one vocabulary, and an incident's evidence
summary and timeline (`reads/incident_story.py`)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client

from partner_portal.alerts.reads.evidence import evidence_views
from partner_portal.alerts.reads.incident_story import evidence_summary, incident_timeline
from tests.alerts.factories import AlertFactory, CustomerFactory, IncidentFactory
from tests.tenants.factories import AnalystScopeFactory, AuditEventFactory

MDE_PROCESS = {
    "entityType": "Process",
    "evidenceCreationTime": "2026-11-30T07:41:12.3456789Z",
    "sha1": "3f786850e387550fdab836ed7e6dc881de23001b",
    "sha256": "a948904f2f0f479b8f8197694b30184b0d2ed1c1cd2a1ec0fb85d299a192a447",
    "fileName": "powershell.exe",
    "filePath": "C:\\Windows\\System32\\WindowsPowerShell\\v1.0",
    "processId": 7312,
    "processCommandLine": 'powershell.exe -nop -w hidden -enc "SQBFAFgA" <script>',
    "processCreationTime": "2026-11-30T07:40:00Z",
    "parentProcessId": 4100,
    "parentProcessCreationTime": "2026-11-30T07:20:00Z",
    "parentProcessFileName": "winword.exe",
    "parentProcessFilePath": "C:\\Program Files\\Microsoft Office\\root\\Office16",
    "ipAddress": None,
    "url": None,
    "accountName": "alice",
    "domainName": "CORP",
    "userSid": "S-1-5-21-1004336348-1177238915-682003330-1105",
    "aadUserId": None,
    "userPrincipalName": None,
    "detectionStatus": "Blocked",
}


def _fields(view: Any) -> dict[str, str]:
    return {f.label: f.value for f in view.fields}


def test_an_mde_process_reads_with_its_parent_and_user_and_its_values_unchanged() -> None:
    (view,) = evidence_views({"evidence": [MDE_PROCESS]})
    assert (view.kind, view.label, view.title) == ("process", "Process", "powershell.exe")
    shown = _fields(view)
    assert shown["Command line"] == MDE_PROCESS["processCommandLine"]
    assert shown["Process ID"] == "7312"
    assert shown["SHA-256"] == MDE_PROCESS["sha256"]
    assert shown["Detection"] == "Blocked"
    assert "URL" not in shown and "IP address" not in shown  # nulls are not shown
    groups = {heading: {f.label: f for f in fields} for heading, fields in view.groups}
    assert groups["Parent process"]["Image file"].value == "winword.exe"
    assert groups["Parent process"]["Process ID"].value == "4100"
    assert groups["User"]["Account"].values == (("CORP", "alice"),)
    assert groups["User"]["SID"].value == MDE_PROCESS["userSid"]
    assert view.created is not None and view.created.value == "2026-11-30T07:41:12.3456789Z"
    # Every value with a copy button has an ID of its own.
    ids = [f.dom_id for _, fs in [("", view.fields), *view.groups] for f in fs if f.dom_id]
    assert len(ids) == len(set(ids)) > 3


def test_kinds_nobody_lays_out_and_unreadable_items_are_shown_as_sent_never_dropped() -> None:
    views = evidence_views(
        {
            "evidence": [
                {"entityType": "MailMessage", "networkMessageId": "n-1", "sender": None},
                {"@odata.type": "#microsoft.graph.security.kubernetesPodEvidence",
                 "verdict": "suspicious", "name": "web-7f9", "labels": {"app": "web"}},
                # processId must be a number in Graph's schema.
                {"@odata.type": "#microsoft.graph.security.processEvidence",
                 "processId": "seven", "processCommandLine": "cmd /c whoami"},
                "not an object",
            ]
        }
    )  # fmt: skip
    assert [v.kind for v in views] == ["other"] * 4
    assert _fields(views[0]) == {"networkMessageId": "n-1"}
    assert views[0].label == "MailMessage" and "does not lay out" in views[0].note
    assert _fields(views[1]) == {"name": "web-7f9", "labels": '{"app": "web"}'}
    assert views[1].label == "kubernetesPodEvidence" and views[1].verdict == "suspicious"
    assert _fields(views[2])["processCommandLine"] == "cmd /c whoami"
    assert "does not read" in views[2].note
    assert "does not read" in views[3].note and views[3].raw_json == '"not an object"'


def test_vocabulary_words_are_defined_once_and_unknown_values_shown_as_sent() -> None:
    template = Template(
        "{% load vocabularies %}"
        '{{ a|word:"delivery_location" }}|{{ b|word:"delivery_action" }}|'
        '{{ c|word:"verdict" }}|{{ d|word:"remediation" }}|{{ e|word:"delivery_action" }}'
    )
    context = Context(
        {"a": "junkFolder", "b": "JUNKED", "c": "unknown", "d": "none", "e": "Teleported"}
    )
    assert template.render(context) == (
        "Junk folder|Delivered to junk|Not judged|No action taken|Teleported"
    )


@pytest.mark.django_db
def test_the_page_escapes_a_command_line_and_keeps_it_whole(analyst: Any) -> None:
    customer = CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=customer)
    alert = AlertFactory(customer=customer, raw={"evidence": [MDE_PROCESS]}, has_evidence=True)
    client = Client()
    client.force_login(analyst)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert (
        "&lt;script&gt;" in page and "<script>" not in page.split("<main", 1)[1].split("</main>")[0]
    )
    assert "powershell.exe -nop -w hidden -enc &quot;SQBFAFgA&quot; &lt;script&gt;" in page
    assert 'data-copy-target="ev0-' in page and "js/copy.js" in page


def _device(device_id: str, name: str) -> dict[str, Any]:
    return {"@odata.type": "#microsoft.graph.security.deviceEvidence",
            "mdeDeviceId": device_id, "deviceDnsName": name}  # fmt: skip


def _user(upn: str) -> dict[str, Any]:
    account = {"accountName": upn.split("@")[0], "userPrincipalName": upn}
    return {"@odata.type": "#microsoft.graph.security.userEvidence", "userAccount": account}


@pytest.mark.django_db
def test_the_summary_counts_each_thing_once_across_alerts_and_shapes() -> None:
    customer = CustomerFactory()
    ip = {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "203.0.113.9"}
    first = AlertFactory(
        customer=customer, computer_dns_name="", machine_id="",
        raw={"evidence": [_device("ABC123", "ws-1.corp"), _user("Alice@corp.example"), ip]},
    )  # fmt: skip
    second = AlertFactory(
        customer=customer, computer_dns_name="", machine_id="",
        raw={"evidence": [_device("abc123", "WS-1.corp"), _user("alice@corp.example"),
                          {**MDE_PROCESS, "entityType": "Ip", "ipAddress": "203.0.113.9"}]},
    )  # fmt: skip
    legacy = AlertFactory(customer=customer, computer_dns_name="ws-9.corp", machine_id="f" * 40)
    groups = {g.category: g for g in evidence_summary([first, second, legacy])}
    assert sorted(groups) == ["devices", "ips", "users"]
    devices = {t.name: t.alert_count for t in groups["devices"].things}
    assert devices == {"ws-1.corp": 2, "ws-9.corp": 1}
    assert [(t.name, t.alert_count) for t in groups["users"].things] == [("Alice@corp.example", 2)]
    assert [(t.name, t.alert_count) for t in groups["ips"].things] == [("203.0.113.9", 2)]


@pytest.mark.django_db
def test_the_timeline_orders_creation_alerts_comments_and_the_portals_changes() -> None:
    start = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    customer = CustomerFactory()
    incident = IncidentFactory(
        customer=customer, incident_id=41, created_at=start,
        last_updated_at=start + timedelta(hours=5),
        raw={"comments": [{"comment": "Looking", "createdByDisplayName": "Sam",
                           "createdDateTime": "2026-11-30T10:00:00Z"}]},
    )  # fmt: skip
    alert = AlertFactory(
        customer=customer, incident_id=41, title="Phish clicked",
        first_event_at=start - timedelta(minutes=30), created_at=start - timedelta(minutes=5),
        resolved_at=start + timedelta(hours=4),
    )  # fmt: skip
    AuditEventFactory(
        customer=customer, action="incident.updated", actor_label="sam",
        summary="Changed incident 41: status", details={"incident_id": 41},
        created_at=start + timedelta(hours=3),
    )  # fmt: skip
    AuditEventFactory(
        customer=customer, action="alert.updated", actor_label="sam",
        summary="Changed alert Phish clicked", details={"alert_id": alert.alert_id},
        created_at=start + timedelta(hours=2),
    )  # fmt: skip
    AuditEventFactory(  # another incident's change is not this one's
        customer=customer, action="incident.updated", details={"incident_id": 42},
        created_at=start + timedelta(hours=1),
    )  # fmt: skip
    events = incident_timeline(incident, [alert])
    assert [(e.kind, e.what) for e in events] == [
        ("alert", "First activity of alert: Phish clicked"),
        ("alert", "Alert raised: Phish clicked"),
        ("incident", "Incident created in Defender"),
        ("comment", "Looking"),
        ("portal", "Changed alert Phish clicked"),
        ("portal", "Changed incident 41: status"),
        ("alert", "Alert resolved: Phish clicked"),
        ("incident", "Last updated in Defender"),
    ]
    assert events[3].by == "Sam" and events[4].alert == alert and events[5].by == "sam"


def test_groups_and_cloud_resources_are_laid_out_as_their_own_kinds() -> None:
    resource_id = (
        "/subscriptions/8700d3a3-3bb7-4fbe-a090-488a1ad04161/resourceGroups/prod/providers/"
        "Microsoft.Compute/virtualMachines/web-01"
    )
    group, azure, aws = evidence_views(
        {
            "evidence": [
                {"@odata.type": "#microsoft.graph.security.securityGroupEvidence",
                 "displayName": "Domain Admins", "securityGroupId": "S-1-5-21-1-512"},
                {"@odata.type": "#microsoft.graph.security.azureResourceEvidence",
                 "resourceId": resource_id, "resourceName": "web-01",
                 "resourceType": "Virtual Machine"},
                {"@odata.type": "#microsoft.graph.security.amazonResourceEvidence",
                 "amazonAccountId": "123456789012", "amazonResourceId": "i-0abc",
                 "resourceName": "bastion", "resourceType": "EC2 instance"},
            ]
        }
    )  # fmt: skip
    assert (group.kind, group.title) == ("group", "Domain Admins")
    assert _fields(group)["Group ID"] == "S-1-5-21-1-512"
    assert (azure.kind, azure.label, azure.title) == ("cloudresource", "Azure resource", "web-01")
    assert _fields(azure)["Resource ID"] == resource_id
    assert (aws.label, _fields(aws)["Account"]) == ("AWS resource", "123456789012")
