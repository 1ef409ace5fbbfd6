"""The alert list as a work queue: open alerts by default, "assigned to me", saved views
(personal and shared, always read through the viewer's scope), canonical links, counts
that filter and the page's position."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from django.test import Client

from partner_portal.alerts.models import Alert, SavedView
from partner_portal.alerts.queue_links import position_text
from partner_portal.alerts.reads import alert_list as list_reads
from partner_portal.alerts.reads.alert_list import PAGE_SIZE, capped_count
from partner_portal.alerts.saved_views import CREATED, DELETED
from partner_portal.core.access import Role
from tenants.models import AuditEvent
from tests.alerts.factories import (
    AlertFactory,
    CustomerFactory,
    IncidentFactory,
    SavedViewFactory,
)
from tests.factories import UserFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

ROW_ID = re.compile(r'<tr data-alert-id="(\d+)"')


def row_ids(response: Any) -> set[int]:
    return {int(pk) for pk in ROW_ID.findall(response.content.decode())}


def hrefs(html: str, marker: str) -> list[str]:
    return [
        href.replace("&amp;", "&") for href in re.findall(rf'<a href="([^"]*)"[^>]*{marker}', html)
    ]


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


# --- open by default -------------------------------------------------------------------------
def test_the_list_shows_open_alerts_unless_asked_for_every_status(
    admin_client_portal: Client,
) -> None:
    new = AlertFactory(status="New")
    in_progress = AlertFactory(status="InProgress")
    resolved = AlertFactory(status="Resolved")
    assert row_ids(admin_client_portal.get("/alerts/")) == {new.pk, in_progress.pk}
    every = admin_client_portal.get("/alerts/?status=all")
    assert row_ids(every) == {new.pk, in_progress.pk, resolved.pk}
    assert '<option value="all" selected>All statuses</option>' in every.content.decode()
    only = admin_client_portal.get("/alerts/?status=Resolved")
    assert row_ids(only) == {resolved.pk}
    page = admin_client_portal.get("/alerts/").content.decode()
    assert '<option value="" selected>Open (New, In progress)</option>' in page


def test_exports_follow_the_list_open_by_default_every_status_when_asked(
    admin_client_portal: Client,
) -> None:
    AlertFactory(status="New", title="still open")
    AlertFactory(status="Resolved", title="long closed")
    default = admin_client_portal.get("/alerts/export.csv").getvalue().decode()
    assert "still open" in default and "long closed" not in default
    every = admin_client_portal.get("/alerts/export.csv?status=all").getvalue().decode()
    assert "still open" in every and "long closed" in every


# --- assigned to me --------------------------------------------------------------------------
def test_assigned_to_me_lists_the_alerts_assigned_to_the_analysts_email(
    analyst: Any, analyst_client: Client
) -> None:
    customer = CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=customer)
    mine = AlertFactory(customer=customer, assigned_to=analyst.email.upper())
    AlertFactory(customer=customer, assigned_to="someone@partner.example")
    AlertFactory(customer=customer, assigned_to="")
    # Assigned to the analyst but at a customer outside the scope: never shown.
    AlertFactory(assigned_to=analyst.email)
    response = analyst_client.get("/alerts/?mine=on")
    assert row_ids(response) == {mine.pk}
    html = response.content.decode()
    assert 'name="mine" value="on" id="id_mine" checked' in html
    assert f'data-me="{analyst.email}"' in html


def test_assigned_to_me_and_an_assignee_together_are_refused_in_words(
    analyst_client: Client,
) -> None:
    response = analyst_client.get("/alerts/?mine=on&assigned_to=bob@partner.example")
    assert response.status_code == 400
    assert "either “Assigned to me” or an assignee" in response.content.decode()


# --- saved views -----------------------------------------------------------------------------
def test_a_saved_view_keeps_only_the_filters_that_hold_a_value(analyst: Any) -> None:
    client = signed_in(analyst)
    query = "q=lsass&severity=High&status=&customer=&category=&sort=&period="
    response = client.post("/alerts/views/", {"name": "  Hot   lsass ", "query": query})
    assert response.status_code == 302
    view = SavedView.objects.get(owner=analyst)
    assert view.name == "Hot lsass" and view.query == "q=lsass&severity=High"
    assert response["Location"] == "/alerts/?q=lsass&severity=High"
    assert not AuditEvent.objects.filter(action__startswith="saved_view").exists()


def test_personal_views_are_their_owners_and_shared_ones_everyones(analyst: Any) -> None:
    colleague = UserFactory(username="colleague", roles=[Role.ANALYST])
    SavedViewFactory(owner=analyst, name="Mine only")
    SavedViewFactory(owner=colleague, name="Colleague private")
    SavedViewFactory(owner=colleague, name="Night shift", shared=True)
    page = signed_in(analyst).get("/alerts/").content.decode()
    assert "Mine only" in page and "Night shift" in page
    assert "Colleague private" not in page


def test_a_shared_view_never_shows_another_analysts_customers(analyst: Any) -> None:
    mine, theirs = CustomerFactory(), CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=mine)
    colleague = UserFactory(username="colleague", roles=[Role.ANALYST])
    AnalystScopeFactory(user=colleague, customer=theirs)
    AlertFactory(customer=theirs, severity="High", title="Theirs")
    own = AlertFactory(customer=mine, severity="High", title="Ours")
    signed_in(colleague).post(
        "/alerts/views/",
        {"name": "Their high", "query": f"customer={theirs.pk}&severity=High", "shared": "on"},
    )
    view = SavedView.objects.get(name="Their high")
    assert view.shared and view.query == f"customer={theirs.pk}&severity=High"
    # Opened by the analyst: the foreign customer is left out, and nothing of it shows.
    opened = signed_in(analyst).get(f"/alerts/?{view.query}")
    assert row_ids(opened) == set()
    assert "not in your scope" in opened.content.decode()
    assert "Theirs" not in opened.content.decode()
    # A shared view with no customer shows each analyst their own customers only.
    SavedViewFactory(owner=colleague, name="All high", query="severity=High", shared=True)
    assert row_ids(signed_in(analyst).get("/alerts/?severity=High")) == {own.pk}


def test_shared_views_are_audited_and_only_their_owner_deletes_them(analyst: Any) -> None:
    colleague = UserFactory(username="colleague", roles=[Role.ANALYST])
    signed_in(colleague).post(
        "/alerts/views/", {"name": "Triage", "query": "severity=High", "shared": "on"}
    )
    view = SavedView.objects.get(name="Triage")
    created = AuditEvent.objects.get(action=CREATED)
    assert created.actor == colleague and "Triage" in created.summary
    refused = signed_in(analyst).post(f"/alerts/views/{view.pk}/delete/", follow=True)
    assert SavedView.objects.filter(pk=view.pk).exists()
    assert "not one of yours" in refused.content.decode()
    signed_in(colleague).post(f"/alerts/views/{view.pk}/delete/")
    assert not SavedView.objects.filter(pk=view.pk).exists()
    assert AuditEvent.objects.get(action=DELETED).actor == colleague


def test_a_view_without_a_name_is_not_saved_and_says_why(analyst_client: Client) -> None:
    response = analyst_client.post("/alerts/views/", {"name": "  ", "query": "q=x"}, follow=True)
    assert not SavedView.objects.exists()
    assert "The view was not saved" in response.content.decode()


# --- canonical links, clickable counts, position ---------------------------------------------
def test_the_page_writes_only_non_empty_filters_into_its_links(
    admin_client_portal: Client,
) -> None:
    customer = CustomerFactory()
    AlertFactory.create_batch(PAGE_SIZE + 3, customer=customer, severity="High")
    response = admin_client_portal.get(
        "/alerts/?q=&severity=High&status=&customer=&category=&period=&sort=&product="
    )
    html = response.content.decode()
    older = hrefs(html, 'rel="next"')[0]
    keys = [key for key, _ in parse_qsl(urlsplit(older).query, keep_blank_values=True)]
    assert keys == ["severity", "after", "start"]
    assert 'data-counts-url="/alerts/counts/?severity=High"' in html
    assert '<a href="/alerts/?severity=High&amp;sort=oldest">' in html
    # The saved-view form keeps the same canonical filter.
    assert '<input type="hidden" name="query" value="severity=High">' in html


def test_counts_link_to_the_filter_narrowed_to_their_value(admin_client_portal: Client) -> None:
    AlertFactory.create_batch(2, severity="High", status="New")
    AlertFactory(severity="Low", status="InProgress")
    html = admin_client_portal.get("/alerts/counts/?q=&mine=").content.decode()
    severity = hrefs(html, 'data-count-link="severity"')
    status = hrefs(html, 'data-count-link="status"')
    assert "/alerts/?severity=High" in severity
    assert "/alerts/?status=InProgress" in status
    # Resolved alerts are outside the (open) filter: their zero links nowhere.
    assert not any("status=Resolved" in url for url in status)
    assert '<strong data-status="Resolved">0</strong>' in html
    high = admin_client_portal.get("/alerts/?severity=High")
    assert len(row_ids(high)) == 2


def test_the_page_says_where_it_stands_in_the_matches(admin_client_portal: Client) -> None:
    AlertFactory.create_batch(PAGE_SIZE + 5)
    first = admin_client_portal.get("/alerts/").content.decode()
    assert "1\u201350 of 55" in first
    older = hrefs(first, 'rel="next"')[0]
    second = admin_client_portal.get(older).content.decode()
    assert "51\u201355 of 55" in second
    newer = hrefs(second, 'rel="prev"')[0]
    assert "1\u201350 of 55" in admin_client_portal.get(newer).content.decode()


def test_the_count_stops_at_its_cap_and_says_so() -> None:
    AlertFactory.create_batch(7)
    assert capped_count(Alert.objects.all(), cap=5) == (5, True)
    assert capped_count(Alert.objects.all(), cap=7) == (7, False)
    assert list_reads.COUNT_CAP == 10_000
    assert position_text(start=0, shown=5, matched=5, more=True) == "1\u20135 of 5+"
    assert position_text(start=10_000, shown=50, matched=10_000, more=True) == (
        "10,001\u201310,050 of 10,000+"
    )
    assert position_text(start=0, shown=0, matched=0) == ""


def test_the_incident_queue_offers_assigned_to_me_too(analyst: Any, analyst_client: Client) -> None:
    customer = CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=customer)
    mine = IncidentFactory(customer=customer, assigned_to=analyst.email)
    IncidentFactory(customer=customer, assigned_to="someone@partner.example")
    html = analyst_client.get("/incidents/?mine=on").content.decode()
    assert re.findall(r'<tr data-incident-id="(\d+)"', html) == [str(mine.pk)]
    assert 'name="mine" value="on" id="id_mine" checked' in html


def test_more_filters_open_only_when_one_of_them_holds_a_value(
    admin_client_portal: Client,
) -> None:
    def more_open(query: str) -> bool:
        html = admin_client_portal.get("/alerts/" + query).content.decode()
        return '<details class="more-filters" id="more-filters" open>' in html

    assert not more_open("")
    assert not more_open("?severity=High&status=all&mine=on&q=x&sort=severity")
    assert not more_open("?category=&period=")
    assert more_open("?category=Malware")
    assert more_open("?period=7d")
