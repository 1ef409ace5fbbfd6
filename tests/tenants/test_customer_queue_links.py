"""A customer leads to its alerts and incidents: from the customer list, the customer's
page and tenant health, to the queues filtered to that customer alone."""

from __future__ import annotations

import pytest
from django.test import Client

from partner_portal.core.access import Role
from tests.alerts.factories import AlertFactory, CustomerFactory, IncidentFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def lead_client() -> Client:
    """Onboarding staff who also triage (every customer's alerts)."""
    user = UserFactory(username="lead", roles=[Role.ONBOARDING, Role.ANALYST, Role.ADMIN])
    client = Client()
    client.force_login(user)
    return client


def test_customer_list_page_and_health_link_to_the_customers_queues(lead_client: Client) -> None:
    contoso = CustomerFactory(display_name="Contoso")
    fabrikam = CustomerFactory(display_name="Fabrikam")
    mine = AlertFactory(customer=contoso, title="Contoso alert")
    resolved = AlertFactory(customer=contoso, title="Contoso resolved alert", status="Resolved")
    AlertFactory(customer=fabrikam, title="Fabrikam alert")
    IncidentFactory(customer=contoso, name="Contoso incident")
    IncidentFactory(customer=contoso, name="Contoso resolved incident", status="Resolved")
    IncidentFactory(customer=fabrikam, name="Fabrikam incident")
    # A customer's alerts, resolved too: the list alone would show the open ones.
    alerts_link = f'href="/alerts/?customer={contoso.pk}&amp;status=all"'
    # Its incidents still to work on: the queue's default, the open ones.
    incidents_link = f'href="/incidents/?customer={contoso.pk}"'
    for url in ("/customers/", f"/customers/{contoso.pk}/", "/health/"):
        page = lead_client.get(url).content.decode()
        assert alerts_link in page and incidents_link in page, url

    alerts = lead_client.get(f"/alerts/?customer={contoso.pk}&status=all").content.decode()
    assert mine.title in alerts and "Fabrikam alert" not in alerts
    assert resolved.title in alerts
    incidents = lead_client.get(f"/incidents/?customer={contoso.pk}").content.decode()
    assert "Contoso incident" in incidents and "Fabrikam incident" not in incidents
    assert "Contoso resolved incident" not in incidents


def test_staff_who_do_not_triage_get_no_queue_links(staff_client: Client) -> None:
    contoso = CustomerFactory(display_name="Contoso")
    page = staff_client.get(f"/customers/{contoso.pk}/").content.decode()
    assert "/alerts/?customer=" not in page
    assert "/incidents/?customer=" not in page
