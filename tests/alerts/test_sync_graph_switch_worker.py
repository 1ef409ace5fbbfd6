"""A customer's switch from the Defender for Endpoint and XDR APIs to Microsoft Graph,
as it runs in production: real Celery workers through Redis into PostgreSQL, the
sandbox answering with its "flaky" fault profile (throttling, 5xx, dropped connections,
slow and broken pages), and the worker doing the switch killed (SIGKILL) half-way.

What must hold across the switch: every alert and incident stored from the legacy APIs
is still there, in the same row (same pk), now carrying Graph's copy; nothing is stored
twice; and the analysts' work on a row (its status, assignment, comment, audit event)
stays attached to it. The worker that switches still holds a Graph token from before
the re-consent, without Graph's roles, as a production worker would: Graph's first 403
must not be blamed on the customer's consent."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count

from partner_portal.alerts import writeback
from partner_portal.alerts.models import Alert, Incident, SyncRun, SyncStatus
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft, verification
from tenants.models import AuditEvent, Customer, CustomerStatus
from tests.alerts.conftest import differences, ground_truth, point_portal_at
from tests.alerts.factories import CustomerFactory
from tests.alerts.test_sync_graph import (
    ENDPOINT,
    graph_differences,
    graph_incident_differences,
    graph_truth,
)
from tests.alerts.worker_support import WORKER_TEST_MARKS, Cluster
from tests.factories import UserFactory
from tests.waiting import wait_until

pytestmark = [*WORKER_TEST_MARKS, pytest.mark.sandbox]

WORKER_SETTINGS = {
    "SYNC_PAGE_SIZE": "50",
    "SYNC_LOCK_SECONDS": "4",
    "CELERY_VISIBILITY_TIMEOUT": "5",
    "SYNC_MAX_BACKOFF_SECONDS": "3",
}
COMMENT = "Checked the device before the move to Graph."


def _faults(sandbox: SandboxProcess, profile: str = "flaky", **extra: float) -> None:
    """Every tenant's API calls under the named fault profile ("none": no faults)."""
    body: dict[str, Any] = {"profile": profile, **extra} if profile != "none" else {}
    sandbox.control("PUT", "/_sandbox/faults", json=body).raise_for_status()


def _doubled(model: type[Alert] | type[Incident], key: str) -> list[Any]:
    rows = model.objects.values("customer_id", key).annotate(n=Count("id"))
    return list(rows.filter(n__gt=1))


def _legacy_synced(sandbox: SandboxProcess, customer: Customer) -> bool:
    incidents_done = SyncRun.objects.filter(
        customer=customer, source="incidents", status=SyncStatus.SUCCEEDED
    ).exists()
    return incidents_done and differences(customer, ground_truth(sandbox, customer.tenant_id)) == []


def _on_graph_everywhere(sandbox: SandboxProcess, customer: Customer) -> bool:
    truth = graph_truth(sandbox, customer.tenant_id)
    return (
        graph_differences(customer, truth["alerts"]) == []
        and graph_incident_differences(customer, truth) == []
    )


def test_the_switch_to_graph_under_faults_and_a_killed_worker_loses_and_doubles_nothing(
    sandbox_factory: Any, cluster_for: Any, settings: Any
) -> None:
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=400, seed=61)
    tenant = sandbox.tenants[0]["tenant_id"]
    # The tenant consented before the partner app asked for Graph: Defender APIs only.
    sandbox.control(
        "PUT", f"/_sandbox/tenants/{tenant}/consent-scope", json={"scope": "defender"}
    ).raise_for_status()
    point_portal_at(sandbox, settings)
    try:
        _switch(sandbox, tenant, cluster_for(sandbox))
    finally:
        microsoft.reset_for_tests()


def _switch(sandbox: SandboxProcess, tenant: str, cluster: Cluster) -> None:
    customer = CustomerFactory(
        tenant_id=tenant, status=CustomerStatus.VERIFYING, sync_interval_seconds=2
    )
    # The worker verifies it, as in production: it then holds a Graph token without
    # Graph roles, issued before the re-consent below (one process, so the same one
    # runs the Graph passes).
    worker = cluster.start_worker(concurrency=1, **WORKER_SETTINGS)
    cluster.send("tenants.verify_customer", customer.pk)
    wait_until(
        lambda: Customer.objects.get(pk=customer.pk).status == CustomerStatus.ACTIVE,
        timeout=60, every=0.5, message=cluster.logs,
    )  # fmt: skip
    customer.refresh_from_db()
    assert not customer.on_graph

    # On the legacy APIs, under faults: every alert and incident mirrored.
    _faults(sandbox)
    wait_until(
        lambda: _legacy_synced(sandbox, customer),
        timeout=120, every=1, tick=cluster.dispatch, message=cluster.logs,
    )  # fmt: skip
    before = dict(Alert.objects.filter(customer=customer).values_list("alert_id", "pk"))
    incidents = dict(Incident.objects.filter(customer=customer).values_list("incident_id", "pk"))
    assert len(before) == 400 and incidents

    # An analyst works on an alert (written back through the legacy API, faults off so
    # that the one write is not the thing under test).
    _faults(sandbox, "none")
    worked = Alert.objects.filter(customer=customer, status="New").order_by("pk").first()
    assert worked is not None
    analyst = UserFactory(username="analyst-switching")
    result = writeback.alert_update(
        alert=worked,
        actor=analyst,
        changes=writeback.AlertChanges(
            status="InProgress", assigned_to="analyst@mssp.example", comment=COMMENT
        ),
        seen_last_update=worked.last_updated_at,
    )
    assert result.ok, result.message
    audit = AuditEvent.objects.get(action="alert.updated", customer=customer)

    # The admin consents again, now to Graph too; verification switches the customer.
    sandbox.control(
        "PUT", f"/_sandbox/tenants/{tenant}/consent-scope", json={"scope": "both"}
    ).raise_for_status()
    sandbox.control("POST", f"/_sandbox/tenants/{tenant}/consent").raise_for_status()
    customer = verification.customer_verify(customer_id=customer.pk)
    assert customer is not None and customer.on_graph, customer and customer.last_error_message

    # The Graph backfill runs under faults, slowed so the worker can be killed in it.
    _faults(sandbox, rate_slow=0.5, slow_seconds=0.4)
    from_graph = Alert.objects.filter(customer=customer, from_graph=True)
    wait_until(
        lambda: from_graph.exists(),
        timeout=90, every=0.1, tick=cluster.dispatch, message=cluster.logs,
    )  # fmt: skip
    cluster.kill(worker)
    still_legacy = Alert.objects.filter(customer=customer, from_graph=False).count()
    assert still_legacy > 0, "killed after the switch was done: too late to prove anything"
    assert SyncRun.objects.filter(
        customer=customer, source__startswith="graph_", status=SyncStatus.RUNNING
    ).exists(), "the killed worker should have left a Graph pass running"

    # Defender keeps raising and changing alerts meanwhile; none of that may be lost.
    _faults(sandbox, "none")
    path = f"/_sandbox/tenants/{tenant}/alerts"
    raised = sandbox.control("POST", path, json={"count": 5}).json()["ids"]
    changed = sandbox.control("PATCH", path, json={"count": 5}).json()["ids"]
    assert len(raised) == 5 and len(changed) == 5

    # A new worker, still under the fault profile, finishes the switch.
    _faults(sandbox)
    cluster.start_worker(concurrency=2, **WORKER_SETTINGS)
    wait_until(
        lambda: _on_graph_everywhere(sandbox, customer),
        timeout=180, every=2, tick=cluster.dispatch, message=cluster.logs,
    )  # fmt: skip

    # 0 duplicates, 0 losses: the same rows, each kept its pk, now Graph's.
    assert _doubled(Alert, "alert_id") == [] and _doubled(Incident, "incident_id") == []
    truth = graph_truth(sandbox, tenant)["alerts"]
    after = dict(Alert.objects.filter(customer=customer).values_list("alert_id", "pk"))
    assert {a["id"] for a in truth if a["serviceSource"] == ENDPOINT} == {*before, *raised}
    assert {i: after.get(i) for i in before} == before, "every legacy row kept its pk"
    assert len(after) == len(truth) > len(before) + len(raised), "other products' alerts too"
    now = dict(Incident.objects.filter(customer=customer).values_list("incident_id", "pk"))
    assert {i: now.get(i) for i in incidents} == incidents
    assert not Alert.objects.filter(customer=customer, from_graph=False).exists()

    # The analyst's work is on the same row, and the audit event still points at it.
    kept = Alert.objects.get(pk=worked.pk)
    assert kept.alert_id == worked.alert_id and kept.from_graph
    if worked.alert_id not in changed:  # else Defender's later change rightly wins
        assert (kept.status, kept.assigned_to) == ("InProgress", "analyst@mssp.example")
    # Sent to Defender credited to the analyst (Microsoft credits the app).
    assert any(c["comment"].endswith(f"] {COMMENT}") for c in kept.raw["comments"])
    audit.refresh_from_db()
    assert audit.details["alert_pk"] == kept.pk and audit.details["alert_id"] == kept.alert_id

    # The faults and the kill were met, and the legacy sources stopped.
    graph_runs = SyncRun.objects.filter(customer=customer, source__startswith="graph_")
    assert graph_runs.filter(error_code="worker_lost").exists()
    met = SyncRun.objects.filter(customer=customer).values_list("throttled_waits", "retries")
    assert sum(t + r for t, r in met) > 0, "the fault profile should have been met"
    switched_at = graph_runs.order_by("started_at").first()
    assert switched_at is not None
    assert not SyncRun.objects.filter(
        customer=customer, source__in=["alerts", "incidents"], started_at__gt=switched_at.started_at
    ).exists(), "no legacy pass after the switch"
