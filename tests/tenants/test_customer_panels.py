"""Apps above tenants add cards to the customer page through `tenants.panels`."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from partner_portal.alerts.customer_panels import SYNC_PANEL
from tenants import panels
from tenants.models import Customer
from tests.tenants.factories import CustomerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def extra_template(tmp_path: Path, settings: Any) -> Path:
    """A template directory searched before the project's, for a panel of this test."""
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["DIRS"] = [tmp_path, *templates[0]["DIRS"]]
    settings.TEMPLATES = templates
    (tmp_path / "note_panel.html").write_text(
        '<section class="card" id="note">{{ note }} for {{ customer.display_name }}</section>'
    )
    return tmp_path


@pytest.fixture
def note_panel(extra_template: Path) -> Iterator[None]:
    def source(customer: Customer) -> panels.Panel | None:
        if customer.display_name == "Quiet":
            return None
        return panels.Panel("note_panel.html", {"note": "Renewal <due>"})

    panels.register_customer_panel("test.note", source)
    yield
    panels.unregister_customer_panel("test.note")


def test_the_alerts_app_registers_its_sync_card() -> None:
    assert panels.registered_customer_panels()[0] == SYNC_PANEL


def test_a_registered_panel_is_shown_after_the_earlier_ones(
    staff_client: Client, note_panel: None
) -> None:
    customer = CustomerFactory(display_name="Contoso")
    html = staff_client.get(reverse("tenants:customer_detail", args=[customer.pk])).content.decode()
    assert '<section class="card" id="note">Renewal &lt;due&gt; for Contoso</section>' in html
    assert html.index('id="customer-sync"') < html.index('id="note"') < html.index("Timeline")


def test_a_panel_may_show_nothing_for_a_customer(staff_client: Client, note_panel: None) -> None:
    customer = CustomerFactory(display_name="Quiet")
    html = staff_client.get(reverse("tenants:customer_detail", args=[customer.pk])).content.decode()
    assert 'id="note"' not in html
    assert 'id="customer-sync"' in html


def test_registering_a_name_again_replaces_the_panel_in_place(note_panel: None) -> None:
    before = panels.registered_customer_panels()
    panels.register_customer_panel("test.note", lambda customer: None)
    assert panels.registered_customer_panels() == before
    shown = panels.customer_panels(customer=CustomerFactory(display_name="Contoso"))
    assert [panel.template_name for panel in shown] == ["alerts/_customer_sync.html"]
