"""Shared by the Graph write-back tests: customers on Microsoft Graph bound to a sandbox's
tenants, their Graph alerts and incidents mirrored as rows, and the sandbox's Graph
ground truth (its control API, without faults or counting)."""

from __future__ import annotations

from typing import Any

from partner_portal.alerts.sync.incident_upsert import incidents_upsert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.defender import parse_graph_alert, parse_graph_incident
from partner_portal.sandbox.testing import SandboxProcess
from tenants.models import Customer, CustomerStatus
from tests.alerts.factories import CustomerFactory

ENDPOINT = "microsoftDefenderForEndpoint"


def graph_truth(sandbox: SandboxProcess, tenant_id: str) -> dict[str, Any]:
    response = sandbox.control("GET", f"/_sandbox/tenants/{tenant_id}/graph/ground-truth")
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def graph_alert_truth(sandbox: SandboxProcess, customer: Customer, alert_id: str) -> dict[str, Any]:
    alerts = graph_truth(sandbox, str(customer.tenant_id))["alerts"]
    return next(a for a in alerts if a["id"] == alert_id)


def graph_incident_truth(
    sandbox: SandboxProcess, customer: Customer, incident_id: int
) -> dict[str, Any]:
    incidents = graph_truth(sandbox, str(customer.tenant_id))["incidents"]
    return next(i for i in incidents if i["id"] == str(incident_id))


def mirror_graph(sandbox: SandboxProcess, customer: Customer) -> None:
    """Store the tenant's Graph alerts and incidents as a Graph sync would."""
    truth = graph_truth(sandbox, str(customer.tenant_id))
    alerts = [parse_graph_alert(a) for a in truth["alerts"]]
    alerts_upsert(customer_id=customer.pk, records=alerts)
    by_incident: dict[str, list[dict[str, Any]]] = {}
    for alert in truth["alerts"]:
        by_incident.setdefault(alert["incidentId"], []).append(alert)
    incidents = [
        parse_graph_incident({**i, "alerts": by_incident.get(i["id"], [])})
        for i in truth["incidents"]
    ]
    incidents_upsert(customer_id=customer.pk, records=incidents)


def graph_customer(
    sandbox: SandboxProcess, tenant: dict[str, Any], roles: list[str] | None = None
) -> Customer:
    """An active customer on Graph for `tenant`, granted `roles` (the tenant's own by
    default), its Graph alerts and incidents mirrored."""
    customer = CustomerFactory(
        display_name=tenant["name"],
        tenant_id=tenant["tenant_id"],
        status=CustomerStatus.ACTIVE,
        granted_roles=sorted(roles if roles is not None else tenant["roles"]),
    )
    assert customer.on_graph
    mirror_graph(sandbox, customer)
    return customer
