"""In Chromium, against the running portal and the sandbox: with an SLA goal set on the
SLA page, the alert list shows each open alert's timer under its status, and the monthly
report counts the month's alerts per customer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from tests.browser.conftest import Console

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]


def test_the_queue_shows_timers_and_the_report_counts_the_month(
    page: Any, console: Console
) -> None:
    page.goto(f"{console.url}/notifications/sla/")
    for severity in ("Informational", "Low", "Medium", "High"):
        page.select_option("#id_severity", severity)
        page.fill("#id_acknowledge_minutes", "1")
        page.fill("#id_resolve_minutes", "2")
        page.click("#sla-goal-form button[type=submit]")
        page.wait_for_selector(f"#sla-goals td:has-text('{severity}')")

    pk, _ = console.customers["Fabrikam Health"]
    page.goto(f"{console.url}/alerts/?customer={pk}&status=New")
    timer = page.locator("#alert-table tbody tr[data-alert-id] .sla-timer").first
    # The sandbox's alerts were created well over a minute ago.
    assert timer.get_attribute("data-breached") == "yes"
    assert timer.inner_text().startswith("SLA: breached ")

    # The month of the newest alert listed (the list's first row), not today's: early in
    # a month every alert the sandbox made may still be in the month before.
    created = page.locator("#alert-table tbody tr[data-alert-id] td.when time").first
    month = f"{datetime.fromisoformat(created.get_attribute('datetime')).astimezone(UTC):%Y-%m}"
    page.goto(f"{console.url}/sla/report/?month={month}")
    row = page.locator(f"#sla-report tr[data-customer-id='{pk}']")
    assert int(row.locator(".alerts").inner_text()) >= 1
    assert page.locator("#sla-report-csv").get_attribute("href").endswith(f"month={month}")
