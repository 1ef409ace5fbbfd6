"""The customer page's sync card in a browser while the first backfill runs: its script
keeps the backfill line, the health and "Last success" current in the server's words, so
the card never says 0 read beside a stored total, nor "never" beside a running pass."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from partner_portal.alerts.models import SyncRun, SyncState, SyncStatus
from partner_portal.alerts.sync import sources
from tenants.models import CustomerStatus
from tests.alerts.factories import CustomerFactory, SyncRunFactory, SyncStateFactory
from tests.fixtures.browser import signed_in_context

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(module_browser: Any, live_server: Any) -> Iterator[Any]:
    context = signed_in_context(module_browser, live_server)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.script_errors = errors
    yield page
    context.close()


def test_the_sync_card_follows_a_first_backfill_to_its_first_success(page: Any) -> None:
    customer = CustomerFactory(
        display_name="Contoso", tenant_id="11111111-1111-1111-1111-111111111111",
        status=CustomerStatus.ACTIVE, collect_incidents=False,
    )  # fmt: skip
    source = next(s.name for s in sources.all_sources() if s.enabled_for(customer))
    state = SyncStateFactory(customer=customer, source=source)
    run = SyncRunFactory(
        customer=customer, source=source, status=SyncStatus.RUNNING, backfill=True,
        pages=0, fetched=0,
    )  # fmt: skip
    card = f'#customer-sync [data-source="{source}"]'
    page.goto(f"/customers/{customer.pk}/")
    assert "reading the first page" in page.inner_text(f'{card} [data-field="backfill-text"]')
    assert page.inner_text(f'{card} [data-field="last-success"]') == (
        "none yet: the first backfill is running"
    )
    assert page.inner_text(f'{card} [data-field="health"]') == "First pass running"

    SyncRun.objects.filter(pk=run.pk).update(pages=2, fetched=500)
    page.wait_for_function(
        "s => document.querySelector(s).textContent.includes('500 read in 2 pages so far')",
        arg=f'{card} [data-field="backfill-text"]', timeout=15_000,
    )  # fmt: skip

    now = timezone.now()
    SyncRun.objects.filter(pk=run.pk).update(status=SyncStatus.SUCCEEDED, finished_at=now)
    SyncState.objects.filter(pk=state.pk).update(watermark=now, last_success_at=now, last_run=run)
    page.wait_for_function(
        "s => document.querySelector(s).textContent === 'OK'",
        arg=f'{card} [data-field="health"]', timeout=15_000,
    )  # fmt: skip
    moment = page.locator(f'{card} [data-field="last-success"] time')
    assert moment.inner_text() in ("just now", *(f"{n} s ago" for n in range(5, 60)))
    assert moment.get_attribute("title").endswith(" UTC")
    assert page.script_errors == []
