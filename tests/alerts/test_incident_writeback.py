"""Incident write-back through Microsoft Graph against the sandbox: status, assignee,
classification, determination, tags and a comment naming the analyst; read back first
and conflicts shown; the row updated from Graph's answer; an audit event for every
attempt; legacy customers refused in words; scope; bulk changes."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from partner_portal.alerts.incident_writeback import (
    INCIDENT_BULK_LIMIT,
    IncidentChanges,
    incident_update,
    incidents_bulk_update,
)
from partner_portal.alerts.models import Incident
from partner_portal.alerts.writeback_outcomes import Outcome
from partner_portal.defender import parse_timestamp
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft
from tenants.models import AuditEvent, Customer
from tenants.selectors import customer_timeline
from tests.alerts.conftest import point_portal_at
from tests.alerts.factories import CustomerFactory, IncidentFactory
from tests.alerts.graph_writeback_support import graph_customer, graph_incident_truth
from tests.fixtures.sandbox import sandbox_fixture
from tests.tenants.factories import AnalystScopeFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]

incident_sandbox = sandbox_fixture(
    "incident-writeback", tenants=2, consented=2, alerts_per_tenant=30, seed=6262
)


@pytest.fixture
def customers(incident_sandbox: SandboxProcess, settings: Any) -> Iterator[list[Customer]]:
    """Customers on Graph for both tenants, their alerts and incidents mirrored."""
    point_portal_at(incident_sandbox, settings)
    yield [graph_customer(incident_sandbox, t) for t in incident_sandbox.tenants]
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


def _open_incident(customer: Customer, *, skip: int = 0) -> Incident:
    found = Incident.objects.filter(customer=customer, status="Active", redirect_incident_id=None)
    return found.order_by("incident_id")[skip]


def _form(incident: Incident, **fields: str) -> dict[str, str]:
    assert incident.last_updated_at is not None
    return {
        "seen_last_update": incident.last_updated_at.isoformat(),
        "custom_tags": ", ".join(incident.custom_tags),
        **fields,
    }


def _truth(sandbox: SandboxProcess, incident: Incident) -> dict[str, Any]:
    return graph_incident_truth(sandbox, incident.customer, incident.incident_id)


def test_resolving_an_incident_writes_to_graph_then_the_row_and_audits(
    scoped: Client, customers: list[Customer], incident_sandbox: SandboxProcess, analyst: Any
) -> None:
    incident = _open_incident(customers[0])
    alert_ids = list(incident.alert_ids)
    response = scoped.post(
        f"/incidents/{incident.pk}/update/",
        _form(
            incident, status="Resolved", classification="TruePositive",
            determination="MultiStagedAttack", assigned_to="sam@partner.example",
            custom_tags="ransomware, contained", comment="Contained on every device.",
        ),
    )  # fmt: skip
    assert response.status_code == 302
    assert response["Location"] == f"/incidents/{incident.pk}/"

    truth = _truth(incident_sandbox, incident)
    assert truth["status"] == "resolved"
    assert truth["classification"] == "truePositive"
    assert truth["determination"] == "multiStagedAttack"
    assert truth["assignedTo"] == "sam@partner.example"
    assert truth["customTags"] == ["ransomware", "contained"]
    credited = (
        "[Dana Reyes <analyst@partner.example> via Partner Portal] Contained on every device."
    )
    assert [c["comment"] for c in truth["comments"]] == [credited]

    incident.refresh_from_db()
    assert (incident.status, incident.classification, incident.determination) == (
        "Resolved", "TruePositive", "MultiStagedAttack",
    )  # fmt: skip
    assert incident.assigned_to == "sam@partner.example"
    assert incident.custom_tags == ["ransomware", "contained"]
    assert incident.last_updated_at == parse_timestamp(truth["lastUpdateDateTime"])
    assert incident.alert_ids == alert_ids, "the incident keeps its alerts"

    event = AuditEvent.objects.get(action="incident.updated")
    assert event.actor == analyst and event.customer == customers[0]
    assert event.details["incident_id"] == incident.incident_id
    assert event.details["changes"]["status"] == "Resolved"
    assert event.details["changes"]["custom_tags"] == "ransomware, contained"
    assert event.details["api_calls"] == 4  # read back, PATCH, comment, read the result
    assert f"#{incident.incident_id}" in event.summary and "status set to Resolved" in event.summary

    page = scoped.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Saved in Defender." in page
    assert '<p class="prewrap">Contained on every device.</p>' in page
    assert "Dana Reyes &lt;analyst@partner.example&gt; via Partner Portal" in page
    assert f"analyst: Changed incident #{incident.incident_id}" in page  # its history
    # Staff's view of the customer leaves analysts' actions out (they name its incidents).
    timeline = [event.action for event in customer_timeline(customer=customers[0])]
    assert "incident.updated" not in timeline


def test_an_incident_changed_in_graph_meanwhile_is_shown_not_overwritten(
    scoped: Client, customers: list[Customer], incident_sandbox: SandboxProcess
) -> None:
    incident = _open_incident(customers[0], skip=1)
    rendered = _form(incident, status="Resolved", assigned_to="me@partner.example")
    microsoft.graph_client(customers[0]).update_incident(
        str(incident.incident_id), assigned_to="other@partner.example", status="inProgress"
    )

    response = scoped.post(f"/incidents/{incident.pk}/update/", rendered)
    assert response.status_code == 409
    page = response.content.decode()
    assert "Changed in Defender meanwhile" in page and "other@partner.example" in page

    truth = _truth(incident_sandbox, incident)
    assert (truth["assignedTo"], truth["status"]) == ("other@partner.example", "inProgress")
    incident.refresh_from_db()
    assert (incident.assigned_to, incident.status) == ("other@partner.example", "InProgress")
    assert AuditEvent.objects.filter(action="incident.conflict").count() == 1
    assert not AuditEvent.objects.filter(action="incident.updated").exists()

    retry = scoped.post(f"/incidents/{incident.pk}/update/", _form(incident, status="Resolved"))
    assert retry.status_code == 302
    assert _truth(incident_sandbox, incident)["status"] == "resolved"


def test_values_graph_already_has_send_no_patch(
    customers: list[Customer], incident_sandbox: SandboxProcess, analyst: Any
) -> None:
    incident = _open_incident(customers[0], skip=2)
    before = _truth(incident_sandbox, incident)
    result = incident_update(
        incident=incident, actor=analyst, changes=IncidentChanges(status="Active"),
        seen_last_update=incident.last_updated_at,
    )  # fmt: skip
    assert result.outcome == Outcome.UNCHANGED
    assert _truth(incident_sandbox, incident) == before
    assert AuditEvent.objects.get(action="incident.unchanged").details["api_calls"] == 1


def test_an_incident_graph_does_not_know_is_reported_not_found(
    customers: list[Customer], analyst: Any
) -> None:
    gone = IncidentFactory(customer=customers[0], incident_id=1_987_654, from_graph=True)
    result = incident_update(
        incident=gone, actor=analyst, changes=IncidentChanges(status="Resolved"),
        seen_last_update=gone.last_updated_at,
    )  # fmt: skip
    assert result.outcome == Outcome.NOT_FOUND
    assert "no longer knows this incident" in result.message
    assert AuditEvent.objects.get(action="incident.not_found").details["incident_id"] == 1_987_654


def test_a_legacy_customers_incident_is_refused_in_words_and_nothing_is_sent(
    analyst: Any, customers: list[Customer]
) -> None:
    legacy = CustomerFactory(granted_roles=["Alert.ReadWrite.All", "Incident.Read.All"])
    assert not legacy.on_graph
    incident = IncidentFactory(customer=legacy)
    result = incident_update(
        incident=incident, actor=analyst, changes=IncidentChanges(status="Resolved"),
        seen_last_update=incident.last_updated_at,
    )  # fmt: skip
    assert result.outcome == Outcome.FAILED
    assert "legacy Defender XDR API" in result.message and "Nothing was changed" in result.message
    event = AuditEvent.objects.get(action="incident.failed")
    assert event.details["api_calls"] == 0


def test_a_merged_incident_is_refused_in_words_and_does_not_stop_the_others(
    customers: list[Customer], incident_sandbox: SandboxProcess, analyst: Any
) -> None:
    merged = IncidentFactory(
        customer=customers[0], incident_id=1_987_650, status="Redirected", redirect_incident_id=7
    )
    result = incident_update(
        incident=merged, actor=analyst, changes=IncidentChanges(status="Resolved"),
        seen_last_update=merged.last_updated_at,
    )  # fmt: skip
    assert result.outcome == Outcome.FAILED
    assert "merged this incident into incident #7" in result.message

    open_one = _open_incident(customers[0], skip=7)
    refused, updated = incidents_bulk_update(
        incidents=[merged, open_one], actor=analyst, assigned_to="night@partner.example"
    )
    assert (refused.outcome, updated.outcome) == (Outcome.FAILED, Outcome.UPDATED)
    assert _truth(incident_sandbox, open_one)["assignedTo"] == "night@partner.example"


def test_an_analyst_cannot_change_another_customers_incident(
    scoped: Client, customers: list[Customer], incident_sandbox: SandboxProcess
) -> None:
    outside = _open_incident(customers[1])
    before = _truth(incident_sandbox, outside)
    response = scoped.post(f"/incidents/{outside.pk}/update/", _form(outside, status="Resolved"))
    assert response.status_code == 404
    bulk = scoped.post("/incidents/bulk/", {"ids": [outside.pk], "status": "Resolved"})
    assert bulk.status_code == 404
    assert _truth(incident_sandbox, outside) == before
    assert not AuditEvent.objects.filter(action__startswith="incident.").exists()


def test_bulk_resolves_incidents_and_reports_each(
    scoped: Client, customers: list[Customer], incident_sandbox: SandboxProcess
) -> None:
    chosen = [_open_incident(customers[0], skip=n) for n in (3, 4, 5)]
    stale = chosen[2]
    client = microsoft.graph_client(customers[0])
    client.add_incident_comment(str(stale.incident_id), "changed elsewhere")
    outside = _open_incident(customers[1], skip=1)
    before_outside = _truth(incident_sandbox, outside)

    response = scoped.post(
        "/incidents/bulk/",
        {
            "ids": [str(i.pk) for i in chosen] + [str(outside.pk)],
            "status": "Resolved",
            "classification": "FalsePositive",
            "determination": "NotMalicious",
        },
    )
    assert response.status_code == 200
    outcomes = {r.incident.pk: r.outcome for r in response.context["results"]}
    assert set(outcomes) == {i.pk for i in chosen}
    assert outcomes[stale.pk] == Outcome.CONFLICT
    for incident in chosen[:2]:
        assert outcomes[incident.pk] == Outcome.UPDATED
        truth = _truth(incident_sandbox, incident)
        assert (truth["status"], truth["classification"], truth["determination"]) == (
            "resolved", "falsePositive", "notMalicious",
        )  # fmt: skip
        incident.refresh_from_db()
        assert incident.status == "Resolved" and incident.classification == "FalsePositive"
    assert _truth(incident_sandbox, stale)["status"] != "resolved"
    assert _truth(incident_sandbox, outside) == before_outside
    page = response.content.decode()
    assert 'data-outcome="conflict"' in page and customers[1].display_name not in page
    events = AuditEvent.objects.filter(action__startswith="incident.", details__bulk=True)
    assert events.count() == 3


def test_bulk_refuses_an_empty_oversized_or_aimless_selection(scoped: Client) -> None:
    empty = scoped.post("/incidents/bulk/", {"status": "Resolved"}, follow=True)
    assert "Select at least one incident." in empty.content.decode()
    too_many = scoped.post(
        "/incidents/bulk/",
        {"ids": [str(n) for n in range(1, INCIDENT_BULK_LIMIT + 2)], "status": "Resolved"},
        follow=True,
    )
    assert f"at most {INCIDENT_BULK_LIMIT} incidents" in too_many.content.decode()
    nothing = scoped.post("/incidents/bulk/", {"ids": ["1"]}, follow=True)
    assert "Choose a status, classification, determination or assignee" in (
        nothing.content.decode()
    )
    garbled = scoped.post("/incidents/bulk/", {"ids": ["x"], "status": "Resolved"}, follow=True)
    assert "The selection is not valid" in garbled.content.decode()


def test_a_page_with_a_garbled_timestamp_is_refused(
    scoped: Client, customers: list[Customer], incident_sandbox: SandboxProcess
) -> None:
    incident = _open_incident(customers[0], skip=6)
    before = _truth(incident_sandbox, incident)
    response = scoped.post(
        f"/incidents/{incident.pk}/update/", {"seen_last_update": "yesterday", "status": "Resolved"}
    )
    assert response.status_code == 400
    assert "The page is out of date; reload it." in response.content.decode()
    assert _truth(incident_sandbox, incident) == before
