"""The analysts' console in Chromium, against the running portal, its worker and the
sandbox: filter, open a detail, resolve (and Defender has it resolved), export CSV, see a
new alert arrive without reloading, and the tenant health page. Screenshots of the list,
detail and health pages are kept as test artifacts."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import Console

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]


def _truth(console: Console, tenant_id: str) -> dict[str, dict[str, Any]]:
    response = console.sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant_id}")
    response.raise_for_status()
    return {alert["id"]: alert for alert in response.json()["value"]}


def _present_severity(console: Console, tenant_id: str) -> str:
    """A severity the customer has alerts of, preferring High."""
    present = {a["severity"] for a in _truth(console, tenant_id).values()}
    return next(s for s in ("High", "Medium", "Low", "Informational") if s in present)


def test_filter_open_resolve_and_export(page: Any, console: Console, artifacts_dir: Path) -> None:
    name = "Contoso Retail"
    pk, tenant_id = console.customers[name]
    severity = _present_severity(console, tenant_id)

    page.goto(f"{console.url}/alerts/")
    page.check(f"#alert-filters input[name=severity][value={severity}]")
    page.select_option("#alert-filters select[name=customer]", str(pk))
    page.click("#apply-filters")
    page.wait_for_selector("#alert-table tbody tr[data-alert-id]")
    rows = page.locator("#alert-table tbody tr[data-alert-id]")
    assert rows.count() > 0
    for text in rows.all_inner_texts():
        assert name in text and severity in text
    assert "Fabrikam Health" not in page.inner_text("#alert-table tbody")
    page.screenshot(path=str(artifacts_dir / "console-list.png"), full_page=True)

    # Export what the filter shows, as the analyst would: the browser downloads it.
    with page.expect_download() as download_info:
        page.click("#export-csv")
    exported = Path(download_info.value.path()).read_text(encoding="utf-8")
    records = list(csv.DictReader(io.StringIO(exported)))
    assert len(records) >= rows.count()
    assert {r["customer"] for r in records} == {name}
    assert {r["severity"] for r in records} == {severity}

    # Open the first unresolved alert's detail.
    open_row = page.locator("#alert-table tbody tr[data-alert-id]").filter(
        has_not=page.locator(".status-Resolved")
    )
    open_row.first.locator("a.alert-link").click()
    page.wait_for_selector("#writeback-form")
    assert page.inner_text("#customer-name") == name
    alert_id = page.inner_text("#alert-facts code >> nth=0").strip()
    assert re.match(r"^[\w-]+$", alert_id)
    link = page.get_attribute("#defender-link", "href")
    assert link == f"https://security.microsoft.com/alerts/{alert_id}?tid={tenant_id}"
    page.screenshot(path=str(artifacts_dir / "console-detail.png"), full_page=True)

    # Resolve it; keyboard and labels are how the form is reached.
    page.get_by_label("Status", exact=True).select_option("Resolved")
    page.get_by_label("Classification", exact=True).select_option("TruePositive")
    page.get_by_label("Determination", exact=True).select_option("Malware")
    page.get_by_label("Comment", exact=True).fill("Resolved from the partner console.")
    page.get_by_label("Comment", exact=True).press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Saved in Defender.")
    assert page.get_attribute("#alert-status", "data-status") == "Resolved"

    truth = _truth(console, tenant_id)[alert_id]
    assert truth["status"] == "Resolved"
    assert truth["classification"] == "TruePositive"
    # The text sent names the analyst (Defender credits the app).
    credited = "[admin@localhost via Partner Portal] Resolved from the partner console."
    assert credited in [c["comment"] for c in truth["comments"]]


def test_a_new_alert_appears_without_reloading(page: Any, console: Console) -> None:
    _, tenant_id = console.customers["Fabrikam Health"]
    page.goto(f"{console.url}/alerts/")
    page.wait_for_selector("#alert-table tbody tr[data-alert-id]")
    # A mark on this document: a reload would wipe it.
    page.evaluate("window.sameDocument = 'yes'")

    created = console.sandbox.control(
        "POST", f"/_sandbox/tenants/{tenant_id}/alerts", json={"count": 1}
    )
    created.raise_for_status()
    new_id = created.json()["ids"][0]

    # The worker syncs the customer within its 30-second interval; the page polls.
    page.wait_for_selector("#new-alerts:not([hidden])", timeout=90_000)
    page.click("#new-alerts [data-show-new]")
    page.wait_for_selector(f"#alert-table tbody tr:has-text('{new_id}')")
    assert page.evaluate("window.sameDocument") == "yes"


def test_tenant_health_shows_every_customer_synced(
    page: Any, console: Console, artifacts_dir: Path
) -> None:
    page.goto(f"{console.url}/health/")
    table = page.locator("#health-table")
    for name, (pk, _) in console.customers.items():
        row = table.locator(f"tr[data-customer-id='{pk}']")
        assert name in row.inner_text()
        assert row.locator("[data-status]").get_attribute("data-status") == "active"
        assert "never" not in row.locator("td").nth(1).inner_text()
        calls = int(row.locator(".usage").get_attribute("data-calls") or "0")
        assert 0 < calls <= 1500
    page.screenshot(path=str(artifacts_dir / "console-health.png"), full_page=True)


def test_detail_page_works_on_a_phone_in_dark_mode(
    console_browser: Any, console: Console, artifacts_dir: Path
) -> None:
    context = console_browser.new_context(
        viewport={"width": 390, "height": 844}, color_scheme="dark", is_mobile=True
    )
    try:
        phone = context.new_page()
        phone.goto(f"{console.url}/accounts/login/")
        phone.fill("#id_username", console.portal.admin_username)
        phone.fill("#id_password", console.portal.admin_password)
        phone.click("button[type=submit]")
        phone.goto(f"{console.url}/alerts/")
        phone.locator("a.alert-link").first.click()
        phone.wait_for_selector("#writeback-form")
        background = phone.evaluate("getComputedStyle(document.body).backgroundColor")
        assert background == "rgb(15, 18, 23)"  # the dark palette of portal.css
        # Nothing wider than the screen: the layout stacks into one column.
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        phone.screenshot(path=str(artifacts_dir / "console-detail-phone-dark.png"), full_page=True)
    finally:
        context.close()


def _open_busiest_campaign(page: Any, console: Console) -> None:
    """Open the campaign spanning every customer with the most open alerts: earlier tests
    resolve and create alerts, so the newest campaign may have only one left open."""
    page.goto(f"{console.url}/campaigns/?days=30")
    rows = page.locator("#campaign-table tbody tr[data-campaign]")
    rows.first.wait_for()
    spanning = [
        (int(row.get_attribute("data-open") or "0"), index)
        for index, row in enumerate(rows.all())
        if int(row.get_attribute("data-customers") or "0") == len(console.customers)
    ]
    assert spanning, "no campaign spans every customer"
    _, index = max(spanning, key=lambda pair: (pair[0], -pair[1]))
    rows.nth(index).locator("a").first.click()
    page.wait_for_selector("#campaign-act")


def test_a_campaign_across_both_customers_is_assigned_as_a_whole(
    page: Any, console: Console
) -> None:
    """The sandbox's detectors fire at both customers: their shared indicators make a
    campaign, and assigning it writes every one of its open alerts back to Defender."""
    _open_busiest_campaign(page, console)
    customers = page.locator("#campaign-customers li").all_inner_texts()
    assert sorted(customers) == sorted(console.customers)
    chosen = page.locator("#campaign-act input[name=alert]").count()
    assert chosen >= 2
    page.fill("#campaign-assign", "campaign-lead@partner.example")
    page.click("#campaign-act button[type=submit]")
    summary = page.locator("#bulk-summary").inner_text()
    assert summary.startswith(f"{chosen} of {chosen} alert"), summary
    assigned = [
        alert
        for _, tenant_id in console.customers.values()
        for alert in _truth(console, tenant_id).values()
        if alert.get("assignedTo") == "campaign-lead@partner.example"
    ]
    assert len(assigned) == chosen


def test_a_campaign_resolved_as_a_whole_carries_its_classification_to_defender(
    page: Any, console: Console
) -> None:
    """Resolving a campaign with a classification, determination and comment writes each
    of its open alerts back resolved with them, as Defender's ground truth shows."""
    _open_busiest_campaign(page, console)
    chosen = page.locator("#campaign-act input[name=alert]").count()
    assert chosen >= 2
    note = "Closed with its campaign: one dropper at both customers."
    page.get_by_label("Set status", exact=True).select_option("Resolved")
    page.get_by_label("Classification", exact=True).select_option("TruePositive")
    page.get_by_label("Determination", exact=True).select_option("Malware")
    page.get_by_label("Comment", exact=True).fill(note)
    page.click("#campaign-act button[type=submit]")
    summary = page.locator("#bulk-summary").inner_text()
    assert summary.startswith(f"{chosen} of {chosen} alert"), summary
    closed = [
        alert
        for _, tenant_id in console.customers.values()
        for alert in _truth(console, tenant_id).values()
        if any(note in c["comment"] for c in alert.get("comments") or [])
    ]
    assert len(closed) == chosen
    for alert in closed:
        assert (alert["status"], alert["classification"], alert["determination"]) == (
            "Resolved", "TruePositive", "Malware",
        )  # fmt: skip
