"""The dispatcher's cheap cycle: due rows come from the `next_due_at` index, a new
customer gets its state rows although the last scan is remembered, and a due row of a
customer that no longer collects is looked at again an interval on, not every cycle; and
each cycle shows on /healthz."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from partner_portal.alerts.apps import DISPATCHER
from partner_portal.alerts.models import SyncState
from partner_portal.alerts.sync import dispatch
from partner_portal.core import health
from tenants.models import Customer, CustomerStatus
from tests.alerts import test_sync_sources
from tests.alerts.factories import CustomerFactory
from tests.alerts.test_sync_sources import FakeAlerts, alert

pytestmark = pytest.mark.django_db

fake = test_sync_sources.fake
customer = test_sync_sources.customer
eager_tasks = test_sync_sources.eager_tasks


def test_a_customer_added_after_a_scan_is_dispatched_in_the_next_cycle(
    fake: FakeAlerts, customer: Customer, eager_tasks: None
) -> None:
    fake.served = [[alert("a1")]]
    assert dispatch.dispatch_due_syncs() == [(customer.pk, "fake_alerts")]
    assert dispatch.dispatch_due_syncs() == []  # scanned, remembered, nothing due

    other = CustomerFactory(
        tenant_id="22222222-2222-2222-2222-222222222222", status=CustomerStatus.ACTIVE,
        collect_alerts=False, collect_incidents=False,
    )  # fmt: skip

    assert dispatch.dispatch_due_syncs() == [(other.pk, "fake_alerts")]


def test_a_due_row_of_a_customer_no_longer_collecting_waits_an_interval(
    fake: FakeAlerts, customer: Customer, eager_tasks: None, settings: Any
) -> None:
    fake.served = [[alert("a1")]]
    dispatch.dispatch_due_syncs()
    Customer.objects.filter(pk=customer.pk).update(status=CustomerStatus.CONSENT_REVOKED)
    now = timezone.now() + timedelta(hours=1)

    assert dispatch.dispatch_due_syncs(now=now) == []

    state = SyncState.objects.get(customer=customer, source="fake_alerts")
    assert state.next_due_at == now + timedelta(seconds=settings.SYNC_DEFAULT_INTERVAL_SECONDS)
    assert dispatch.dispatch_due_syncs(now=now + timedelta(seconds=1)) == []


def test_healthz_says_when_the_sync_dispatcher_last_ran_and_when_it_is_late(
    client: Client, settings: Any
) -> None:
    key = health._duty_key(DISPATCHER)
    cache.delete(key)
    assert client.get("/healthz").json()["duties"][DISPATCHER] == {"last_run": None, "late": True}

    dispatch.dispatch_due_syncs()
    ran = client.get("/healthz").json()["duties"][DISPATCHER]
    assert ran["late"] is False and 0 <= ran["age_seconds"] < 60
    assert ran["period_seconds"] == settings.SYNC_DISPATCH_SECONDS

    # Three periods and more without a cycle: late. Still 200: a dispatcher that stopped
    # is news for whoever watches, not a reason to take the web out of a load balancer.
    long_ago = timezone.now() - timedelta(seconds=4 * settings.SYNC_DISPATCH_SECONDS)
    cache.set(key, long_ago.isoformat())
    response = client.get("/healthz")
    assert response.status_code == 200
    late = response.json()["duties"][DISPATCHER]
    assert late["late"] is True and late["age_seconds"] >= 4 * settings.SYNC_DISPATCH_SECONDS
