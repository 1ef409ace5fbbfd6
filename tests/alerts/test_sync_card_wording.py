"""The customer's sync card right after consent: what the running first backfill has read
and "Last success" agree, whatever was stored before it (an earlier failed attempt, or
alerts that came with incidents)."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from partner_portal.alerts.models import SyncStatus
from partner_portal.alerts.sync import sources
from tenants.models import Customer, CustomerStatus
from tests.alerts.factories import (
    AlertFactory,
    CustomerFactory,
    SyncRunFactory,
    SyncStateFactory,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory(
        display_name="Contoso", tenant_id="11111111-1111-1111-1111-111111111111",
        status=CustomerStatus.ACTIVE, collect_incidents=False,
    )  # fmt: skip


def _card(client: Client, customer: Customer) -> str:
    html = client.get(reverse("tenants:customer_detail", args=[customer.pk])).content.decode()
    start = html.index('id="customer-sync"')
    return re.sub(r"\s+", " ", html[start : html.index("</section>", start)])


def test_a_backfill_that_has_not_read_a_page_says_so_beside_what_is_stored(
    staff_client: Client, customer: Customer
) -> None:
    source = next(s.name for s in sources.all_sources() if s.enabled_for(customer))
    for _ in range(3):
        AlertFactory(customer=customer)
    SyncStateFactory(customer=customer, source=source)
    SyncRunFactory(
        customer=customer, source=source, status=SyncStatus.RUNNING, backfill=True,
        pages=0, fetched=0,
    )  # fmt: skip
    card = _card(staff_client, customer)
    assert "0 read in 0 pages" not in card
    assert "reading the first page" in card
    assert "none yet: the first backfill is running" in card
    assert ">never<" not in card

    data = staff_client.get(reverse("alerts:sync_progress", args=[customer.pk])).json()
    mine = next(s for s in data["sources"] if s["source"] == source)
    assert "reading the first page" in mine["backfill"]["text"]
    assert mine["no_success_yet"] == "none yet: the first backfill is running"


def test_a_running_backfill_counts_only_what_it_has_read(
    staff_client: Client, customer: Customer
) -> None:
    source = next(s.name for s in sources.all_sources() if s.enabled_for(customer))
    SyncStateFactory(customer=customer, source=source)
    SyncRunFactory(
        customer=customer, source=source, status=SyncStatus.RUNNING, backfill=True,
        pages=3, fetched=3000,
    )  # fmt: skip
    card = _card(staff_client, customer)
    assert "First backfill running: 3,000 read in 3 pages so far" in card
    assert "stored." not in card


def test_failing_before_any_success_says_never(staff_client: Client, customer: Customer) -> None:
    source = next(s.name for s in sources.all_sources() if s.enabled_for(customer))
    run = SyncRunFactory(
        customer=customer, source=source, status=SyncStatus.FAILED, backfill=True,
        error_code="ServerError 503", error_message="Defender is unavailable.",
    )  # fmt: skip
    SyncStateFactory(customer=customer, source=source, last_run=run, consecutive_failures=1)
    card = _card(staff_client, customer)
    assert "never: no pass has succeeded yet" in card
