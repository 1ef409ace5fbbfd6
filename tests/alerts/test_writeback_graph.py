"""Alert write-back through Microsoft Graph against the sandbox, for customers on Graph:
alerts of every Defender product changed (not only endpoint ones), read back first,
conflicts shown, Graph's answer stored, a missing SecurityAlert.ReadWrite.All recorded,
comments naming the analyst, bulk changes, and an audit event for every attempt."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from partner_portal.alerts.models import Alert
from partner_portal.alerts.writeback import AlertChanges, Outcome, alert_update
from partner_portal.alerts.writeback_access import uses_graph
from partner_portal.alerts.writeback_graph import graph_difference
from partner_portal.defender import parse_timestamp
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft
from tenants.models import AuditEvent, Customer
from tests.alerts.conftest import point_portal_at
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.alerts.graph_writeback_support import ENDPOINT, graph_alert_truth, graph_customer
from tests.fixtures.sandbox import sandbox_fixture
from tests.tenants.factories import AnalystScopeFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]

OFFICE = "microsoftDefenderForOffice365"

# Four tenants: two consented with every permission; the others for chosen permissions.
graph_wb_sandbox = sandbox_fixture(
    "graph-writeback", tenants=4, consented=2, alerts_per_tenant=30, seed=5151
)


@pytest.fixture
def customers(graph_wb_sandbox: SandboxProcess, settings: Any) -> Iterator[list[Customer]]:
    """Customers on Graph for the two consented tenants, alerts and incidents mirrored."""
    point_portal_at(graph_wb_sandbox, settings)
    yield [graph_customer(graph_wb_sandbox, t) for t in graph_wb_sandbox.tenants[:2]]
    microsoft.reset_for_tests()


@pytest.fixture
def scoped(analyst: Any, customers: list[Customer]) -> Client:
    """An analyst who may see the first customer only."""
    analyst.first_name, analyst.last_name = "Dana", "Reyes"
    analyst.save(update_fields=["first_name", "last_name"])
    AnalystScopeFactory(user=analyst, customer=customers[0])
    client = Client()
    client.force_login(analyst)
    return client


def _other_product(customer: Customer, *, skip: int = 0) -> Alert:
    """An open alert of a Defender product other than Endpoint."""
    found = (
        Alert.objects.filter(customer=customer)
        .exclude(service_source=ENDPOINT)
        .exclude(status="Resolved")
        .order_by("id")
    )
    return found[skip]


def _form(alert: Alert, **fields: str) -> dict[str, str]:
    assert alert.last_updated_at is not None
    return {"seen_last_update": alert.last_updated_at.isoformat(), "status": "", **fields}


def test_an_alert_of_another_defender_product_is_changed_through_graph(
    scoped: Client, customers: list[Customer], graph_wb_sandbox: SandboxProcess, analyst: Any
) -> None:
    alert = _other_product(customers[0])
    assert alert.service_source != ENDPOINT and uses_graph(alert)
    response = scoped.post(
        f"/alerts/{alert.pk}/update/",
        _form(
            alert, status="Resolved", classification="TruePositive", determination="Phishing",
            assigned_to="sam@partner.example", comment="Mail pulled from every mailbox.",
        ),
    )  # fmt: skip
    assert response.status_code == 302

    truth = graph_alert_truth(graph_wb_sandbox, customers[0], alert.alert_id)
    assert truth["status"] == "resolved"
    assert truth["classification"] == "truePositive"
    assert truth["determination"] == "phishing"
    assert truth["assignedTo"] == "sam@partner.example"
    # Graph credits the app; the text names the analyst.
    credited = (
        "[Dana Reyes <analyst@partner.example> via Partner Portal] Mail pulled from every mailbox."
    )
    assert credited in [c["comment"] for c in truth["comments"]]

    alert.refresh_from_db()
    assert (alert.status, alert.classification, alert.determination) == (
        "Resolved", "TruePositive", "Phishing",
    )  # fmt: skip
    assert alert.assigned_to == "sam@partner.example"
    assert alert.last_updated_at == parse_timestamp(truth["lastUpdateDateTime"])
    assert alert.from_graph and alert.raw["comments"] == truth["comments"]

    event = AuditEvent.objects.get(action="alert.updated")
    assert event.actor == analyst and event.customer == customers[0]
    assert event.details["alert_id"] == alert.alert_id
    assert event.details["api"] == "graph"
    assert event.details["changes"]["status"] == "Resolved"
    assert event.details["api_calls"] == 4  # read back, PATCH, comment, read the result

    page = scoped.get(f"/alerts/{alert.pk}/").content.decode()
    assert '<p class="prewrap">Mail pulled from every mailbox.</p>' in page
    assert "Dana Reyes &lt;analyst@partner.example&gt; via Partner Portal" in page


def test_a_change_made_in_graph_meanwhile_is_shown_not_overwritten(
    scoped: Client, customers: list[Customer], graph_wb_sandbox: SandboxProcess
) -> None:
    alert = _other_product(customers[0], skip=1)
    rendered = _form(alert, status="Resolved", assigned_to="me@partner.example")
    microsoft.graph_client(customers[0]).update_alert(
        alert.alert_id, assigned_to="other@partner.example", status="inProgress"
    )

    response = scoped.post(f"/alerts/{alert.pk}/update/", rendered)
    assert response.status_code == 409
    page = response.content.decode()
    assert "Changed in Defender meanwhile" in page and "other@partner.example" in page

    truth = graph_alert_truth(graph_wb_sandbox, customers[0], alert.alert_id)
    assert (truth["assignedTo"], truth["status"]) == ("other@partner.example", "inProgress")
    alert.refresh_from_db()
    assert (alert.assigned_to, alert.status) == ("other@partner.example", "InProgress")
    assert AuditEvent.objects.filter(action="alert.conflict").count() == 1
    assert not AuditEvent.objects.filter(action="alert.updated").exists()

    retry = scoped.post(f"/alerts/{alert.pk}/update/", _form(alert, status="Resolved"))
    assert retry.status_code == 302
    assert graph_alert_truth(graph_wb_sandbox, customers[0], alert.alert_id)["status"] == (
        "resolved"
    )


def test_values_graph_already_has_send_no_patch(
    customers: list[Customer], graph_wb_sandbox: SandboxProcess, analyst: Any
) -> None:
    alert = _other_product(customers[0], skip=2)
    before = graph_alert_truth(graph_wb_sandbox, customers[0], alert.alert_id)
    result = alert_update(
        alert=alert, actor=analyst, changes=AlertChanges(status=alert.status),
        seen_last_update=alert.last_updated_at,
    )  # fmt: skip
    assert result.outcome == Outcome.UNCHANGED
    assert graph_alert_truth(graph_wb_sandbox, customers[0], alert.alert_id) == before
    assert AuditEvent.objects.get(action="alert.unchanged").details["api_calls"] == 1


def test_an_alert_graph_no_longer_knows_is_reported_not_found(
    customers: list[Customer], analyst: Any
) -> None:
    gone = AlertFactory(customer=customers[0], service_source=OFFICE, alert_id="fa-gone-0001")
    result = alert_update(
        alert=gone, actor=analyst, changes=AlertChanges(status="Resolved"),
        seen_last_update=gone.last_updated_at,
    )  # fmt: skip
    assert result.outcome == Outcome.NOT_FOUND
    assert "no longer knows this alert" in result.message
    event = AuditEvent.objects.get(action="alert.not_found")
    assert event.details["alert_id"] == "fa-gone-0001" and event.details["api"] == "graph"


def test_without_securityalert_readwrite_the_analyst_is_told_which_permission(
    graph_wb_sandbox: SandboxProcess, settings: Any, analyst: Any
) -> None:
    from partner_portal.alerts.incident_writeback import IncidentChanges, incident_update
    from partner_portal.alerts.models import Incident

    point_portal_at(graph_wb_sandbox, settings)
    tenant = graph_wb_sandbox.tenants[2]
    read_only = ["SecurityAlert.Read.All", "SecurityIncident.Read.All"]
    granted = graph_wb_sandbox.control(
        "POST", f"/_sandbox/tenants/{tenant['tenant_id']}/consent", json={"roles": read_only}
    )
    assert granted.status_code < 300
    customer = graph_customer(graph_wb_sandbox, tenant, read_only)
    alert = _other_product(customer)
    before = graph_alert_truth(graph_wb_sandbox, customer, alert.alert_id)

    result = alert_update(
        alert=alert, actor=analyst, changes=AlertChanges(status="Resolved", comment="try"),
        seen_last_update=alert.last_updated_at,
    )  # fmt: skip
    assert result.outcome == Outcome.FORBIDDEN
    assert "SecurityAlert.ReadWrite.All" in result.message
    assert "Nothing was changed" in result.message
    assert graph_alert_truth(graph_wb_sandbox, customer, alert.alert_id) == before
    event = AuditEvent.objects.get(action="alert.forbidden", customer=customer)
    assert "SecurityAlert.ReadWrite.All missing" in event.summary
    customer.refresh_from_db()
    assert "SecurityAlert.ReadWrite.All" in customer.missing_roles

    # Incidents name their own permission.
    incident = Incident.objects.filter(customer=customer, status="Active").order_by("id")[0]
    refused = incident_update(
        incident=incident, actor=analyst, changes=IncidentChanges(status="Resolved"),
        seen_last_update=incident.last_updated_at,
    )  # fmt: skip
    assert refused.outcome == Outcome.FORBIDDEN
    assert "SecurityIncident.ReadWrite.All" in refused.message
    assert AuditEvent.objects.filter(action="incident.forbidden", customer=customer).count() == 1
    customer.refresh_from_db()
    assert "SecurityIncident.ReadWrite.All" in customer.missing_roles
    microsoft.reset_for_tests()


def test_bulk_changes_alerts_of_every_product_through_graph_and_reports_each(
    scoped: Client, customers: list[Customer], graph_wb_sandbox: SandboxProcess
) -> None:
    chosen = [_other_product(customers[0], skip=3), _other_product(customers[0], skip=4)]
    endpoint = Alert.objects.filter(customer=customers[0], service_source=ENDPOINT)
    chosen.append(endpoint.exclude(status="Resolved").order_by("-id")[0])
    stale = chosen[1]
    microsoft.graph_client(customers[0]).add_alert_comment(stale.alert_id, "changed elsewhere")
    outside = Alert.objects.filter(customer=customers[1]).order_by("id").first()
    assert outside is not None
    before_outside = graph_alert_truth(graph_wb_sandbox, customers[1], outside.alert_id)

    response = scoped.post(
        "/alerts/bulk/",
        {
            "alert": [str(a.pk) for a in chosen] + [str(outside.pk)],
            "status": "InProgress",
            "assigned_to": "triage@partner.example",
        },
    )
    assert response.status_code == 200
    outcomes = {r.alert.pk: r.outcome for r in response.context["results"]}
    assert set(outcomes) == {a.pk for a in chosen}
    assert outcomes[stale.pk] == Outcome.CONFLICT
    for alert in (chosen[0], chosen[2]):
        assert outcomes[alert.pk] == Outcome.UPDATED
        truth = graph_alert_truth(graph_wb_sandbox, customers[0], alert.alert_id)
        assert (truth["status"], truth["assignedTo"]) == ("inProgress", "triage@partner.example")
        alert.refresh_from_db()
        assert alert.assigned_to == "triage@partner.example"
    stale_truth = graph_alert_truth(graph_wb_sandbox, customers[0], stale.alert_id)
    assert stale_truth["assignedTo"] != "triage@partner.example"
    assert graph_alert_truth(graph_wb_sandbox, customers[1], outside.alert_id) == before_outside
    assert 'data-outcome="conflict"' in response.content.decode()
    events = AuditEvent.objects.filter(action__startswith="alert.", details__bulk=True)
    assert events.count() == 3
    assert set(events.values_list("details__api", flat=True)) == {"graph"}


def test_bulk_resolve_with_classification_reaches_graph_in_its_vocabulary(
    scoped: Client, customers: list[Customer], graph_wb_sandbox: SandboxProcess
) -> None:
    still_open = Alert.objects.filter(customer=customers[0]).exclude(status="Resolved")
    chosen = list(still_open.exclude(service_source=ENDPOINT).order_by("-id")[:2])
    assert len(chosen) == 2
    response = scoped.post(
        "/alerts/bulk/",
        {
            "alert": [str(a.pk) for a in chosen],
            "status": "Resolved",
            "classification": "TruePositive",
            "determination": "InsufficientData",
            "comment": "Closed with its campaign.",
        },
    )
    assert response.status_code == 200
    assert {r.outcome for r in response.context["results"]} == {Outcome.UPDATED}
    for alert in chosen:
        truth = graph_alert_truth(graph_wb_sandbox, customers[0], alert.alert_id)
        # The legacy API's "InsufficientData" is Graph's notEnoughDataToValidate.
        assert (truth["status"], truth["classification"], truth["determination"]) == (
            "resolved", "truePositive", "notEnoughDataToValidate",
        )  # fmt: skip
        assert any("Closed with its campaign." in c["comment"] for c in truth["comments"])


@pytest.mark.parametrize(
    ("roles", "product", "expected"),
    [
        (["SecurityAlert.ReadWrite.All"], OFFICE, True),
        (["SecurityAlert.ReadWrite.All", "Alert.ReadWrite.All"], ENDPOINT, True),
        # On Graph for reading, but only the legacy API may write: endpoint alerts go there.
        (["SecurityAlert.Read.All", "Alert.ReadWrite.All"], ENDPOINT, False),
        (["SecurityAlert.Read.All", "Alert.ReadWrite.All"], OFFICE, True),
        (["Alert.ReadWrite.All", "Incident.Read.All"], ENDPOINT, False),
    ],
)
def test_the_api_a_change_goes_through_follows_the_consent(
    roles: list[str], product: str, expected: bool
) -> None:
    customer = CustomerFactory(granted_roles=roles)
    assert uses_graph(AlertFactory(customer=customer, service_source=product)) is expected


@pytest.mark.parametrize(
    ("wanted", "graph_has", "sent"),
    [
        # Case does not make a difference; a comment always does.
        ({"status": "Resolved"}, {"status": "resolved"}, {}),
        ({"comment": "again"}, {}, {"comment": "again"}),
        # "Not set" is Graph's "unknown", whichever way Graph says it.
        (
            {"classification": "TruePositive"},
            {"classification": None},
            {"classification": "TruePositive"},
        ),
        # The legacy API's determinations Graph names otherwise.
        ({"determination": "NotAvailable"}, {"determination": None}, {}),
        (
            {"determination": "InsufficientData"},
            {"determination": "unknown"},
            {"determination": "notEnoughDataToValidate"},
        ),
    ],
)
def test_only_what_graph_does_not_have_is_sent(
    wanted: dict[str, str], graph_has: dict[str, str | None], sent: dict[str, str]
) -> None:
    assert graph_difference(wanted, graph_has) == sent
