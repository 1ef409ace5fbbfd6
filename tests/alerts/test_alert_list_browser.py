"""The alert list's script in a real browser: counts load, new alerts appear, charts draw."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from partner_portal.alerts.views import alert_list as list_views
from tests.alerts.factories import AlertFactory, CustomerFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# The browser and the signed-in page are `tests.fixtures.browser`'s `module_browser` and
# `signed_in_page`.


def test_counts_load_and_a_new_alert_is_shown_on_request(
    signed_in_page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(list_views, "POLL_SECONDS", 0.5)
    page = signed_in_page
    customer = CustomerFactory(display_name="Northwind")
    AlertFactory.create_batch(2, customer=customer, severity="High")
    AlertFactory(customer=customer, severity="Low")

    page.goto("/alerts/")
    page.wait_for_selector('#severity-counts strong[data-severity="High"]')
    assert page.inner_text('#severity-counts strong[data-severity="High"]') == "2"
    assert page.inner_text('#status-counts strong[data-status="New"]') == "3"
    assert page.get_attribute("#alert-table", "data-poll-seconds") == "0.5"
    assert page.is_hidden("#new-alerts")

    fresh = AlertFactory(customer=customer, severity="High", title="Arrived while watching")
    page.wait_for_selector("#new-alerts:not([hidden])", timeout=10_000)
    assert "1 new alert" in page.inner_text("#new-alerts")
    # Nothing moves until the analyst asks for it.
    assert page.locator("#alert-table tbody tr").count() == 3
    page.click("#new-alerts [data-show-new]")
    page.wait_for_selector(f'#alert-table tbody tr[data-alert-id="{fresh.pk}"]')
    first_row = page.locator("#alert-table tbody tr").first
    assert first_row.get_attribute("data-alert-id") == str(fresh.pk)
    assert page.is_hidden("#new-alerts")
    assert page.script_errors == []


def test_charts_draw_with_the_vendored_library(signed_in_page: Any) -> None:
    page = signed_in_page
    AlertFactory.create_batch(
        3, category="Ransomware", created_at=datetime.now(UTC) - timedelta(hours=1)
    )
    page.goto("/alerts/charts/?window=24h")
    page.wait_for_selector("#charts:not([aria-busy])")
    page.click("text=Show as a table >> nth=2")
    assert "Ransomware" in page.inner_text('[data-table="top_categories"]')
    assert page.evaluate("typeof window.Chart") == "function"
    assert page.script_errors == []
