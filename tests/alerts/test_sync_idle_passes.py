"""Idle passes: a pass that finds nothing new and does not fail writes no `SyncRun` row
but counts itself on the source's `SyncState`; a pass that changes something, and every
failure, still writes its row; the card and the health page tell the truth either way."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.models import SyncRun, SyncState, SyncStatus
from partner_portal.alerts.reads.health import tenant_health
from partner_portal.alerts.sync import passes
from partner_portal.alerts.sync.progress import customer_sync_overview
from partner_portal.defender import ServerError
from tenants.models import Customer
from tests.alerts import test_sync_sources
from tests.alerts.factories import SyncStateFactory
from tests.alerts.test_sync_sources import FakeAlerts, alert

# The fake source and its customer, as the source tests set them up.
fake = test_sync_sources.fake
customer = test_sync_sources.customer

pytestmark = pytest.mark.django_db


def _pass(customer: Customer) -> SyncRun:
    run = passes.sync_source(customer_id=customer.pk, source="fake_alerts")
    assert run is not None
    return run


def _state(customer: Customer) -> SyncState:
    return SyncState.objects.select_related("last_run").get(customer=customer, source="fake_alerts")


def _card(customer: Customer) -> dict[str, object]:
    listed = {s["source"]: s for s in customer_sync_overview(customer=customer)["sources"]}
    return listed["fake_alerts"]


def test_an_idle_pass_writes_no_row_but_counts_itself_on_the_state(
    fake: FakeAlerts, customer: Customer
) -> None:
    fake.served = [[alert("a1")]]
    backfill = _pass(customer)
    assert backfill.pk is not None and SyncRun.objects.count() == 1

    # The overlap reads a1 again, unchanged: one call, nothing new.
    first = _pass(customer)
    second = _pass(customer)

    assert first.pk is None and second.pk is None
    assert first.status == second.status == SyncStatus.SUCCEEDED
    assert SyncRun.objects.count() == 1
    state = _state(customer)
    assert state.idle_passes == 2 and state.idle_calls == 2
    assert state.last_run == backfill and state.consecutive_failures == 0
    assert state.last_checked_at == state.last_success_at
    assert state.last_checked_at is not None and state.last_checked_at > backfill.finished_at
    assert state.watermark == second.started_at
    assert state.last_pass_idle and state.last_outcome == SyncStatus.SUCCEEDED


def test_an_idle_pass_reads_its_state_once_and_touches_no_run(
    fake: FakeAlerts, customer: Customer
) -> None:
    fake.served = [[alert("a1")]]
    _pass(customer)

    with CaptureQueriesContext(connection) as queries:
        assert _pass(customer).pk is None

    statements = [q["sql"] for q in queries.captured_queries]
    state_reads = [s for s in statements if s.startswith("SELECT") and "alerts_syncstate" in s]
    state_writes = [s for s in statements if s.startswith('UPDATE "alerts_syncstate"')]
    # One read; the unqueue and the idle count; no sweep of runs a dead worker left.
    assert len(state_reads) == 1 and len(state_writes) == 2
    assert not [
        s
        for s in statements
        if s.startswith(('UPDATE "alerts_syncrun"', 'INSERT INTO "alerts_syncrun"'))
    ]


def test_a_run_a_dead_worker_left_running_is_closed_by_the_next_pass(
    fake: FakeAlerts, customer: Customer
) -> None:
    fake.served = [[alert("a1")]]
    _pass(customer)
    left = SyncRun.objects.create(customer=customer, source="fake_alerts", since=timezone.now())

    assert _pass(customer).pk is None  # the pass itself is idle
    left.refresh_from_db()
    assert (left.status, left.error_code) == (SyncStatus.FAILED, "worker_lost")
    assert left.finished_at is not None


def test_a_pass_that_changes_something_writes_its_row_and_ends_the_quiet_count(
    fake: FakeAlerts, customer: Customer
) -> None:
    fake.served = [[alert("a1")]]
    _pass(customer)
    _pass(customer)
    fake.served = [[alert("a1", updated="2026-01-05T10:00:00Z"), alert("a2")]]

    run = _pass(customer)

    assert run.pk is not None and (run.created, run.updated) == (1, 1)
    assert SyncRun.objects.count() == 2
    state = _state(customer)
    assert state.idle_passes == 0 and state.last_run == run and not state.last_pass_idle
    assert _card(customer)["last_pass_text"] == ("succeeded: 2 read, 1 new, 1 changed, 1 API call")


def test_a_failure_still_writes_a_row_and_an_idle_pass_after_it_clears_it(
    fake: FakeAlerts, customer: Customer
) -> None:
    fake.served = [[alert("a1")]]
    _pass(customer)
    _pass(customer)
    fake.served = []
    fake.fail = ServerError(503, "ServiceUnavailable", "Try again later")

    failed = _pass(customer)

    assert failed.pk is not None and failed.status == SyncStatus.FAILED
    assert SyncRun.objects.filter(status=SyncStatus.FAILED).count() == 1
    state = _state(customer)
    assert state.idle_passes == 0 and state.consecutive_failures == 1
    assert state.last_checked_at == failed.finished_at and state.last_outcome == "failed"
    assert _card(customer)["health"] == "failing"

    fake.fail = None
    fake.served = [[alert("a1")]]
    _pass(customer)

    assert SyncRun.objects.count() == 2
    card = _card(customer)
    assert card["health"] == "ok" and card["consecutive_failures"] == 0
    assert (
        card["last_pass_text"]
        == "checked just now, nothing new (1 quiet pass since the last change)"
    )


def test_the_sync_card_says_when_it_last_checked_and_that_nothing_was_new(
    fake: FakeAlerts, customer: Customer, staff_client: Client
) -> None:
    fake.served = [[alert("a1")]]
    _pass(customer)
    for _ in range(3):
        _pass(customer)
    # The backfill an hour ago, the latest idle pass 10 minutes ago (a slow test run
    # still says "10 min").
    now = timezone.now()
    hour_ago = now - timedelta(hours=1)
    SyncRun.objects.filter(customer=customer).update(started_at=hour_ago, finished_at=hour_ago)
    checked = now - timedelta(minutes=10, seconds=10)
    SyncState.objects.filter(customer=customer).update(
        last_checked_at=checked, last_success_at=checked
    )

    page = staff_client.get(reverse("tenants:customer_detail", args=[customer.pk]))
    live = staff_client.get(reverse("alerts:sync_progress", args=[customer.pk])).json()

    said = "checked 10 min ago, nothing new (3 quiet passes since the last change)"
    assert said in page.content.decode()
    mine = next(s for s in live["sources"] if s["source"] == "fake_alerts")
    assert mine["last_pass_text"] == said and mine["health"] == "ok"
    assert mine["idle_passes"] == 3


@pytest.mark.parametrize(
    ("hours_ago", "hour_before"), [(0, None), (1, 5), (3, 0)], ids=["same", "next", "later"]
)
def test_an_idle_pass_counts_its_calls_in_its_hour_and_keeps_the_hour_before(
    fake: FakeAlerts, customer: Customer, hours_ago: int, hour_before: int | None
) -> None:
    fake.served = [[alert("a1")]]
    _pass(customer)
    _pass(customer)
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    counted = hour - timedelta(hours=hours_ago)
    SyncState.objects.filter(customer=customer).update(
        idle_calls_hour=counted, idle_calls=5, idle_calls_hour_before=9
    )

    run = _pass(customer)

    state = _state(customer)
    if state.idle_calls_hour != counted and hours_ago == 0:
        pytest.skip("the hour turned during the pass")
    assert run.pk is None and state.idle_calls_hour == hour
    if hour_before is None:  # the same hour: one more call on its count
        assert (state.idle_calls, state.idle_calls_hour_before) == (6, 9)
    else:  # a new hour: its first call, and the hour before's count (0 if further back)
        assert (state.idle_calls, state.idle_calls_hour_before) == (1, hour_before)
    assert state.idle_passes == 2 and state.watermark == run.started_at


def test_idle_calls_count_in_the_last_hour_with_the_hour_before_prorated() -> None:
    hour = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    state = SyncState(idle_calls_hour=hour, idle_calls=30, idle_calls_hour_before=60)

    assert state.idle_calls_last_hour(hour + timedelta(minutes=15)) == 30 + 45
    assert state.idle_calls_last_hour(hour + timedelta(minutes=90)) == 15
    assert state.idle_calls_last_hour(hour + timedelta(hours=3)) == 0
    assert SyncState().idle_calls_last_hour(hour) == 0


def test_tenant_health_adds_idle_calls_to_the_hourly_budget(onboarding_staff: Any) -> None:
    now = timezone.now()
    hour = now.replace(minute=0, second=0, microsecond=0)
    state = SyncStateFactory(
        last_success_at=now, last_checked_at=now, idle_passes=5, idle_calls_hour=hour,
        idle_calls=7, idle_calls_hour_before=0,
    )  # fmt: skip

    (row,) = [
        r for r in tenant_health(user=onboarding_staff, now=now) if r.customer == state.customer
    ]

    assert row.sources[0].api_calls_last_hour == 7
    assert row.sources[0].last_run_status == SyncStatus.SUCCEEDED
    assert row.is_healthy or row.customer.status != "active"
