"""Counts for the current filter, and the live-update poll of the alert list."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from partner_portal.alerts.models import Alert
from partner_portal.alerts.reads.alert_list import LIVE_LIMIT
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


def count_of(html: str, kind: str, name: str) -> int:
    match = re.search(rf'<strong data-{kind}="{name}">(\d+)</strong>', html)
    assert match, (kind, name)
    return int(match.group(1))


def since_id_on_page(client: Client, query: str = "") -> int:
    html = client.get("/alerts/" + query).content.decode()
    match = re.search(r'data-since-id="(\d+)"', html)
    assert match
    return int(match.group(1))


@pytest.fixture
def scoped(analyst: Any) -> tuple[Client, Any, Any]:
    mine, theirs = CustomerFactory(), CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=mine)
    client = Client()
    client.force_login(analyst)
    return client, mine, theirs


def test_counts_by_severity_and_status_follow_the_filter_and_the_scope(
    scoped: tuple[Client, Any, Any],
) -> None:
    client, mine, theirs = scoped
    AlertFactory.create_batch(3, customer=mine, severity="High", status="New")
    AlertFactory.create_batch(2, customer=mine, severity="Low", status="Resolved")
    AlertFactory(customer=mine, severity="Medium", status="InProgress", category="Malware")
    AlertFactory.create_batch(5, customer=theirs, severity="High", status="New")

    html = client.get("/alerts/counts/?status=all").content.decode()
    assert 'id="severity-counts"' in html and 'id="status-counts"' in html
    assert count_of(html, "severity", "High") == 3
    assert count_of(html, "severity", "Low") == 2
    assert count_of(html, "severity", "Informational") == 0
    assert count_of(html, "status", "New") == 3
    assert count_of(html, "status", "InProgress") == 1
    assert "6 alerts match." in html

    # The list's own default: the open alerts.
    assert "4 alerts match." in client.get("/alerts/counts/").content.decode()
    narrowed = client.get("/alerts/counts/?status=New&status=InProgress").content.decode()
    assert count_of(narrowed, "severity", "High") == 3
    assert count_of(narrowed, "severity", "Low") == 0
    assert count_of(narrowed, "status", "Resolved") == 0
    only_malware = client.get("/alerts/counts/?category=Malware").content.decode()
    assert "1 alert match." in only_malware


def test_the_list_page_points_at_counts_for_its_own_filter(admin_client_portal: Client) -> None:
    html = admin_client_portal.get("/alerts/?severity=High&q=lsass").content.decode()
    assert 'data-counts-url="/alerts/counts/?severity=High&amp;q=lsass"' in html


def test_counts_refuse_an_invalid_filter(admin_client_portal: Client) -> None:
    response = admin_client_portal.get("/alerts/counts/?status=Closed")
    assert response.status_code == 400
    assert "status" in response.json()["errors"]


def test_live_poll_reports_new_matching_alerts_only(scoped: tuple[Client, Any, Any]) -> None:
    client, mine, theirs = scoped
    AlertFactory(customer=mine, severity="High")
    mark = since_id_on_page(client, "?severity=High")
    assert mark == Alert.objects.get().pk

    fresh_high = AlertFactory(customer=mine, severity="High", title="Fresh <one>")
    AlertFactory(customer=mine, severity="Low")  # does not match the filter
    AlertFactory(customer=theirs, severity="High")  # outside the scope

    data = client.get(f"/alerts/live/?severity=High&since_id={mark}").json()
    assert data["count"] == 1 and data["shown"] == 1
    assert f'<tr data-alert-id="{fresh_high.pk}" class="fresh">' in data["rows_html"]
    assert "Fresh &lt;one&gt;" in data["rows_html"]
    assert data["since_id"] >= fresh_high.pk

    again = client.get(f"/alerts/live/?severity=High&since_id={data['since_id']}").json()
    assert again["count"] == 0 and again["rows_html"].strip() == ""


def test_live_poll_caps_the_rows_it_sends(admin_client_portal: Client) -> None:
    AlertFactory.create_batch(LIVE_LIMIT + 3)
    data = admin_client_portal.get("/alerts/live/?since_id=0").json()
    assert data["count"] == LIVE_LIMIT + 3
    assert data["shown"] == LIVE_LIMIT
    assert data["rows_html"].count("<tr data-alert-id=") == LIVE_LIMIT


def test_live_poll_needs_a_valid_mark(admin_client_portal: Client) -> None:
    assert admin_client_portal.get("/alerts/live/").status_code == 400
    assert admin_client_portal.get("/alerts/live/?since_id=-4").status_code == 400


def test_live_poll_is_configurable_on_the_table(admin_client_portal: Client) -> None:
    html = admin_client_portal.get("/alerts/?status=New").content.decode()
    assert re.search(r'<table id="alert-table"[^>]*data-poll-seconds="\d+"', html, re.S)
    assert 'data-live-url="/alerts/live/?status=New"' in html
    assert 'data-first-page="true"' in html


def _without_csrf(html: str) -> str:
    # The CSRF token is masked afresh on every response; everything else must match.
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]*"', "", html)


def test_other_customers_alerts_leave_a_scoped_analysts_page_and_poll_unchanged(
    scoped: tuple[Client, Any, Any],
) -> None:
    client, mine, theirs = scoped
    AlertFactory(customer=theirs)
    own = AlertFactory.create_batch(2, customer=mine)
    AlertFactory(customer=theirs)  # the table's highest pk belongs to another customer
    page_before = _without_csrf(client.get("/alerts/").content.decode())
    mark = since_id_on_page(client)
    assert mark == own[-1].pk
    live_before = client.get(f"/alerts/live/?since_id={mark}").json()
    stale_before = client.get(f"/alerts/live/?since_id={own[0].pk}").json()
    counts_before = client.get("/alerts/counts/").content

    AlertFactory.create_batch(7, customer=theirs)

    assert _without_csrf(client.get("/alerts/").content.decode()) == page_before
    assert client.get(f"/alerts/live/?since_id={mark}").json() == live_before
    assert (live_before["count"], live_before["since_id"]) == (0, mark)
    assert live_before["rows_html"].strip() == ""
    assert client.get(f"/alerts/live/?since_id={own[0].pk}").json() == stale_before
    assert stale_before["since_id"] == mark and stale_before["count"] == 1
    assert client.get("/alerts/counts/").content == counts_before

    # An alert of the analyst's own customer still moves the mark and shows up.
    fresh = AlertFactory(customer=mine)
    data = client.get(f"/alerts/live/?since_id={mark}").json()
    assert data["count"] == 1 and data["since_id"] == fresh.pk
    assert since_id_on_page(client) == fresh.pk


def test_an_analyst_with_an_empty_scope_gets_a_zero_mark(analyst: Any) -> None:
    AlertFactory.create_batch(3)
    client = Client()
    client.force_login(analyst)
    assert since_id_on_page(client) == 0
    data = client.get("/alerts/live/?since_id=0").json()
    assert (data["count"], data["since_id"], data["rows_html"].strip()) == (0, 0, "")


def test_an_admin_mark_is_the_newest_alert_of_any_customer(admin_client_portal: Client) -> None:
    alerts = AlertFactory.create_batch(3)
    assert since_id_on_page(admin_client_portal) == alerts[-1].pk
