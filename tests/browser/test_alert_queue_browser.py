"""The alert list as a work queue in Chromium, against the running portal, its worker and
the sandbox: the first row on the first screen at 1440x900, a saved view created and
opened again, and three alerts triaged from the keyboard (Defender has them assigned)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.conftest import Console
from tests.fixtures.browser import sign_in
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]

ROWS = "#alert-table tbody tr[data-alert-id]"


@pytest.fixture
def wide(console_browser: Any, console: Console) -> Iterator[Any]:
    """A signed-in page at 1440x900, the size the queue is laid out for."""
    context = console_browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, console.url, console.portal.admin_username, console.portal.admin_password)
    yield page
    context.close()


def _truth(console: Console, tenant_id: str) -> dict[str, dict[str, Any]]:
    response = console.sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant_id}")
    response.raise_for_status()
    return {alert["id"]: alert for alert in response.json()["value"]}


def _query(url: str) -> dict[str, list[str]]:
    return parse_qs(urlsplit(url).query, keep_blank_values=True)


def _alert_id(row: Any) -> str:
    return row.locator(".title .sub").inner_text().split(" · ")[0].strip()


def test_the_first_row_is_on_the_first_screen(
    wide: Any, console: Console, artifacts_dir: Path
) -> None:
    wide.goto(f"{console.url}/alerts/?status=all")
    first = wide.locator(ROWS).first
    first.wait_for()
    box = first.bounding_box()
    assert box is not None
    assert box["y"] + box["height"] <= 900, f"first row ends at y={box['y'] + box['height']}"
    # Opening "More filters" pushes it down; the bar itself does not.
    assert wide.locator("#more-filters").get_attribute("open") is None
    wide.screenshot(path=str(artifacts_dir / "queue-first-screen.png"))


def test_a_saved_view_is_created_and_opened_again(wide: Any, console: Console) -> None:
    name = "Contoso Retail"
    pk, _ = console.customers[name]
    wide.goto(f"{console.url}/alerts/")
    wide.select_option("#id_customer", str(pk))
    wide.select_option("#id_status", "all")
    wide.click("#apply-filters")
    # Only the filters that hold a value travel in the URL.
    wide.wait_for_url(lambda url: _query(url) == {"status": ["all"], "customer": [str(pk)]})
    wide.click("#saved-views .save-view summary")
    wide.fill("#id_view_name", "Contoso, every status")
    wide.check("#id_view_shared")
    wide.click("#save-view")
    wide.wait_for_selector("text=Saved the shared view “Contoso, every status”.")

    wide.goto(f"{console.url}/alerts/")
    wide.click("#saved-views a:has-text('Contoso, every status')")
    wide.wait_for_url(lambda url: _query(url) == {"status": ["all"], "customer": [str(pk)]})
    assert wide.locator("#id_status").input_value() == "all"
    assert wide.locator("#id_customer").input_value() == str(pk)
    texts = wide.locator(ROWS).all_inner_texts()
    assert texts and all(name in text for text in texts)
    link = wide.locator("#saved-views a:has-text('Contoso, every status')")
    assert link.get_attribute("aria-current") == "page"

    # Its owner deletes it again.
    wide.click("#saved-views [aria-label='Delete the view “Contoso, every status”']")
    wide.wait_for_selector("text=Deleted the view “Contoso, every status”.")
    assert wide.locator("#saved-views a:has-text('Contoso, every status')").count() == 0


def test_three_alerts_triaged_from_the_keyboard(wide: Any, console: Console) -> None:
    pk, tenant_id = console.customers["Fabrikam Health"]
    wide.goto(f"{console.url}/alerts/?customer={pk}&unassigned=on")
    rows = wide.locator(ROWS)
    rows.first.wait_for()
    assert rows.count() >= 3
    me = wide.get_attribute("#alert-table", "data-me")
    assert me

    # "/" goes to the search box, and letters typed there stay there.
    wide.keyboard.press("/")
    assert wide.evaluate("document.activeElement.id") == "id_q"
    wide.keyboard.type("jx")
    assert wide.input_value("#id_q") == "jx"
    wide.fill("#id_q", "")
    wide.locator("h1").click()

    chosen = []
    for index in range(3):
        wide.keyboard.press("j")
        row = rows.nth(index)
        assert "kbd-current" in (row.get_attribute("class") or "")
        chosen.append(_alert_id(row))
        wide.keyboard.press("a")
        wait_until(
            lambda r=row: r.locator("td").last.inner_text().strip() == me,
            timeout=60,
            every=0.5,
            message=lambda r=row: f"row still says {r.locator('td').last.inner_text()!r}",
        )
    # x ticks the row the keyboard is on; k goes back up.
    wide.keyboard.press("x")
    assert rows.nth(2).locator("td.pick input").is_checked()
    wide.keyboard.press("k")
    assert "kbd-current" in (rows.nth(1).get_attribute("class") or "")
    wide.keyboard.press("x")
    assert rows.nth(1).locator("td.pick input").is_checked()
    wide.keyboard.press("x")
    assert not rows.nth(1).locator("td.pick input").is_checked()

    # Defender has the three assigned to the analyst.
    truth = _truth(console, tenant_id)
    assert [truth[alert_id]["assignedTo"] for alert_id in chosen] == [me, me, me]

    # "?" lists the keys.
    wide.keyboard.press("?")
    assert wide.locator("#shortcut-help").is_visible()
    assert "assign the row to me" in wide.inner_text("#shortcut-help")
