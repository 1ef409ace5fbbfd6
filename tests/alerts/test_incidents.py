"""Incidents: the scoped list with filters, and one incident with its alerts."""

from __future__ import annotations

import pytest
from django.test import Client

from tests.alerts.factories import AlertFactory, CustomerFactory, IncidentFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(analyst: object) -> dict[str, object]:
    mine = CustomerFactory(display_name="Contoso")
    theirs = CustomerFactory(display_name="Fabrikam")
    AnalystScopeFactory(user=analyst, customer=mine)
    client = Client()
    client.force_login(analyst)  # type: ignore[arg-type]
    return {
        "client": client,
        "mine": mine,
        "theirs": theirs,
        "open": IncidentFactory(
            customer=mine, incident_id=10, name="Ransomware staging", status="Active",
            severity="High", alert_ids=["a-1", "a-missing"],
        ),
        "closed": IncidentFactory(
            customer=mine, incident_id=11, name="Phishing wave", status="Resolved",
            severity="Low",
        ),
        "foreign": IncidentFactory(
            customer=theirs, incident_id=10, name="Fabrikam breach", status="Active",
            severity="High",
        ),
    }  # fmt: skip


def test_list_shows_only_incidents_of_customers_in_scope(setup: dict) -> None:
    page = setup["client"].get("/incidents/?status=all").content.decode()
    assert "Ransomware staging" in page and "Phishing wave" in page
    assert "Fabrikam" not in page


def test_list_filters_by_status_severity_and_text(setup: dict) -> None:
    client = setup["client"]
    assert "Phishing wave" not in client.get("/incidents/?status=Active").content.decode()
    page = client.get("/incidents/?severity=Low&status=all").content.decode()
    assert "Phishing wave" in page and "Ransomware staging" not in page
    page = client.get("/incidents/?q=ransom").content.decode()
    assert "Ransomware staging" in page and "Phishing wave" not in page


def test_filtering_by_a_customer_outside_the_scope_shows_nothing_of_it(setup: dict) -> None:
    response = setup["client"].get(f"/incidents/?customer={setup['theirs'].pk}")
    assert response.status_code == 200
    assert "Fabrikam" not in response.content.decode()


def test_detail_lists_its_alerts_and_names_the_ones_not_collected(setup: dict) -> None:
    incident = setup["open"]
    by_incident = AlertFactory(customer=setup["mine"], incident_id=10, title="Encryptor dropped")
    by_id = AlertFactory(customer=setup["mine"], alert_id="a-1", title="Shadow copies deleted")
    AlertFactory(customer=setup["theirs"], incident_id=10, title="Fabrikam alert")
    page = setup["client"].get(f"/incidents/{incident.pk}/").content.decode()
    assert f'href="/alerts/{by_incident.pk}/"' in page
    assert f'href="/alerts/{by_id.pk}/"' in page
    assert "a-missing" in page
    assert "Fabrikam" not in page
    assert "https://security.microsoft.com/incidents/10?tid=" in page


def test_another_customers_incident_by_direct_url_is_not_found(setup: dict) -> None:
    assert setup["client"].get(f"/incidents/{setup['foreign'].pk}/").status_code == 404


def test_onboarding_staff_may_not_open_incidents(staff_client: Client) -> None:
    assert staff_client.get("/incidents/").status_code == 403
