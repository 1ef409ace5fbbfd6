"""The sync as it runs in production: real Celery workers (and beat) through Redis, into
PostgreSQL, against the sandbox, including faults, a killed worker and a Redis restart."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from django.db.models import Count
from django.utils import timezone

from partner_portal.alerts.models import Alert, SyncRun, SyncState, SyncStatus
from tenants.models import Customer, CustomerStatus
from tests.alerts.conftest import differences, ground_truth
from tests.alerts.worker_support import WORKER_TEST_MARKS, Cluster
from tests.waiting import wait_for_next_second, wait_until

pytestmark = [*WORKER_TEST_MARKS, pytest.mark.sandbox]


def _alert_count(customer: Customer) -> int:
    return Alert.objects.filter(customer=customer).count()


def _all_equal(sandbox: Any, customers: list[Customer]) -> bool:
    return all(differences(c, ground_truth(sandbox, c.tenant_id)) == [] for c in customers)


def _no_duplicates() -> bool:
    doubled = Alert.objects.values("customer_id", "alert_id").annotate(n=Count("id"))
    return not doubled.filter(n__gt=1).exists()


def _mde_stats(sandbox: Any, tenant_id: str) -> dict[str, Any]:
    response = sandbox.control("GET", f"/_sandbox/stats?tenant={tenant_id}")
    response.raise_for_status()
    stats: dict[str, Any] = response.json()
    return stats


@pytest.mark.timeout(900)  # past the suite's 300 s: its wait below may take 600
def test_beat_drives_a_backfill_of_20_customers_by_2000_alerts_to_ground_truth(
    sandbox_factory: Any, bind_customers: Any, cluster_for: Any
) -> None:
    sandbox = sandbox_factory(
        tenants=20, consented=20, alerts_per_tenant=2000, seed=21, no_rate_limit=True
    )
    customers = bind_customers(sandbox, collect_incidents=False, sync_interval_seconds=30)
    cluster: Cluster = cluster_for(sandbox)
    cluster.start_worker(concurrency=4)
    cluster.start_beat()

    def done() -> bool:
        finished = SyncRun.objects.filter(source="alerts", status=SyncStatus.SUCCEEDED)
        return finished.values("customer_id").distinct().count() == len(customers)

    # 40,000 alerts through four processes: about a minute on a quiet machine, but a
    # 2,000-alert pass took 80 s at load 30, so the bound leaves room for five such rounds.
    wait_until(done, timeout=600, every=1, message=cluster.logs)
    assert Alert.objects.count() == 20 * 2000
    assert _no_duplicates()
    for customer in customers:
        assert differences(customer, ground_truth(sandbox, customer.tenant_id)) == []
    failed = SyncRun.objects.filter(status=SyncStatus.FAILED)
    assert not failed.exists(), list(failed.values("error_code", "error_message"))


def test_changes_appear_within_one_interval_and_an_idle_customer_costs_one_call(
    sandbox_factory: Any, bind_customers: Any, cluster_for: Any
) -> None:
    interval = 4
    sandbox = sandbox_factory(tenants=2, consented=2, alerts_per_tenant=200, seed=22)
    busy, idle = bind_customers(sandbox, collect_incidents=False, sync_interval_seconds=interval)
    cluster: Cluster = cluster_for(sandbox)
    cluster.start_worker(concurrency=2)
    cluster.start_beat()
    # Backfilled, and no pass of the idle customer in flight: a pass that reads its last
    # (empty) page after the counters are reset would be counted without being a cycle.
    wait_until(
        lambda: (
            _alert_count(busy) == 200
            and _alert_count(idle) == 200
            and not SyncRun.objects.filter(customer=idle, status=SyncStatus.RUNNING).exists()
        ),
        timeout=60,
        message=cluster.logs,
    )
    since = timezone.now()
    idle_before = SyncState.objects.get(customer=idle, source="alerts").idle_passes
    sandbox.control("POST", "/_sandbox/stats/reset").raise_for_status()
    counted_from = time.time()
    tenant = busy.tenant_id
    new_ids = sandbox.control(
        "POST", f"/_sandbox/tenants/{tenant}/alerts", json={"count": 5}
    ).json()["ids"]
    changed = sandbox.control(
        "PATCH", f"/_sandbox/tenants/{tenant}/alerts", json={"count": 3}
    ).json()["ids"]
    truth = ground_truth(sandbox, tenant)

    def mirrored() -> bool:
        rows = {a.alert_id: a for a in Alert.objects.filter(customer=busy)}
        from partner_portal.defender import parse_timestamp

        return all(i in rows for i in new_ids) and all(
            rows[i].last_updated_at == parse_timestamp(truth[i]["lastUpdateTime"]) for i in changed
        )

    # One interval, plus beat's dispatch period and the pass itself.
    wait_until(mirrored, timeout=interval + 3, every=0.2, message=cluster.logs)
    assert time.time() - counted_from <= interval + 3
    assert differences(busy, truth) == []

    # The idle customer goes through several cycles, within three intervals: idle passes,
    # counted on its sync state, without a row each.
    idle_state = SyncState.objects.filter(customer=idle, source="alerts")
    wait_until(
        lambda: idle_state.get().idle_passes >= idle_before + 2,
        timeout=3 * interval,
        every=0.2,
        message=cluster.logs,
    )
    state = idle_state.get()
    cycles = state.idle_passes - idle_before
    assert state.last_checked_at is not None and state.last_checked_at > since
    assert not SyncRun.objects.filter(customer=idle, started_at__gte=since).exists()
    stats = _mde_stats(sandbox, idle.tenant_id)
    assert stats["token_requests"] == 0
    # One call per cycle; at most one more from a pass that beat started in the instant
    # between the wait above and `since`.
    assert cycles <= stats["apis"]["alerts"]["calls_total"] <= cycles + 1


def test_under_faults_the_database_converges_and_no_tenant_passes_100_calls_a_minute(
    sandbox_factory: Any, bind_customers: Any, cluster_for: Any
) -> None:
    sandbox = sandbox_factory(tenants=4, consented=4, alerts_per_tenant=1500, seed=23)
    customers = bind_customers(sandbox, collect_incidents=False, sync_interval_seconds=3)
    sandbox.control(
        "PUT",
        "/_sandbox/faults",
        json={
            "rate_429": 0.05,
            "rate_429_no_retry_after": 0.05,
            "rate_503": 0.05,
            "rate_drop": 0.01,
            "rate_malformed": 0.01,
            "retry_after_seconds": 1,
        },
    ).raise_for_status()
    cluster: Cluster = cluster_for(sandbox)
    cluster.start_worker(concurrency=4, SYNC_PAGE_SIZE="250")
    cluster.start_beat()
    # Changes keep arriving while the backfill runs: each round waits for the sync to
    # have written more rows since the round before.
    written = 0
    for round_ in range(3):
        written = wait_until(
            _more_alerts_than(written), timeout=60, every=0.2, message=cluster.logs
        )
        for customer in customers[: round_ + 2]:
            path = f"/_sandbox/tenants/{customer.tenant_id}/alerts"
            sandbox.control("POST", path, json={"count": 10}).raise_for_status()
            sandbox.control("PATCH", path, json={"count": 10}).raise_for_status()
    wait_until(lambda: _all_equal(sandbox, customers), timeout=180, every=3, message=cluster.logs)
    assert _no_duplicates()
    throttled = sum(SyncRun.objects.values_list("throttled_waits", flat=True))
    retried = sum(SyncRun.objects.values_list("retries", flat=True))
    assert throttled > 0 and retried > 0, "the faults should have been met"
    for customer in customers:
        per_minute = _mde_stats(sandbox, customer.tenant_id)["apis"]["alerts"]
        assert per_minute["max_calls_per_minute"] <= 100, per_minute


def _more_alerts_than(count: int) -> Callable[[], int]:
    """A check for `wait_until`: the number of alert rows, once it exceeds `count`."""

    def more() -> int:
        now = Alert.objects.count()
        return now if now > count else 0

    return more


def _slow(sandbox: Any, seconds: float) -> None:
    faults = {"rate_slow": 1.0, "slow_seconds": seconds} if seconds else {}
    sandbox.control("PUT", "/_sandbox/faults", json=faults).raise_for_status()


def test_a_worker_killed_mid_backfill_is_replaced_and_the_database_converges(
    sandbox_factory: Any, bind_customers: Any, cluster_for: Any
) -> None:
    sandbox = sandbox_factory(
        tenants=2, consented=2, alerts_per_tenant=2000, seed=24, no_rate_limit=True
    )
    customers = bind_customers(sandbox, collect_incidents=False, sync_interval_seconds=3)
    _slow(sandbox, 0.3)
    cluster: Cluster = cluster_for(sandbox)
    settings = {"SYNC_PAGE_SIZE": "100", "SYNC_LOCK_SECONDS": "4", "CELERY_VISIBILITY_TIMEOUT": "5"}
    worker = cluster.start_worker(concurrency=2, **settings)
    cluster.dispatch()
    wait_until(
        lambda: all(_alert_count(c) >= 300 for c in customers),
        timeout=60,
        message=cluster.logs,
    )
    cluster.kill(worker)
    killed_at = timezone.now()
    assert any(_alert_count(c) < 2000 for c in customers), "killed too late to prove anything"
    assert SyncRun.objects.filter(status=SyncStatus.RUNNING).exists()

    _slow(sandbox, 0)
    cluster.start_worker(concurrency=2, **settings)
    wait_until(
        lambda: _all_equal(sandbox, customers),
        timeout=90,
        every=2,
        tick=cluster.dispatch,
        message=cluster.logs,
    )
    assert _no_duplicates()
    lost = SyncRun.objects.filter(error_code="worker_lost")
    assert lost.exists(), "the run the killed worker left behind should be closed"
    left = SyncRun.objects.filter(status=SyncStatus.RUNNING, started_at__lt=killed_at)
    assert not left.exists()


def test_redis_restarted_during_a_run_the_worker_carries_on_and_the_database_converges(
    sandbox_factory: Any, bind_customers: Any, cluster_for: Any, private_redis: Any
) -> None:
    sandbox = sandbox_factory(
        tenants=2, consented=2, alerts_per_tenant=2000, seed=25, no_rate_limit=True
    )
    customers = bind_customers(sandbox, collect_incidents=False, sync_interval_seconds=3)
    _slow(sandbox, 0.3)
    cluster: Cluster = cluster_for(sandbox)
    worker = cluster.start_worker(concurrency=2, SYNC_PAGE_SIZE="100")
    cluster.dispatch()
    wait_until(
        lambda: all(_alert_count(c) >= 300 for c in customers),
        timeout=60,
        message=cluster.logs,
    )
    private_redis.stop()
    # Redis comes back once the worker has felt it gone, not after a guessed pause.
    wait_until(
        lambda: any(
            "Connection to broker lost" in log.read_text(errors="replace")
            for log in cluster.tmp.glob("worker*.log")
        ),
        timeout=30, every=0.1, message=cluster.logs,
    )  # fmt: skip
    private_redis.start()
    _slow(sandbox, 0)
    wait_until(
        lambda: _all_equal(sandbox, customers),
        timeout=120,
        every=2,
        tick=cluster.dispatch,
        message=cluster.logs,
    )
    assert worker.poll() is None, "the worker should have survived the restart"
    assert _no_duplicates()


def test_revoked_consent_marks_that_customer_within_one_cycle_and_others_carry_on(
    sandbox_factory: Any, bind_customers: Any, cluster_for: Any
) -> None:
    interval = 3
    sandbox = sandbox_factory(tenants=2, consented=2, alerts_per_tenant=100, seed=26)
    revoked, other = bind_customers(
        sandbox, collect_incidents=False, sync_interval_seconds=interval
    )
    cluster: Cluster = cluster_for(sandbox)
    cluster.start_worker(concurrency=2)
    cluster.start_beat()
    # Consent is removed while the portal holds a valid cached token for the tenant.
    wait_until(
        lambda: SyncRun.objects.filter(customer=revoked, status=SyncStatus.SUCCEEDED).exists(),
        timeout=30,
        message=cluster.logs,
    )
    # The token that pass cached was issued by now; the sandbox compares its "iat" in
    # whole seconds, so revoke in a later second.
    wait_for_next_second(time.time())
    sandbox.control("DELETE", f"/_sandbox/tenants/{revoked.tenant_id}/consent").raise_for_status()

    def marked() -> bool:
        revoked.refresh_from_db()
        return revoked.status == CustomerStatus.CONSENT_REVOKED

    wait_until(marked, timeout=interval + 5, every=0.2, message=cluster.logs)
    failed = SyncRun.objects.filter(customer=revoked, status=SyncStatus.FAILED)
    assert failed.exists() and failed.first().error_code == "AADSTS700016"
    runs_when_marked = SyncRun.objects.filter(customer=revoked).count()
    # The other customer's passes find nothing new: counted on its state, not as rows.
    other_state = SyncState.objects.filter(customer=other, source="alerts")
    other_before = other_state.get().idle_passes
    wait_until(
        lambda: other_state.get().idle_passes >= other_before + 3,
        timeout=4 * interval + 10,
        message=cluster.logs,
    )
    assert SyncRun.objects.filter(customer=revoked).count() == runs_when_marked
    other.refresh_from_db()
    assert other.status == CustomerStatus.ACTIVE
    assert differences(other, ground_truth(sandbox, other.tenant_id)) == []
