"""The sync of customers on Microsoft Graph against the sandbox: every Defender product's
alerts mirrored, and a customer that moves from the Defender for Endpoint API to Graph
keeping every row, its pk and the analysts' work, with nothing doubled."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count

from partner_portal.alerts import writeback
from partner_portal.alerts.models import Alert, Incident, SyncStatus
from partner_portal.alerts.sync import sources
from partner_portal.alerts.sync.passes import sync_source
from partner_portal.defender import parse_timestamp
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft, verification
from tenants.models import AuditEvent, Customer, CustomerStatus
from tests.alerts.conftest import ground_truth, point_portal_at
from tests.alerts.factories import CustomerFactory
from tests.factories import UserFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

ENDPOINT = "microsoftDefenderForEndpoint"


def graph_truth(sandbox: SandboxProcess, tenant_id: str) -> dict[str, Any]:
    response = sandbox.control("GET", f"/_sandbox/tenants/{tenant_id}/graph/ground-truth")
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def _pascal(value: str | None, *, unset: bool = False) -> str:
    """Graph's camelCase as the portal's vocabularies spell it."""
    if not value or (unset and value == "unknown"):
        return ""
    return "UnSpecified" if value == "unknown" else value[0].upper() + value[1:]


def column_differences(key: object, row: Alert | Incident, expected: dict[str, Any]) -> list[str]:
    """Each column of `row` that does not hold its `expected` value, named by `key`."""
    return [
        f"{key}.{column}: {getattr(row, column)!r} != {value!r}"
        for column, value in expected.items()
        if getattr(row, column) != value
    ]


def graph_differences(customer: Customer, alerts: list[dict[str, Any]]) -> list[str]:
    """Every way the customer's rows differ from Graph's alerts (empty when equal)."""
    truth = {a["id"]: a for a in alerts}
    rows = {a.alert_id: a for a in Alert.objects.filter(customer=customer)}
    problems = []
    if set(truth) != set(rows):
        missing, extra = set(truth) - set(rows), set(rows) - set(truth)
        problems.append(f"{len(missing)} missing, {len(extra)} unexpected")
    for alert_id in set(truth) & set(rows):
        api, row = truth[alert_id], rows[alert_id]
        expected = {
            "title": api["title"],
            "severity": _pascal(api["severity"]),
            "status": _pascal(api["status"]),
            "classification": _pascal(api["classification"], unset=True),
            "determination": _pascal(api["determination"], unset=True),
            "category": api["category"],
            "detection_source": api["detectionSource"],
            "assigned_to": api["assignedTo"] or "",
            "service_source": api["serviceSource"],
            "alert_web_url": api["alertWebUrl"],
            "incident_web_url": api["incidentWebUrl"],
            "incident_id": int(api["incidentId"]),
            "system_tags": api["systemTags"],
            "mitre_techniques": api["mitreTechniques"],
            "created_at": parse_timestamp(api["createdDateTime"]),
            "last_updated_at": parse_timestamp(api["lastUpdateDateTime"]),
            "resolved_at": parse_timestamp(api["resolvedDateTime"]),
            "has_evidence": bool(api["evidence"]),
            "from_graph": True,
            "raw": api,
        }
        problems += column_differences(alert_id, row, expected)
    return problems


def _enabled(customer: Customer) -> set[str]:
    customer.refresh_from_db()
    return {s.name for s in sources.all_sources() if s.enabled_for(customer)}


def test_a_customer_on_graph_mirrors_every_products_alerts(
    sandbox_factory: Any, bind_customers: Any
) -> None:
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=150, seed=41)
    (customer,) = bind_customers(sandbox, on_graph=True, collect_incidents=False)
    assert _enabled(customer) == {"graph_alerts"}

    run = sync_source(customer_id=customer.pk, source="graph_alerts")
    assert run is not None and run.status == SyncStatus.SUCCEEDED, run and run.error_message

    truth = graph_truth(sandbox, customer.tenant_id)["alerts"]
    assert graph_differences(customer, truth) == []
    products = set(Alert.objects.filter(customer=customer).values_list("service_source", flat=True))
    assert {ENDPOINT, "microsoftDefenderForOffice365", "microsoftDefenderForIdentity"} <= products
    assert run.created == len(truth) and run.token_source == "identity_provider"

    # Changes in Defender arrive with the next pass; a repeat writes nothing more.
    tenant = customer.tenant_id
    sandbox.control("PATCH", f"/_sandbox/tenants/{tenant}/alerts", json={"count": 3})
    sandbox.control("POST", f"/_sandbox/tenants/{tenant}/alerts", json={"count": 4})
    second = sync_source(customer_id=customer.pk, source="graph_alerts")
    assert second is not None and second.status == SyncStatus.SUCCEEDED
    assert (second.created, second.updated) == (4, 3)
    assert graph_differences(customer, graph_truth(sandbox, tenant)["alerts"]) == []
    assert sync_source(customer_id=customer.pk, source="alerts") is None  # not its API


def test_a_customer_moving_to_graph_keeps_its_rows_and_the_analysts_work(
    sandbox_factory: Any, settings: Any
) -> None:
    sandbox = sandbox_factory(tenants=1, consented=0, alerts_per_tenant=5, seed=42)
    created = sandbox.control(
        "POST",
        "/_sandbox/tenants",
        json={"alerts": 120, "consented": True, "consent_scope": "defender"},
    )
    created.raise_for_status()
    tenant = created.json()["tenant_id"]
    point_portal_at(sandbox, settings)
    try:
        _move_to_graph(sandbox, tenant)
    finally:
        microsoft.reset_for_tests()


def _move_to_graph(sandbox: SandboxProcess, tenant: str) -> None:
    customer = CustomerFactory(tenant_id=tenant, status=CustomerStatus.VERIFYING)
    customer = verification.customer_verify(customer_id=customer.pk)
    assert customer is not None and customer.status == CustomerStatus.ACTIVE
    assert not customer.on_graph and _enabled(customer) == {"alerts", "incidents"}

    # On the Defender APIs: every alert and incident stored, and an analyst's work on one.
    assert sync_source(customer_id=customer.pk, source="alerts").status == SyncStatus.SUCCEEDED
    assert sync_source(customer_id=customer.pk, source="incidents").status == "succeeded"
    incidents = dict(Incident.objects.filter(customer=customer).values_list("incident_id", "pk"))
    assert incidents
    before = dict(Alert.objects.filter(customer=customer).values_list("alert_id", "pk"))
    assert set(before) == set(ground_truth(sandbox, tenant))
    worked = Alert.objects.filter(customer=customer, status="New").order_by("pk").first()
    assert worked is not None
    analyst = UserFactory(username="analyst-moving")
    result = writeback.alert_update(
        alert=worked,
        actor=analyst,
        changes=writeback.AlertChanges(status="InProgress", comment="Looked at before the move."),
        seen_last_update=worked.last_updated_at,
    )
    assert result.ok, result.message

    # The admin consents again, now to Graph too; verification switches the customer.
    sandbox.control("PUT", f"/_sandbox/tenants/{tenant}/consent-scope", json={"scope": "both"})
    sandbox.control("POST", f"/_sandbox/tenants/{tenant}/consent").raise_for_status()
    customer = verification.customer_verify(customer_id=customer.pk)
    assert customer is not None and customer.on_graph, customer and customer.last_error_message
    assert _enabled(customer) == {"graph_alerts", "graph_incidents"}
    assert sync_source(customer_id=customer.pk, source="alerts") is None
    assert sync_source(customer_id=customer.pk, source="incidents") is None

    run = sync_source(customer_id=customer.pk, source="graph_alerts")
    assert run is not None and run.status == SyncStatus.SUCCEEDED, run and run.error_message

    truth = graph_truth(sandbox, tenant)["alerts"]
    assert graph_differences(customer, truth) == []
    after = dict(Alert.objects.filter(customer=customer).values_list("alert_id", "pk"))
    endpoint = {a["id"] for a in truth if a["serviceSource"] == ENDPOINT}
    assert endpoint == set(before), "the same endpoint alerts, none lost"
    assert {i: after[i] for i in before} == before, "every row kept its pk"
    assert len(after) == len(truth) > len(before), "other products' alerts arrived too"
    assert run.created == len(truth) - len(before) and run.updated == len(before)
    doubled = Alert.objects.values("customer_id", "alert_id").annotate(n=Count("id"))
    assert not doubled.filter(n__gt=1).exists()

    kept = Alert.objects.get(pk=worked.pk)
    assert kept.status == "InProgress" and kept.from_graph
    texts = [c["comment"] for c in kept.raw["comments"]]
    assert "[analyst-moving@partner.example via Partner Portal] Looked at before the move." in texts
    event = AuditEvent.objects.get(action="alert.updated", customer=customer)
    assert event.details["alert_pk"] == kept.pk and event.details["alert_id"] == kept.alert_id

    # Incidents move the same way: the same rows, now Graph's, spanning every product.
    moved = sync_source(customer_id=customer.pk, source="graph_incidents")
    assert moved is not None and moved.status == SyncStatus.SUCCEEDED, moved.error_message
    assert graph_incident_differences(customer, graph_truth(sandbox, tenant)) == []
    now = dict(Incident.objects.filter(customer=customer).values_list("incident_id", "pk"))
    assert {i: now[i] for i in incidents} == incidents
    assert moved.updated == len(incidents) and moved.created == len(now) - len(incidents)


def graph_incident_differences(customer: Customer, truth: dict[str, Any]) -> list[str]:
    """Every way the customer's incidents differ from Graph's (empty when equal)."""
    incidents = {int(i["id"]): i for i in truth["incidents"]}
    members: dict[int, set[str]] = {}
    for alert in truth["alerts"]:
        members.setdefault(int(alert["incidentId"]), set()).add(alert["id"])
    rows = {i.incident_id: i for i in Incident.objects.filter(customer=customer)}
    problems = []
    if set(incidents) != set(rows):
        problems.append(f"incidents {sorted(set(incidents) ^ set(rows))[:5]} differ")
    for incident_id in set(incidents) & set(rows):
        api, row = incidents[incident_id], rows[incident_id]
        redirect = api["redirectIncidentId"]
        expected = {
            "name": api["displayName"],
            "status": _pascal(api["status"]),
            "severity": _pascal(api["severity"]),
            "classification": _pascal(api["classification"], unset=True),
            "determination": _pascal(api["determination"], unset=True),
            "assigned_to": api["assignedTo"] or "",
            "tags": api["customTags"],
            "custom_tags": api["customTags"],
            "system_tags": api["systemTags"],
            "redirect_incident_id": int(redirect) if redirect else None,
            "incident_web_url": api["incidentWebUrl"],
            "created_at": parse_timestamp(api["createdDateTime"]),
            "last_updated_at": parse_timestamp(api["lastUpdateDateTime"]),
            "from_graph": True,
            "raw": api,
        }
        problems += column_differences(incident_id, row, expected)
        if set(row.alert_ids) != members.get(incident_id, set()):
            problems.append(f"{incident_id}.alert_ids differ")
    return problems


def test_a_customer_on_graph_mirrors_its_incidents_merged_ones_included(
    sandbox_factory: Any, bind_customers: Any
) -> None:
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=120, seed=43)
    (customer,) = bind_customers(sandbox, on_graph=True)
    assert _enabled(customer) == {"graph_alerts", "graph_incidents"}

    run = sync_source(customer_id=customer.pk, source="graph_incidents")
    assert run is not None and run.status == SyncStatus.SUCCEEDED, run and run.error_message
    truth = graph_truth(sandbox, customer.tenant_id)
    assert graph_incident_differences(customer, truth) == []
    merged = Incident.objects.filter(customer=customer, status="Redirected")
    assert merged.exists() and all(i.redirect_incident_id for i in merged)
    spanning = [
        i for i in Incident.objects.filter(customer=customer) if i.name.startswith("Multi-stage")
    ]
    assert spanning, "incidents spanning several products arrive whole"

    # An incident resolved and tagged in Defender comes back with the next pass.
    target = next(i for i in truth["incidents"] if i["status"] == "active")["id"]
    changed = microsoft.graph_client(customer).update_incident(
        target, status="resolved", custom_tags=["contained"]
    )
    assert changed.status == "resolved"
    second = sync_source(customer_id=customer.pk, source="graph_incidents")
    assert second is not None and second.status == SyncStatus.SUCCEEDED
    assert second.updated >= 1 and second.created == 0
    row = Incident.objects.get(customer=customer, incident_id=int(target))
    assert (row.status, row.custom_tags) == ("Resolved", ["contained"])
    assert graph_incident_differences(customer, graph_truth(sandbox, customer.tenant_id)) == []
