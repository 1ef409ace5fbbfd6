"""The sync on a worker in Celery's threads pool: many passes at once in one process, each
thread with its own database connection and HTTP session, one token provider and the
Redis locks shared by all of them (README, "How it scales")."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Count

from partner_portal.alerts.models import Alert, SyncRun, SyncStatus
from tenants.models import Customer
from tests.alerts.conftest import differences, ground_truth
from tests.alerts.worker_support import WORKER_TEST_MARKS, Cluster
from tests.waiting import wait_until

pytestmark = [*WORKER_TEST_MARKS, pytest.mark.sandbox]


def _mirrored(sandbox: Any, customers: list[Customer]) -> bool:
    return all(differences(c, ground_truth(sandbox, c.tenant_id)) == [] for c in customers)


def test_a_threads_pool_worker_syncs_customers_to_ground_truth(
    sandbox_factory: Any, bind_customers: Any, cluster_for: Any
) -> None:
    sandbox = sandbox_factory(tenants=6, consented=6, alerts_per_tenant=300, seed=24)
    customers = bind_customers(sandbox, collect_incidents=False, sync_interval_seconds=2)
    cluster: Cluster = cluster_for(sandbox)
    # Pages of 100: each backfill is several pages, so passes overlap in the threads.
    worker = cluster.start_worker(
        concurrency=8, pool="threads", SYNC_PAGE_SIZE="100", SYNC_EVIDENCE_SEVERITIES=""
    )
    cluster.start_beat()
    wait_until(lambda: _mirrored(sandbox, customers), timeout=90, every=1, message=cluster.logs)

    # Then the regular passes: new and changed alerts of two customers come in.
    changed: dict[str, list[str]] = {}
    for customer in customers[:2]:
        tenant = customer.tenant_id
        sandbox.control(
            "PATCH", f"/_sandbox/tenants/{tenant}/alerts", json={"count": 3}
        ).raise_for_status()
        answer = sandbox.control("POST", f"/_sandbox/tenants/{tenant}/alerts", json={"count": 4})
        changed[tenant] = answer.json()["ids"]
    wait_until(lambda: _mirrored(sandbox, customers), timeout=60, every=1, message=cluster.logs)
    assert Alert.objects.count() == 6 * 300 + 2 * 4
    assert all(Alert.objects.filter(alert_id__in=ids).count() == 4 for ids in changed.values())

    doubled = Alert.objects.values("customer_id", "alert_id").annotate(n=Count("id"))
    assert not doubled.filter(n__gt=1).exists()
    failed = SyncRun.objects.filter(status=SyncStatus.FAILED)
    assert not failed.exists(), list(failed.values("error_code", "error_message"))
    # One process ran them, in threads, and backfills ran side by side in it.
    log = (cluster.tmp / "worker0.log").read_text(errors="replace")
    assert "concurrency: 8 (thread)" in log
    assert worker.poll() is None
    backfills = list(SyncRun.objects.filter(backfill=True).values_list("started_at", "finished_at"))
    assert len(backfills) == len(customers)
    assert any(
        a_start < b_end and b_start < a_end
        for i, (a_start, a_end) in enumerate(backfills)
        for b_start, b_end in backfills[i + 1 :]
    ), "no two backfills ran at the same time"
