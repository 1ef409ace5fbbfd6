"""The alert list's script in a real browser: counts load, new alerts appear, charts draw."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from partner_portal.alerts.views import alert_list as list_views
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.factories import UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture(scope="module")
def module_browser(django_db_setup: None) -> Iterator[Any]:
    """A Chromium of this module's own, closed when the module ends.

    Playwright's sync API keeps an event loop in this thread, which Django takes for async
    code; while it runs, the ORM calls of these tests (plain synchronous ones) are let
    through. Closing it here keeps the loop from outliving the module and tripping the
    database calls of tests that run later. The database is set up before it starts.
    """
    from playwright.sync_api import sync_playwright

    from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS, watch_csp

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            yield watch_csp(browser)
            browser.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def signed_in_page(module_browser: Any, live_server: Any) -> Any:
    # A superuser holds every role without the groups a data migration creates (a
    # transactional test's flush removes those for the tests after it).
    admin = UserFactory(username="console-admin", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    context = module_browser.new_context(base_url=live_server.url)
    host = live_server.url.split("//", 1)[1].split(":", 1)[0]
    context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "domain": host,
                "path": "/",
            }
        ]
    )
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "response",
        lambda r: (
            errors.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )
    page.script_errors = errors
    yield page
    context.close()


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
