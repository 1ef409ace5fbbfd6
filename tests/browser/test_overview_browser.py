"""The overview in Chromium, against the running portal, its worker and the sandbox: from
the home page to the overview, and two of its figures clicked, each opening the alert
list with exactly as many alerts as the figure said."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.browser.conftest import ALERTS_PER_TENANT, Console

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]

ROWS = "#alert-table tbody tr[data-alert-id]"


def _click_figure_and_count(page: Any, console: Console, figure_id: str) -> tuple[int, int]:
    """(the figure's number, the rows of the list its link opens)."""
    page.goto(f"{console.url}/overview/")
    figure = int(page.inner_text(f"#{figure_id} .count"))
    page.click(f"#{figure_id}")
    page.wait_for_url("**/alerts/?*")
    page.wait_for_selector("#alert-table")
    return figure, page.locator(ROWS).count()


def test_overview_figures_open_lists_of_exactly_that_many(
    page: Any, console: Console, artifacts_dir: Path
) -> None:
    page.goto(f"{console.url}/")
    page.click("#home-overview a[href='/overview/']")
    page.wait_for_selector("#overview-figures")
    page.screenshot(path=str(artifacts_dir / "overview.png"), full_page=True)

    open_figure, open_rows = _click_figure_and_count(page, console, "fig-open")
    # The sandbox's alerts are new, in progress or resolved: some are open.
    assert 0 < open_figure <= ALERTS_PER_TENANT * len(console.customers)
    assert open_rows == open_figure

    unassigned_figure, unassigned_rows = _click_figure_and_count(page, console, "fig-unassigned")
    assert 0 < unassigned_figure <= open_figure
    assert unassigned_rows == unassigned_figure
    assert page.is_checked("#id_unassigned")


def test_overview_fits_a_phone(page: Any, console: Console) -> None:
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{console.url}/overview/")
    page.wait_for_selector("#overview-figures")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
