"""The sync against the sandbox: backfill, increments, idempotence, failures."""

from __future__ import annotations

import time
from typing import Any

import pytest

from partner_portal.alerts.models import Alert, Incident, SyncRun, SyncState, SyncStatus
from partner_portal.alerts.sync import passes
from tenants.models import CustomerStatus
from tests.alerts.conftest import differences, ground_truth
from tests.waiting import wait_for_next_second

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def test_backfill_mirrors_every_alert_and_incident(
    sandbox_factory: Any, bind_customers: Any
) -> None:
    sandbox = sandbox_factory(tenants=2, consented=2, alerts_per_tenant=300, seed=3)
    customers = bind_customers(sandbox)
    for customer in customers:
        run = passes.sync_source(customer_id=customer.pk, source="alerts")
        assert run is not None and run.status == SyncStatus.SUCCEEDED, run and run.error_message
        assert run.backfill and run.created == 300 and run.updated == 0
        assert differences(customer, ground_truth(sandbox, customer.tenant_id)) == []
        incidents = passes.sync_source(customer_id=customer.pk, source="incidents")
        assert incidents is not None and incidents.status == SyncStatus.SUCCEEDED
        assert Incident.objects.filter(customer=customer).count() == incidents.created > 0


def test_second_pass_picks_up_new_and_changed_alerts_only(
    sandbox_factory: Any, bind_customers: Any, settings: Any
) -> None:
    settings.SYNC_EVIDENCE_SEVERITIES = []
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=100, seed=4)
    (customer,) = bind_customers(sandbox)
    passes.sync_source(customer_id=customer.pk, source="alerts")
    tenant = customer.tenant_id
    # Changed first, then created: the sandbox picks the alerts to change among all of the
    # tenant's, so the other order could change a new one and count it once, as created.
    sandbox.control(
        "PATCH", f"/_sandbox/tenants/{tenant}/alerts", json={"count": 3}
    ).raise_for_status()
    sandbox.control(
        "POST", f"/_sandbox/tenants/{tenant}/alerts", json={"count": 5}
    ).raise_for_status()
    run = passes.sync_source(customer_id=customer.pk, source="alerts")
    assert run is not None and not run.backfill
    assert (run.created, run.updated) == (5, 3)
    assert run.api_calls == 1
    assert Alert.objects.filter(customer=customer).count() == 105
    assert differences(customer, ground_truth(sandbox, tenant)) == []
    again = passes.sync_source(customer_id=customer.pk, source="alerts")
    assert again is not None and (again.created, again.updated, again.api_calls) == (0, 0, 1)
    assert again.token_source == "cache"


def test_revoked_consent_marks_the_customer_and_stops_its_syncs(
    sandbox_factory: Any, bind_customers: Any
) -> None:
    sandbox = sandbox_factory(tenants=2, consented=2, alerts_per_tenant=20, seed=5)
    revoked, other = bind_customers(sandbox)
    first = passes.sync_source(customer_id=revoked.pk, source="alerts")
    token_cached = time.time()
    assert first is not None and first.status == SyncStatus.SUCCEEDED
    # The sandbox compares in whole seconds: revoke in a later one than the cached
    # token's issue.
    wait_for_next_second(token_cached)
    sandbox.control("DELETE", f"/_sandbox/tenants/{revoked.tenant_id}/consent").raise_for_status()
    run = passes.sync_source(customer_id=revoked.pk, source="alerts")
    assert run is not None and run.status == SyncStatus.FAILED
    assert run.error_code == "AADSTS700016"
    revoked.refresh_from_db()
    assert revoked.status == CustomerStatus.CONSENT_REVOKED
    assert passes.sync_source(customer_id=revoked.pk, source="alerts") is None
    ok = passes.sync_source(customer_id=other.pk, source="alerts")
    assert ok is not None and ok.status == SyncStatus.SUCCEEDED


def test_failed_pass_keeps_the_watermark(sandbox_factory: Any, bind_customers: Any) -> None:
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=20, seed=6)
    (customer,) = bind_customers(sandbox)
    passes.sync_source(customer_id=customer.pk, source="alerts")
    watermark = SyncState.objects.get(customer=customer, source="alerts").watermark
    sandbox.control("PUT", "/_sandbox/faults", json={"rate_503": 1.0}).raise_for_status()
    run = passes.sync_source(customer_id=customer.pk, source="alerts")
    assert run is not None and run.status == SyncStatus.FAILED
    state = SyncState.objects.get(customer=customer, source="alerts")
    assert state.watermark == watermark and state.consecutive_failures == 1
    assert SyncRun.objects.filter(customer=customer).count() == 2


def test_evidence_is_fetched_for_new_alerts_of_chosen_severities(
    sandbox_factory: Any, bind_customers: Any, settings: Any
) -> None:
    settings.SYNC_EVIDENCE_SEVERITIES = ["High"]
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=120, seed=8)
    (customer,) = bind_customers(sandbox)
    run = passes.sync_source(customer_id=customer.pk, source="alerts")
    assert run is not None and run.status == SyncStatus.SUCCEEDED
    truth = ground_truth(sandbox, customer.tenant_id)
    high = {i for i, a in truth.items() if a["severity"] == "High" and a.get("evidence")}
    assert high, "the generated data should hold High alerts with evidence"
    rows = Alert.objects.filter(customer=customer)
    assert {a.alert_id for a in rows if a.has_evidence} == high
    for alert in rows.filter(has_evidence=True):
        assert alert.raw["evidence"] == truth[alert.alert_id]["evidence"]
    assert run.api_calls == 1 + -(-len(high) // 20)


def test_a_pass_past_its_time_limit_stops_after_its_page_and_the_next_carries_on(
    sandbox_factory: Any, bind_customers: Any, settings: Any
) -> None:
    # The pass's own limit, which a threads-pool worker (no task time limits) relies on:
    # 30 s of grace from SYNC_TASK_TIME_LIMIT leaves none here, so the first page is the
    # last.
    settings.SYNC_EVIDENCE_SEVERITIES = []
    settings.SYNC_PAGE_SIZE = 100
    settings.SYNC_TASK_TIME_LIMIT = 30
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=300, seed=9)
    (customer,) = bind_customers(sandbox)
    run = passes.sync_source(customer_id=customer.pk, source="alerts")
    assert run is not None and run.status == SyncStatus.FAILED
    assert (run.error_code, run.pages, run.fetched) == ("time_limit", 1, 100)
    assert "time limit" in run.error_message
    state = SyncState.objects.get(customer=customer, source="alerts")
    assert state.watermark is None and state.consecutive_failures == 1
    settings.SYNC_TASK_TIME_LIMIT = 900
    again = passes.sync_source(customer_id=customer.pk, source="alerts")
    assert again is not None and again.status == SyncStatus.SUCCEEDED
    assert differences(customer, ground_truth(sandbox, customer.tenant_id)) == []
