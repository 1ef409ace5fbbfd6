"""A customer's due sources in one task: each source's pass in turn, as `sync_source`
runs one, the customer read once, and one time limit shared by the passes (a source
whose turn comes after it waits for its next turn, never run past the limit)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from partner_portal.alerts import tasks
from partner_portal.alerts.models import SyncRun, SyncState, SyncStatus
from partner_portal.alerts.sync import dispatch, passes
from tenants.models import Customer, CustomerStatus
from tests.alerts import test_sync_dispatch_batch, test_sync_sources
from tests.alerts.factories import CustomerFactory
from tests.alerts.test_sync_dispatch_batch import MoreFakeAlerts
from tests.alerts.test_sync_sources import FakeAlerts, alert

fake = test_sync_sources.fake
more = test_sync_dispatch_batch.more  # a second fake source, "fake_more"
customer = test_sync_sources.customer
eager_tasks = test_sync_sources.eager_tasks

pytestmark = pytest.mark.django_db


def _queued(customer: Customer) -> None:
    dispatch.ensure_states(now=timezone.now(), force=True)
    SyncState.objects.filter(customer=customer).update(queued_at=timezone.now())


def test_the_task_runs_each_source_of_the_customer_and_reports_each_outcome(
    fake: FakeAlerts, more: MoreFakeAlerts, customer: Customer, eager_tasks: None
) -> None:
    fake.served = [[alert("a1")]]
    more.served = [[alert("b1"), alert("b2")]]
    _queued(customer)

    outcome = tasks.sync_customer.delay(customer.pk, ["fake_alerts", "fake_more"]).get()

    assert outcome == {"fake_alerts": SyncStatus.SUCCEEDED, "fake_more": SyncStatus.SUCCEEDED}
    runs = dict(SyncRun.objects.filter(customer=customer).values_list("source", "created"))
    assert runs == {"fake_alerts": 1, "fake_more": 2}
    states = SyncState.objects.filter(customer=customer)
    assert {s.source for s in states if s.watermark} == {"fake_alerts", "fake_more"}
    assert all(s.queued_at is None for s in states)  # both left the queue


def test_an_idle_customer_costs_one_read_of_the_customer_and_one_unqueue_for_both_passes(
    fake: FakeAlerts, more: MoreFakeAlerts, customer: Customer
) -> None:
    fake.served, more.served = [[alert("a1")]], [[alert("b1")]]
    passes.sync_sources(customer_id=customer.pk, sources=["fake_alerts", "fake_more"])
    _queued(customer)

    with CaptureQueriesContext(connection) as queries:
        runs = passes.sync_sources(customer_id=customer.pk, sources=["fake_alerts", "fake_more"])

    assert all(run is not None and run.pk is None for run in runs.values())  # idle both
    statements = [q["sql"] for q in queries.captured_queries]
    customer_reads = [s for s in statements if 'FROM "tenants_customer"' in s]
    unqueues = [s for s in statements if re.search(r'\bqueued_at"? = NULL', s)]
    assert len(customer_reads) == 1 and len(unqueues) == 1


def _first_page_outlasts_the_limit(
    fake: FakeAlerts, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task limit of 60 s (30 s for the passes) on a clock that a page of `fake` moves
    45 s on: the first pass to read a page takes longer than the whole limit."""
    settings.SYNC_TASK_TIME_LIMIT = 60
    clock = [1000.0]
    monkeypatch.setattr(passes.time, "monotonic", lambda: clock[0])

    def slow_page(*args: Any, **kwargs: Any) -> None:
        clock[0] += 45

    monkeypatch.setattr(fake, "enrich", slow_page)


def test_a_source_whose_turn_comes_after_the_time_limit_waits_for_its_next_turn(
    fake: FakeAlerts,
    more: MoreFakeAlerts,
    customer: Customer,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _first_page_outlasts_the_limit(fake, settings, monkeypatch)
    fake.served, more.served = [[alert("a1")]], [[alert("b1")]]
    _queued(customer)

    runs = passes.sync_sources(customer_id=customer.pk, sources=["fake_alerts", "fake_more"])

    first = runs["fake_alerts"]
    assert first is not None and (first.status, first.error_code) == ("failed", "time_limit")
    assert runs["fake_more"] is None and more.asked_since == []  # never started
    waiting = SyncState.objects.get(customer=customer, source="fake_more")
    # Not marked queued any more: the dispatcher queues it again when it is due.
    assert waiting.queued_at is None and waiting.watermark is None


def test_once_celerys_soft_time_limit_stops_a_pass_the_task_starts_no_other(
    fake: FakeAlerts,
    more: MoreFakeAlerts,
    customer: Customer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def soft_limit(*args: Any, **kwargs: Any) -> None:
        raise SoftTimeLimitExceeded()  # what a prefork child's soft limit raises

    monkeypatch.setattr(fake, "enrich", soft_limit)
    fake.served, more.served = [[alert("a1")]], [[alert("b1")]]
    _queued(customer)

    runs = passes.sync_sources(customer_id=customer.pk, sources=["fake_alerts", "fake_more"])

    first = runs["fake_alerts"]
    assert first is not None and first.error_code == "SoftTimeLimitExceeded"
    assert runs["fake_more"] is None and more.asked_since == []


def _another_customer() -> Customer:
    return CustomerFactory(
        display_name="Fabrikam", tenant_id="22222222-2222-2222-2222-222222222222",
        status=CustomerStatus.ACTIVE, collect_alerts=False, collect_incidents=False,
    )  # fmt: skip


def test_a_task_of_quiet_customers_runs_each_customers_passes_in_turn(
    fake: FakeAlerts, more: MoreFakeAlerts, customer: Customer, eager_tasks: None
) -> None:
    other = _another_customer()
    fake.served, more.served = [[alert("a1")]], [[alert("b1")]]
    both = ["fake_alerts", "fake_more"]
    passes.sync_sources(customer_id=customer.pk, sources=both)
    passes.sync_sources(customer_id=other.pk, sources=both)
    _queued(customer)
    _queued(other)

    outcome = tasks.sync_customers.delay([[customer.pk, both], [other.pk, ["fake_more"]]]).get()

    done = SyncStatus.SUCCEEDED
    # JSON's keys are strings once the result has crossed a broker; eagerly, ints.
    assert {str(k): v for k, v in outcome.items()} == {
        str(customer.pk): {"fake_alerts": done, "fake_more": done},
        str(other.pk): {"fake_more": done},
    }
    idle = SyncState.objects.filter(idle_passes=1).values_list("customer_id", "source")
    assert sorted(idle) == sorted(
        [(customer.pk, "fake_alerts"), (customer.pk, "fake_more"), (other.pk, "fake_more")]
    )
    # Every source in the task left the queue; the other's own source was not in it.
    left = SyncState.objects.exclude(queued_at=None).values_list("customer_id", "source")
    assert list(left) == [(other.pk, "fake_alerts")]


def test_a_quiet_customer_whose_turn_comes_after_the_time_limit_waits_for_its_next_turn(
    fake: FakeAlerts,
    customer: Customer,
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    other = _another_customer()
    fake.served = [[alert("a1")]]
    passes.sync_sources(customer_id=customer.pk, sources=["fake_alerts"])
    passes.sync_sources(customer_id=other.pk, sources=["fake_alerts"])
    _first_page_outlasts_the_limit(fake, settings, monkeypatch)
    _queued(customer)
    _queued(other)
    asked = len(fake.asked_since)

    runs = passes.sync_customers(
        batch=[(customer.pk, ["fake_alerts"]), (other.pk, ["fake_alerts"])]
    )

    first = runs[customer.pk]["fake_alerts"]
    assert first is not None and first.error_code == "time_limit"
    assert runs[other.pk] == {"fake_alerts": None}
    assert len(fake.asked_since) == asked + 1  # the second customer's pass never started
    waiting = SyncState.objects.get(customer=other, source="fake_alerts")
    # Not marked queued any more: the dispatcher queues it again when it is due.
    assert waiting.queued_at is None and waiting.idle_passes == 0
