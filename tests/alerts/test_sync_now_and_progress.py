"""Operators' `sync_now` command, and the customer page's live sync progress."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.models import Alert, SyncRun, SyncStatus
from partner_portal.alerts.sync import passes
from partner_portal.core.locks import try_lock
from tenants.models import Customer, CustomerStatus
from tests.alerts.conftest import differences, ground_truth
from tests.alerts.factories import CustomerFactory, SyncRunFactory, SyncStateFactory

pytestmark = [pytest.mark.django_db]


def _run(*args: str) -> str:
    out = StringIO()
    call_command("sync_now", *args, stdout=out)
    return out.getvalue()


@pytest.mark.sandbox
def test_sync_now_backfills_one_customer_by_name_with_progress_and_summary(
    sandbox: Any, bind_customers: Any
) -> None:
    first, second = bind_customers(sandbox)
    output = _run("--customer", first.display_name, "--source", "alerts")
    assert f"{first} / alerts: 1 page(s), 50 read (50 new, 0 changed)" in output
    assert f"{first} / alerts backfill succeeded" in output
    assert differences(first, ground_truth(sandbox, first.tenant_id)) == []
    assert not Alert.objects.filter(customer=second).exists()
    again = _run("--customer", first.tenant_id, "--source", "alerts")
    assert "increment succeeded" in again and "0 new, 0 changed, 1 API call(s)" in again


@pytest.mark.sandbox
def test_sync_now_without_a_customer_syncs_every_collecting_customer(
    sandbox: Any, bind_customers: Any
) -> None:
    customers = bind_customers(sandbox)
    paused = CustomerFactory(display_name="Paused", awaiting_consent=True)
    output = _run("--source", "alerts")
    for customer in customers:
        assert Alert.objects.filter(customer=customer).count() == 50
    assert str(paused) not in output


@pytest.mark.sandbox
def test_sync_now_respects_a_running_pass(sandbox: Any, bind_customers: Any) -> None:
    customer, _ = bind_customers(sandbox)
    held = try_lock(passes.lock_name(customer.pk, "alerts"), ttl=30)
    assert held is not None
    try:
        output = _run("--customer", str(customer.pk), "--source", "alerts")
    finally:
        held.release()
    assert "skipped, a pass is already running elsewhere" in output
    assert not SyncRun.objects.filter(customer=customer).exists()


def test_sync_now_names_an_unknown_customer() -> None:
    with pytest.raises(CommandError, match="No customer"):
        _run("--customer", "Nobody Ltd")


@pytest.mark.sandbox
def test_sync_now_fails_when_a_pass_fails(sandbox_factory: Any, bind_customers: Any) -> None:
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=5)
    (customer,) = bind_customers(sandbox)
    sandbox.control("DELETE", f"/_sandbox/tenants/{customer.tenant_id}/consent")
    with pytest.raises(CommandError, match="1 pass"):
        _run("--customer", str(customer.pk), "--source", "alerts")
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.CONSENT_REVOKED


# --- live progress ---------------------------------------------------------------------------
@pytest.fixture
def active_customer() -> Customer:
    return CustomerFactory(
        display_name="Contoso", tenant_id="11111111-1111-1111-1111-111111111111",
        status=CustomerStatus.ACTIVE, collect_incidents=False,
    )  # fmt: skip


def test_progress_shows_a_running_first_backfill(
    staff_client: Client, active_customer: Customer
) -> None:
    SyncStateFactory(customer=active_customer, source="alerts")
    SyncRunFactory(
        customer=active_customer, source="alerts", status=SyncStatus.RUNNING, backfill=True,
        pages=3, fetched=3000, api_calls=3, token_source="identity_provider",
    )  # fmt: skip
    response = staff_client.get(reverse("alerts:sync_progress", args=[active_customer.pk]))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    data = response.json()
    assert data["live"] is True
    alerts = next(s for s in data["sources"] if s["source"] == "alerts")
    assert alerts["backfill"]["phase"] == "running"
    assert (alerts["backfill"]["pages"], alerts["backfill"]["fetched"]) == (3, 3000)
    incidents = next(s for s in data["sources"] if s["source"] == "incidents")
    assert incidents["enabled"] is False


def test_progress_after_the_backfill_reports_health_and_failures(
    staff_client: Client, active_customer: Customer
) -> None:
    now = timezone.now()
    SyncStateFactory(
        customer=active_customer, source="alerts", watermark=now, last_success_at=now,
        consecutive_failures=2,
    )  # fmt: skip
    SyncRunFactory(
        customer=active_customer, source="alerts", status=SyncStatus.FAILED,
        finished_at=now, error_code="ServerError 503", error_message="Defender is unavailable.",
    )  # fmt: skip
    data = staff_client.get(reverse("alerts:sync_progress", args=[active_customer.pk])).json()
    alerts = next(s for s in data["sources"] if s["source"] == "alerts")
    assert data["live"] is False
    assert alerts["backfill"]["phase"] == "done"
    assert alerts["healthy"] is False
    assert alerts["last_run"]["error_code"] == "ServerError 503"
    assert alerts["consecutive_failures"] == 2


def test_progress_is_for_staff_only_and_unknown_customers_are_404(
    staff_client: Client, analyst_client: Client, client: Client, active_customer: Customer
) -> None:
    url = reverse("alerts:sync_progress", args=[active_customer.pk])
    assert analyst_client.get(url).status_code == 403
    assert client.get(url).status_code == 302
    missing = reverse("alerts:sync_progress", args=[active_customer.pk + 999])
    assert staff_client.get(missing).status_code == 404


def test_the_customer_page_shows_the_sync_card_that_polls_progress(
    staff_client: Client, active_customer: Customer
) -> None:
    SyncStateFactory(customer=active_customer, source="alerts")
    SyncRunFactory(
        customer=active_customer, source="alerts", status=SyncStatus.RUNNING, backfill=True,
        fetched=42,
    )  # fmt: skip
    page = staff_client.get(reverse("tenants:customer_detail", args=[active_customer.pk]))
    html = page.content.decode()
    assert 'id="customer-sync"' in html
    assert reverse("alerts:sync_progress", args=[active_customer.pk]) in html
    assert 'data-live="true"' in html
    assert "First backfill running: 42 read" in html
    assert "js/sync_progress.js" in html
