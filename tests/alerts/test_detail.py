"""The alert detail page: every field, the incident, the device, the customer, the deep
link to Defender, and the analyst's scope (another customer's alert is a 404)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client

from partner_portal.core.access import Role
from tests.alerts.factories import AlertFactory, CustomerFactory, IncidentFactory
from tests.factories import GroupFactory, UserFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def contoso() -> object:
    return CustomerFactory(
        display_name="Contoso",
        contact_name="Casey Admin",
        contact_email="casey@contoso.example",
        tenant_id="11111111-2222-4333-8444-555555555555",
    )


@pytest.fixture
def scoped_client(analyst: object, contoso: object) -> Client:
    AnalystScopeFactory(user=analyst, customer=contoso)
    client = Client()
    client.force_login(analyst)  # type: ignore[arg-type]
    return client


def _alert_with_everything(customer: object) -> object:
    return AlertFactory(
        customer=customer,
        alert_id="da638400000000000000_1122334455",
        title="Credential theft with Mimikatz",
        machine_id="a" * 40,
        computer_dns_name="ws-042.contoso.example",
        incident_id=77,
        classification="TruePositive",
        determination="Malware",
        assigned_to="sam@partner.example",
        raw={
            "id": "da638400000000000000_1122334455",
            "threatName": "HackTool:Win32/Mimikatz",
            "detectorId": "detector-xyz-123",
            "rbacGroupName": "Finance devices",
            "comments": [
                {"comment": "Isolating the device", "createdBy": "sam@partner.example",
                 "createdTime": "2026-11-01T12:30:00Z"},
            ],
            "evidence": [
                {"entityType": "File", "fileName": "mimikatz.exe", "sha1": "f" * 40},
                {"entityType": "User", "accountName": "alice", "domainName": "CONTOSO"},
            ],
        },
    )  # fmt: skip


def test_detail_shows_every_field_evidence_comments_and_the_customer(
    scoped_client: Client, contoso: object
) -> None:
    alert = _alert_with_everything(contoso)
    page = scoped_client.get(f"/alerts/{alert.pk}/").content.decode()  # type: ignore[attr-defined]
    for expected in (
        "Credential theft with Mimikatz",
        "ws-042.contoso.example",
        "TruePositive",
        "Malware",
        "sam@partner.example",
        "T1059.001",
        # The technique by its ATT&CK name, linked to MITRE's page.
        "Command and Scripting Interpreter: PowerShell",
        'href="https://attack.mitre.org/techniques/T1059/001/"',
        # Fields only present in what Defender sent are shown too.
        "HackTool:Win32/Mimikatz",
        "detector-xyz-123",
        "Finance devices",
        # Evidence and comments.
        "mimikatz.exe",
        "accountName",
        "Isolating the device",
        # The customer's contact and status.
        "Casey Admin",
        "casey@contoso.example",
        'data-status="active"',
    ):
        assert expected in page, expected


def test_detail_links_to_the_alert_in_the_defender_portal_of_the_customers_tenant(
    scoped_client: Client, contoso: object
) -> None:
    alert = _alert_with_everything(contoso)
    page = scoped_client.get(f"/alerts/{alert.pk}/").content.decode()  # type: ignore[attr-defined]
    assert (
        'href="https://security.microsoft.com/alerts/da638400000000000000_1122334455'
        '?tid=11111111-2222-4333-8444-555555555555"'
    ) in page
    assert 'rel="noopener noreferrer"' in page


def test_detail_shows_the_incident_and_other_alerts_on_the_same_device(
    scoped_client: Client, contoso: object
) -> None:
    alert = _alert_with_everything(contoso)
    incident = IncidentFactory(
        customer=contoso, incident_id=77, name="Multi-stage attack on finance", status="Active",
        severity="High", alert_ids=[alert.alert_id],  # type: ignore[attr-defined]
    )  # fmt: skip
    sibling = AlertFactory(customer=contoso, incident_id=77, title="Lateral movement via SMB")
    same_device = AlertFactory(
        customer=contoso, machine_id="a" * 40, title="Suspicious PowerShell download"
    )
    elsewhere = AlertFactory(customer=contoso, machine_id="b" * 40, title="Unrelated adware")
    page = scoped_client.get(f"/alerts/{alert.pk}/").content.decode()  # type: ignore[attr-defined]
    assert f'href="/incidents/{incident.pk}/"' in page
    assert "Multi-stage attack on finance" in page
    assert f'href="/alerts/{sibling.pk}/"' in page
    assert f'href="/alerts/{same_device.pk}/"' in page
    assert "Unrelated adware" not in page and f"/alerts/{elsewhere.pk}/" not in page


def test_same_device_alerts_of_another_customer_are_never_shown(
    scoped_client: Client, contoso: object
) -> None:
    alert = _alert_with_everything(contoso)
    other = CustomerFactory(display_name="Fabrikam")
    # Machine IDs are unique per tenant in practice; the page must not trust that.
    AlertFactory(customer=other, machine_id="a" * 40, incident_id=77, title="Fabrikam secret")
    page = scoped_client.get(f"/alerts/{alert.pk}/").content.decode()  # type: ignore[attr-defined]
    assert "Fabrikam" not in page


def test_the_write_back_form_carries_the_last_update_time_the_page_shows(
    scoped_client: Client, contoso: object
) -> None:
    alert = _alert_with_everything(contoso)
    page = scoped_client.get(f"/alerts/{alert.pk}/").content.decode()  # type: ignore[attr-defined]
    assert f'action="/alerts/{alert.pk}/update/"' in page  # type: ignore[attr-defined]
    assert f'value="{alert.last_updated_at.isoformat()}"' in page  # type: ignore[attr-defined]


def test_another_customers_alert_by_direct_url_is_not_found(
    scoped_client: Client, contoso: object
) -> None:
    other = AlertFactory(customer=CustomerFactory(display_name="Fabrikam"))
    assert scoped_client.get(f"/alerts/{other.pk}/").status_code == 404
    assert scoped_client.get("/alerts/999999/").status_code == 404


def test_analyst_without_any_scope_sees_no_alert(analyst_client: Client, contoso: object) -> None:
    alert = AlertFactory(customer=contoso)
    assert analyst_client.get(f"/alerts/{alert.pk}/").status_code == 404


def test_group_scope_and_all_customers_grant_open_the_detail(contoso: object) -> None:
    team = GroupFactory(name="Night shift")
    member = UserFactory(username="night", roles=[Role.ANALYST])
    member.groups.add(team)
    AnalystScopeFactory(group=team, customer=contoso)
    everyone = UserFactory(username="lead", roles=[Role.ANALYST])
    AnalystScopeFactory(user=everyone, all_customers=True)
    mine = AlertFactory(customer=contoso)
    theirs = AlertFactory(customer=CustomerFactory(display_name="Fabrikam"))
    client = Client()
    client.force_login(member)
    assert client.get(f"/alerts/{mine.pk}/").status_code == 200
    assert client.get(f"/alerts/{theirs.pk}/").status_code == 404
    client.force_login(everyone)
    assert client.get(f"/alerts/{theirs.pk}/").status_code == 200


def test_onboarding_staff_without_the_analyst_role_may_not_open_alerts(
    staff_client: Client, contoso: object
) -> None:
    alert = AlertFactory(customer=contoso)
    assert staff_client.get(f"/alerts/{alert.pk}/").status_code == 403


def test_comments_are_listed_newest_first(scoped_client: Client, contoso: object) -> None:
    base = AlertFactory(customer=contoso).created_at  # type: ignore[attr-defined]
    alert = AlertFactory(
        customer=contoso,
        raw={
            "comments": [
                {"comment": "first note", "createdBy": "a", "createdTime": base.isoformat()},
                {"comment": "second note", "createdBy": "b",
                 "createdTime": (base + timedelta(hours=1)).isoformat()},
            ]
        },
    )  # fmt: skip
    page = scoped_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert page.index("second note") < page.index("first note")


def test_page_text_from_defender_is_escaped(scoped_client: Client, contoso: object) -> None:
    alert = AlertFactory(customer=contoso, title="<script>alert(1)</script>")
    page = scoped_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
