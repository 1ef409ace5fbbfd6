"""Evidence fetched when an analyst opens an alert of the legacy API stored without it."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from partner_portal.alerts import evidence_on_demand
from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync import passes
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.tenants.factories import AnalystScopeFactory


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    cache.clear()


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_an_alert_stored_without_evidence_gets_it_from_defender_when_opened(
    sandbox_factory: Any, bind_customers: Any, settings: Any, analyst: Any
) -> None:
    settings.SYNC_EVIDENCE_SEVERITIES = []  # the sync fetches no evidence at all
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=30, seed=41)
    (customer,) = bind_customers(sandbox)
    passes.sync_source(customer_id=customer.pk, source="alerts")
    alert = Alert.objects.filter(customer=customer).order_by("pk").first()
    assert alert is not None and not alert.has_evidence
    AnalystScopeFactory(user=analyst, customer=customer)
    client = Client()
    client.force_login(analyst)

    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "Fetching this alert's evidence from Defender" in page
    assert client.get(f"/alerts/{alert.pk}/evidence/").json()["state"] == "pending"

    # The task the page queued (run here rather than by a worker).
    assert evidence_on_demand.fetch_evidence(alert_pk=alert.pk) == "ready"
    alert.refresh_from_db()
    assert alert.has_evidence and alert.raw["evidence"]
    assert client.get(f"/alerts/{alert.pk}/evidence/").json()["state"] == "ready"
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "Fetching this alert" not in page and 'class="evidence-item' in page


@pytest.mark.django_db
def test_opening_the_page_queues_one_fetch_per_cooldown(
    analyst_client: Client, analyst: Any, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=customer)
    alert = AlertFactory(customer=customer, has_evidence=False, from_graph=False)
    with django_capture_on_commit_callbacks() as first:
        analyst_client.get(f"/alerts/{alert.pk}/")
    with django_capture_on_commit_callbacks() as second:
        analyst_client.get(f"/alerts/{alert.pk}/")
    assert len(first) == 1 and len(second) == 0


@pytest.mark.django_db
def test_graph_alerts_and_alerts_with_evidence_are_never_fetched(
    analyst_client: Client, analyst: Any, django_capture_on_commit_callbacks: Any
) -> None:
    customer = CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=customer)
    graph = AlertFactory(customer=customer, has_evidence=False, from_graph=True)
    kept = AlertFactory(customer=customer, has_evidence=True, from_graph=False)
    with django_capture_on_commit_callbacks() as queued:
        for alert in (graph, kept):
            analyst_client.get(f"/alerts/{alert.pk}/")
    assert queued == []
    page = analyst_client.get(f"/alerts/{graph.pk}/").content.decode()
    assert "Defender reported no evidence for this alert." in page


@pytest.mark.django_db
def test_a_failed_fetch_is_said_in_words_on_the_page(
    analyst_client: Client, analyst: Any, settings: Any
) -> None:
    # No partner app and no sandbox configured: asking Microsoft fails.
    settings.PARTNER_APP_CLIENT_ID = ""
    settings.SANDBOX_CONFIG_FILE = "/nonexistent/sandbox.json"
    customer = CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=customer)
    alert = AlertFactory(customer=customer, has_evidence=False, from_graph=False)
    analyst_client.get(f"/alerts/{alert.pk}/")
    assert evidence_on_demand.fetch_evidence(alert_pk=alert.pk) == "failed"
    state = analyst_client.get(f"/alerts/{alert.pk}/evidence/").json()
    assert state["state"] == "failed" and state["words"]
    page = analyst_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "The evidence could not be fetched from Defender" in page


@pytest.mark.django_db
def test_another_customers_alert_state_is_not_found(analyst_client: Client) -> None:
    alert = AlertFactory(has_evidence=False)
    assert analyst_client.get(f"/alerts/{alert.pk}/evidence/").status_code == 404
