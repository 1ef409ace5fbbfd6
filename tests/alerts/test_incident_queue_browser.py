"""The incident queue in a real browser: open incidents first, then filtered by product,
severity and "All statuses", its counts load and agree with the rows, a count's link
shows what it counted, and a new incident appears on request."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from partner_portal.alerts.reads import incident_queue
from partner_portal.alerts.views import alert_list as list_views
from tests.alerts.factories import AlertFactory, CustomerFactory, IncidentFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
# The browser and the signed-in page are `tests.fixtures.browser`'s.

OFFICE = "microsoftDefenderForOffice365"
ENDPOINT = "microsoftDefenderForEndpoint"


def _incident(customer: Any, number: int, *, product: str, **fields: Any) -> Any:
    incident = IncidentFactory(customer=customer, incident_id=number, **fields)
    AlertFactory(customer=customer, incident_id=number, service_source=product, from_graph=True)
    return incident


def test_filter_by_product_and_severity_and_the_counts_match_the_rows(
    signed_in_page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(list_views, "POLL_SECONDS", 0.5)
    monkeypatch.setattr(incident_queue, "SETTLE", timedelta(0))
    page = signed_in_page
    customer = CustomerFactory(display_name="Northwind")
    statuses = ("Active", "InProgress", "Resolved")
    for n in range(9):
        _incident(
            customer, 10 + n, product=OFFICE, name=f"Mail incident {n}",
            severity=("High", "Medium")[n % 2], status=statuses[n % 3],
        )  # fmt: skip
    for n in range(4):
        _incident(customer, 40 + n, product=ENDPOINT, name=f"Device incident {n}", severity="High")

    page.goto("/incidents/")
    page.wait_for_selector('#severity-counts strong[data-severity="High"]')
    # The queue opens on the open incidents and says so; the resolved ones are counted
    # apart, as not shown.
    assert page.locator("#id_status option:checked").inner_text() == (
        "Open (Active, In progress, Awaiting action)"
    )
    assert page.inner_text('#severity-counts strong[data-severity="High"]') == str(3 + 4)
    assert page.inner_text('#other-status-counts strong[data-status="Resolved"]') == "3"

    page.select_option("#id_product", [OFFICE])
    page.check('#incident-filters input[name="severity"][value="High"]')
    page.select_option("#id_status", "all")
    page.click("#apply-filters")
    page.wait_for_url("**/incidents/?*product=*")
    assert "status=all" in page.url
    page.wait_for_selector('#severity-counts strong[data-severity="High"]')

    rows = page.locator("#incident-table tbody tr[data-incident-id]")
    assert rows.count() == 5
    assert all("Mail incident" in text for text in rows.all_inner_texts())
    assert page.inner_text('#severity-counts strong[data-severity="High"]') == "5"
    assert "5 incidents match." in page.inner_text("#incident-counts")
    by_status = {
        status: int(page.inner_text(f'#status-counts strong[data-status="{status}"]'))
        for status in statuses
    }
    shown = [row.split("\t") for row in rows.all_inner_texts()]
    assert sum(by_status.values()) == rows.count()
    for status, label in (("Active", "Active"), ("InProgress", "In progress")):
        assert by_status[status] == sum(1 for cells in shown if label in cells), status

    # A count's link shows exactly what it counted.
    page.click('#status-counts a:has(strong[data-status="InProgress"])')
    page.wait_for_url("**status=InProgress*")
    page.wait_for_selector('#status-counts strong[data-status="InProgress"]')
    assert rows.count() == by_status["InProgress"]
    assert page.input_value("#id_product") == OFFICE

    # A new incident of the filter appears when the analyst asks for it.
    fresh = _incident(
        customer, 99, product=OFFICE, name="Arrived while watching", severity="High",
        status="InProgress", synced_at=timezone.now(),
    )  # fmt: skip
    page.wait_for_selector("#new-incidents:not([hidden])", timeout=10_000)
    assert "1 new or changed incident" in page.inner_text("#new-incidents")
    page.click("#new-incidents [data-show-new]")
    page.wait_for_selector(f'#incident-table tbody tr[data-incident-id="{fresh.pk}"]')
    assert page.script_errors == []
