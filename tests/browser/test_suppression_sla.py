"""In Chromium, against the running portal (web, worker, beat) and the sandbox: a
suppression rule made from an alert's page resolves in Defender the next alert it
catches, and an SLA goal set on the SLA page shows breached timers on an alert's page."""

from __future__ import annotations

from typing import Any

import pytest

from tests.browser.conftest import Console
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]


def _open_alert_of(page: Any, console: Console, customer: str) -> None:
    """Open, from the alert list, the page of one of `customer`'s open alerts."""
    pk, _ = console.customers[customer]
    page.goto(f"{console.url}/alerts/?customer={pk}&status=New")
    page.click("#alert-table tbody tr[data-alert-id] a[href^='/alerts/']")
    page.wait_for_selector("#alert-title")


def test_a_rule_made_from_an_alert_resolves_the_next_one_in_defender(
    page: Any, console: Console
) -> None:
    customer = "Contoso Retail"
    _, tenant_id = console.customers[customer]
    _open_alert_of(page, console, customer)
    page.click("#suppress-link")
    page.wait_for_selector("#prefilled-from")
    # Keep the customer and the product from the alert; drop what is specific to it.
    page.fill("#id_title_contains", "")
    page.fill("#id_categories_text", "")
    page.fill("#id_detectors_text", "")
    page.fill("#id_reason", "Contoso's lab machines, rebuilt this week")
    page.select_option("#id_action", "resolve")
    page.select_option("#id_classification", "FalsePositive")
    page.fill("#id_days", "2")
    page.click("#suppression-form button[type=submit]")
    page.wait_for_selector("#rule-state:has-text('Active')")

    created = console.sandbox.control(
        "POST", f"/_sandbox/tenants/{tenant_id}/alerts", json={"count": 1}
    )
    created.raise_for_status()
    new_id = created.json()["ids"][0]

    def truth() -> dict[str, Any]:
        response = console.sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant_id}")
        alerts: dict[str, Any] = {a["id"]: a for a in response.json()["value"]}
        return alerts[new_id]

    # The worker syncs the customer within its 30-second interval: the rule catches the
    # alert, and the worker resolves it in Defender.
    row = page.locator(f"#hit-table tr[data-alert-id='{new_id}']")

    def resolved_on_the_rule_page() -> bool:
        page.reload()
        return row.count() == 1 and "Waiting" not in row.inner_text()

    wait_until(
        resolved_on_the_rule_page, timeout=240, every=2,
        message=lambda: f"the rule's hits: {page.locator('#hit-table').inner_text()[:500]}",
    )  # fmt: skip
    assert "Resolved in Defender" in row.inner_text()
    assert truth()["status"] == "Resolved"
    assert truth()["classification"] == "FalsePositive"


def test_an_sla_goal_shows_breached_timers(page: Any, console: Console) -> None:
    page.goto(f"{console.url}/notifications/sla/")
    for severity in ("Informational", "Low", "Medium", "High"):
        page.select_option("#id_severity", severity)
        page.fill("#id_acknowledge_minutes", "1")
        page.fill("#id_resolve_minutes", "2")
        page.click("#sla-goal-form button[type=submit]")
        page.wait_for_selector(f"#sla-goals td:has-text('{severity}')")
    # The sandbox's alerts were created well over a minute ago.
    assert page.locator("[data-customer-id] .open-breached").count() == 2
    _open_alert_of(page, console, "Fabrikam Health")
    timer = page.locator("#sla-timers [data-sla='acknowledge']")
    assert timer.get_attribute("data-breached") == "yes"
    assert "breached" in timer.inner_text()
