"""Write-back through the Defender for Endpoint API (customers still on the legacy APIs)
against the sandbox: PATCH first, then the row; conflicts, missing Alert.ReadWrite.All,
bulk changes, scope, and an audit event for every attempt."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.alerts.writeback import BULK_LIMIT, AlertChanges, Outcome, alert_update
from partner_portal.defender import parse_alert
from partner_portal.sandbox.catalog import GRAPH_ROLES
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft
from tenants.models import AuditEvent, Customer, CustomerStatus
from tests.alerts.conftest import ground_truth, point_portal_at
from tests.alerts.factories import CustomerFactory
from tests.fixtures.sandbox import sandbox_fixture
from tests.tenants.factories import AnalystScopeFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


# Four tenants: two consented with every permission, two left for the tests that
# grant chosen permissions (so that no token with other roles is cached for them).
wb_sandbox = sandbox_fixture("writeback", tenants=4, consented=2, alerts_per_tenant=12, seed=4242)


@pytest.fixture
def customers(wb_sandbox: SandboxProcess, settings: Any) -> Iterator[list[Customer]]:
    """Active customers for the two consented tenants, still on the legacy APIs (their
    Graph roles left out), their alerts mirrored as rows."""
    point_portal_at(wb_sandbox, settings)
    made = []
    for tenant in wb_sandbox.tenants[:2]:
        legacy = sorted(r for r in tenant["roles"] if r not in GRAPH_ROLES)
        customer = CustomerFactory(
            display_name=tenant["name"], tenant_id=tenant["tenant_id"],
            status=CustomerStatus.ACTIVE, granted_roles=legacy,
        )  # fmt: skip
        _mirror(wb_sandbox, customer)
        made.append(customer)
    yield made
    microsoft.reset_for_tests()


def _mirror(sandbox: SandboxProcess, customer: Customer) -> None:
    truth = ground_truth(sandbox, str(customer.tenant_id))
    alerts_upsert(customer_id=customer.pk, records=[parse_alert(a) for a in truth.values()])


def _defender(sandbox: SandboxProcess, alert: Alert) -> dict[str, Any]:
    return ground_truth(sandbox, str(alert.customer.tenant_id))[alert.alert_id]


def _open_alert(customer: Customer, *, skip: int = 0) -> Alert:
    return Alert.objects.filter(customer=customer).exclude(status="Resolved").order_by("id")[skip]


@pytest.fixture
def scoped(analyst: Any, customers: list[Customer]) -> Client:
    """An analyst who may see the first customer only."""
    AnalystScopeFactory(user=analyst, customer=customers[0])
    client = Client()
    client.force_login(analyst)
    return client


def _form(alert: Alert, **fields: str) -> dict[str, str]:
    assert alert.last_updated_at is not None
    return {"seen_last_update": alert.last_updated_at.isoformat(), "status": "", **fields}


def test_resolving_writes_to_defender_then_updates_the_row_and_audits(
    scoped: Client, customers: list[Customer], wb_sandbox: SandboxProcess, analyst: Any
) -> None:
    alert = _open_alert(customers[0])
    response = scoped.post(
        f"/alerts/{alert.pk}/update/",
        _form(
            alert, status="Resolved", classification="TruePositive", determination="Malware",
            assigned_to="sam@partner.example", comment="Confirmed and cleaned up.",
        ),
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == f"/alerts/{alert.pk}/"

    truth = _defender(wb_sandbox, alert)
    assert truth["status"] == "Resolved"
    assert truth["classification"] == "TruePositive"
    assert truth["determination"] == "Malware"
    assert truth["assignedTo"] == "sam@partner.example"
    # Defender credits the app, so the text names the analyst who wrote it.
    sent = f"[{analyst.email} via Partner Portal] Confirmed and cleaned up."
    assert sent in [c["comment"] for c in truth["comments"]]

    alert.refresh_from_db()
    assert alert.status == "Resolved"
    assert alert.resolved_at is not None
    assert alert.assigned_to == "sam@partner.example"
    assert alert.last_updated_at is not None
    assert alert.last_updated_at.isoformat().startswith(truth["lastUpdateTime"][:19])

    event = AuditEvent.objects.get(action="alert.updated")
    assert event.actor == analyst
    assert event.customer == customers[0]
    assert event.details["alert_id"] == alert.alert_id
    assert event.details["changes"]["status"] == "Resolved"
    assert event.details["api_calls"] == 2  # read back, then PATCH

    page = scoped.get(f"/alerts/{alert.pk}/").content.decode()
    assert "Saved in Defender." in page
    assert '<p class="prewrap">Confirmed and cleaned up.</p>' in page
    assert f"{analyst.email} via Partner Portal" in page


def test_a_change_made_in_defender_meanwhile_is_shown_not_overwritten(
    scoped: Client, customers: list[Customer], wb_sandbox: SandboxProcess
) -> None:
    alert = _open_alert(customers[0], skip=1)
    rendered = _form(alert, status="Resolved", assigned_to="me@partner.example")
    # Someone else changes the alert in Defender after the page was rendered.
    microsoft.mde_client(customers[0]).update_alert(
        alert.alert_id, assigned_to="other@partner.example", status="InProgress"
    )

    response = scoped.post(f"/alerts/{alert.pk}/update/", rendered)
    assert response.status_code == 409
    page = response.content.decode()
    assert "Changed in Defender meanwhile" in page
    assert "other@partner.example" in page

    truth = _defender(wb_sandbox, alert)
    assert truth["assignedTo"] == "other@partner.example"
    assert truth["status"] == "InProgress"
    # The row now shows Defender's version, so a second try is made knowingly.
    alert.refresh_from_db()
    assert alert.assigned_to == "other@partner.example"
    assert AuditEvent.objects.filter(action="alert.conflict").count() == 1
    assert not AuditEvent.objects.filter(action="alert.updated").exists()

    retry = scoped.post(f"/alerts/{alert.pk}/update/", _form(alert, status="Resolved"))
    assert retry.status_code == 302
    assert _defender(wb_sandbox, alert)["status"] == "Resolved"


def test_without_alert_readwrite_the_analyst_is_told_plainly_and_nothing_changes(
    analyst: Any, wb_sandbox: SandboxProcess, settings: Any
) -> None:
    point_portal_at(wb_sandbox, settings)
    tenant = wb_sandbox.tenants[2]
    granted = wb_sandbox.control(
        "POST", f"/_sandbox/tenants/{tenant['tenant_id']}/consent",
        json={"roles": ["Alert.Read.All", "Incident.Read.All"]},
    )  # fmt: skip
    assert granted.status_code < 300
    customer = CustomerFactory(
        display_name="Read-only Ltd", tenant_id=tenant["tenant_id"], status=CustomerStatus.ACTIVE,
        granted_roles=["Alert.Read.All", "Incident.Read.All"],
    )  # fmt: skip
    _mirror(wb_sandbox, customer)
    AnalystScopeFactory(user=analyst, customer=customer)
    client = Client()
    client.force_login(analyst)
    alert = _open_alert(customer)
    before = _defender(wb_sandbox, alert)

    response = client.post(
        f"/alerts/{alert.pk}/update/", _form(alert, status="Resolved", comment="try")
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Alert.ReadWrite.All" in page
    assert "Nothing was changed" in page

    after = _defender(wb_sandbox, alert)
    assert after["status"] == before["status"]
    assert after["comments"] == before["comments"]
    alert.refresh_from_db()
    assert alert.status == before["status"]
    assert AuditEvent.objects.filter(action="alert.forbidden", customer=customer).count() == 1
    customer.refresh_from_db()
    assert "Alert.ReadWrite.All" in customer.missing_roles
    microsoft.reset_for_tests()


def test_bulk_sets_status_and_assignee_and_reports_each_alert(
    scoped: Client, customers: list[Customer], wb_sandbox: SandboxProcess
) -> None:
    chosen = list(Alert.objects.filter(customer=customers[0]).order_by("id")[2:5])
    stale = chosen[2]
    microsoft.mde_client(customers[0]).update_alert(stale.alert_id, comment="changed elsewhere")
    outside = Alert.objects.filter(customer=customers[1]).order_by("id").first()
    assert outside is not None
    before_outside = _defender(wb_sandbox, outside)

    response = scoped.post(
        "/alerts/bulk/",
        {
            "alert": [str(a.pk) for a in chosen] + [str(outside.pk)],
            "status": "InProgress",
            "assigned_to": "triage@partner.example",
        },
    )
    assert response.status_code == 200
    page = response.content.decode()
    outcomes = {a.pk: o for a, o in [(r.alert, r.outcome) for r in response.context["results"]]}
    assert set(outcomes) == {a.pk for a in chosen}  # the other customer's alert is ignored
    assert outcomes[stale.pk] == Outcome.CONFLICT
    for alert in chosen[:2]:
        assert outcomes[alert.pk] in (Outcome.UPDATED, Outcome.UNCHANGED)
        truth = _defender(wb_sandbox, alert)
        assert truth["status"] == "InProgress"
        assert truth["assignedTo"] == "triage@partner.example"
        alert.refresh_from_db()
        assert alert.assigned_to == "triage@partner.example"
    assert _defender(wb_sandbox, stale)["assignedTo"] != "triage@partner.example"
    assert _defender(wb_sandbox, outside) == before_outside
    assert 'data-outcome="conflict"' in page
    assert customers[1].display_name not in page
    events = AuditEvent.objects.filter(action__startswith="alert.", details__bulk=True)
    assert events.count() == 3


def test_posting_to_another_customers_alert_is_not_found_and_changes_nothing(
    scoped: Client, customers: list[Customer], wb_sandbox: SandboxProcess
) -> None:
    outside = _open_alert(customers[1])
    before = _defender(wb_sandbox, outside)
    response = scoped.post(f"/alerts/{outside.pk}/update/", _form(outside, status="Resolved"))
    assert response.status_code == 404
    only_outside = scoped.post("/alerts/bulk/", {"alert": [outside.pk], "status": "Resolved"})
    assert only_outside.status_code == 404
    assert _defender(wb_sandbox, outside) == before
    assert not AuditEvent.objects.filter(action__startswith="alert.").exists()


def test_nothing_to_change_sends_no_patch(
    customers: list[Customer], wb_sandbox: SandboxProcess, analyst: Any
) -> None:
    alert = _open_alert(customers[0], skip=3)
    result = alert_update(
        alert=alert, actor=analyst, changes=AlertChanges(status=alert.status),
        seen_last_update=alert.last_updated_at,
    )  # fmt: skip
    assert result.outcome == Outcome.UNCHANGED
    assert _defender(wb_sandbox, alert)["lastUpdateTime"].startswith(
        alert.last_updated_at.strftime("%Y-%m-%dT%H:%M:%S")  # type: ignore[union-attr]
    )
    assert AuditEvent.objects.get(action="alert.unchanged").details["api_calls"] == 1


def test_bulk_refuses_an_empty_or_oversized_selection(scoped: Client) -> None:
    empty = scoped.post("/alerts/bulk/", {"status": "Resolved"}, follow=True)
    assert "Select at least one alert." in empty.content.decode()
    too_many = scoped.post(
        "/alerts/bulk/",
        {"alert": [str(n) for n in range(1, BULK_LIMIT + 2)], "status": "Resolved"},
        follow=True,
    )
    assert f"at most {BULK_LIMIT} alerts" in too_many.content.decode()
    nothing = scoped.post("/alerts/bulk/", {"alert": ["1"]}, follow=True)
    assert "Choose a status, an assignee" in nothing.content.decode()


def test_a_page_with_a_garbled_timestamp_is_refused(
    scoped: Client, customers: list[Customer], wb_sandbox: SandboxProcess
) -> None:
    alert = _open_alert(customers[0], skip=4)
    response = scoped.post(
        f"/alerts/{alert.pk}/update/", {"seen_last_update": "yesterday", "status": "Resolved"}
    )
    assert response.status_code == 400
    assert _defender(wb_sandbox, alert)["status"] == alert.status


@pytest.mark.parametrize("status", [CustomerStatus.OFFBOARDED, CustomerStatus.CONSENT_REVOKED])
def test_no_write_back_for_an_offboarded_or_revoked_customer(
    scoped: Client, customers: list[Customer], wb_sandbox: SandboxProcess, status: str
) -> None:
    customer = customers[0]
    customer.status = status
    customer.save(update_fields=["status"])
    alert = _open_alert(customer)
    before = _defender(wb_sandbox, alert)
    response = scoped.post(f"/alerts/{alert.pk}/update/", _form(alert, status="Resolved"))
    assert "no longer changes its alerts" in response.content.decode() or "removed the portal" in (
        response.content.decode()
    )
    assert _defender(wb_sandbox, alert) == before


def test_another_products_alert_of_a_customer_still_on_the_legacy_api_is_refused_in_words(
    customers: list[Customer], wb_sandbox: SandboxProcess, analyst: Any
) -> None:
    from tests.alerts.factories import AlertFactory

    customer = customers[0]
    assert not customer.on_graph
    office = AlertFactory(customer=customer, service_source="microsoftDefenderForOffice365")
    result = alert_update(
        alert=office, actor=analyst, changes=AlertChanges(status="Resolved"),
        seen_last_update=office.last_updated_at,
    )  # fmt: skip
    assert result.outcome == Outcome.FAILED
    assert "only through Microsoft Graph" in result.message
    assert "Nothing was changed" in result.message
    assert AuditEvent.objects.get(action="alert.failed").details["api_calls"] == 0


def test_bulk_resolves_with_classification_determination_and_a_comment(
    scoped: Client, customers: list[Customer], wb_sandbox: SandboxProcess
) -> None:
    still_open = Alert.objects.filter(customer=customers[0]).exclude(status="Resolved")
    chosen = list(still_open.order_by("-id")[:2])
    assert len(chosen) == 2
    response = scoped.post(
        "/alerts/bulk/",
        {
            "alert": [str(a.pk) for a in chosen],
            "status": "Resolved",
            "classification": "TruePositive",
            "determination": "InsufficientData",
            "comment": "One campaign, closed as a whole.",
        },
    )
    assert response.status_code == 200
    assert {r.outcome for r in response.context["results"]} == {Outcome.UPDATED}
    for alert in chosen:
        truth = _defender(wb_sandbox, alert)
        assert (truth["status"], truth["classification"], truth["determination"]) == (
            "Resolved", "TruePositive", "InsufficientData",
        )  # fmt: skip
        assert any("One campaign, closed as a whole." in c["comment"] for c in truth["comments"])
        alert.refresh_from_db()
        assert alert.classification == "TruePositive"


def test_bulk_refuses_a_classification_outside_defenders_vocabulary(
    scoped: Client, customers: list[Customer], wb_sandbox: SandboxProcess
) -> None:
    alert = _open_alert(customers[0])
    before = _defender(wb_sandbox, alert)
    response = scoped.post(
        "/alerts/bulk/",
        {"alert": [str(alert.pk)], "status": "Resolved", "classification": "Mostly"},
        follow=True,
    )
    assert "Choose a classification and determination from the lists." in (
        response.content.decode()
    )
    assert _defender(wb_sandbox, alert) == before
