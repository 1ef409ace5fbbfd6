"""At 390 by 844 px (a phone) the customer list, a customer's page, an alert's page and the
audit log fit the screen: nothing scrolls sideways, tables become labelled cards, and the
multi-select hint meant for a keyboard is not shown."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from tenants.models import CustomerStatus
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.fixtures.browser import signed_in_context
from tests.tenants.factories import AuditEventFactory, ConsentRequestFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
# The elements that reach past the right edge, to say what made the page too wide.
TOO_WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .slice(0, 8).map(e => e.tagName + '.' + e.className + '#' + e.id + ' '
    + Math.round(e.getBoundingClientRect().right))"""


@pytest.fixture
def phone(module_browser: Any, live_server: Any) -> Iterator[Any]:
    context = signed_in_context(
        module_browser, live_server, viewport=PHONE, is_mobile=True, has_touch=True
    )
    yield context.new_page()
    context.close()


def test_pages_fit_a_phone_and_tables_become_labelled_cards(phone: Any) -> None:
    customer = CustomerFactory(
        display_name="Adventure Works Cycles International",
        tenant_id="8f5e2c1a-1b2c-4d3e-9f80-a1b2c3d4e5f6",
        contact_name="Maria Fernandez-Gutierrez",
        contact_email="security-operations-team@adventure-works-cycles.example",
        status=CustomerStatus.ACTIVE,
        last_verified_at=timezone.now(),
        granted_roles=["Alert.Read.All", "Incident.Read.All"],
    )
    ConsentRequestFactory(customer=customer)
    CustomerFactory(display_name="Northwind", status=CustomerStatus.PENDING_CONSENT)
    alert = AlertFactory(
        customer=customer,
        title="Suspicious PowerShell command line with an encoded payload",
        classification="InformationalExpectedActivity",
        computer_dns_name="workstation-0042.corp.adventure-works-cycles.example",
        machine_id="1e5b7f0c3a9d8e2f4b6a1c3e5d7f9a0b2c4e6f8a",
        investigation_state="UnsupportedAlertType",
        mitre_techniques=["T1059.001", "T1027", "T1105", "T1547.001", "T1218.011"],
    )
    AuditEventFactory(
        actor_label="security-operations-team@adventure-works-cycles.example",
        action="customer.consent_link_created", customer=customer,
        summary="Consent link created for Adventure Works Cycles International",
    )  # fmt: skip
    pages = ("/customers/", f"/customers/{customer.pk}/", f"/alerts/{alert.pk}/", "/audit/",
             "/health/", "/alerts/", "/incidents/")  # fmt: skip
    for url in pages:
        phone.goto(url)
        width = phone.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{url} is {width} px wide: {phone.evaluate(TOO_WIDE)}"

    # Stacked rows are labelled cards: every cell shows its column's name before it.
    for url in ("/customers/", "/audit/", "/health/"):
        phone.goto(url)
        headers = phone.locator("table.responsive thead th").all_inner_texts()
        cells = phone.locator("table.responsive tbody tr").first.locator("td[data-label]")
        labels = cells.evaluate_all("cells => cells.map(c => c.dataset.label)")
        assert labels and set(labels) <= set(headers), (url, labels, headers)
        shown = cells.evaluate_all(
            "cells => cells.map(c => getComputedStyle(c, '::before').content)"
        )
        assert all(content not in ("none", "normal", "") for content in shown), (url, shown)
        assert phone.locator("table.responsive thead").first.is_hidden()

    phone.goto("/alerts/")
    hint = phone.locator("text=Hold Ctrl")
    assert hint.count() == 0 or not hint.first.is_visible()
