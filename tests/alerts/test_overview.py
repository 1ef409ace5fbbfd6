"""The overview: each figure counts exactly what its link lists, within the analyst's scope.

For every figure the test follows its link with the Django test client and counts the
rows the alert (or incident) list shows: the two numbers must agree, and equal what the
seeded data says they should be.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.overview_panels import register_overview_panel, unregister_overview_panel
from partner_portal.alerts.reads.overview import Figure
from partner_portal.core.access import Role
from partner_portal.core.models import PageVisit
from partner_portal.core.panels import Panel
from partner_portal.core.visits import VISIT_GAP, visit_record
from tenants.models import CustomerStatus
from tests.alerts.factories import AlertFactory, CustomerFactory, IncidentFactory
from tests.factories import PageVisitFactory, UserFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

OVERVIEW = "alerts:overview"


def alert_rows(client: Client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    return len(re.findall(r'<tr data-alert-id="', response.content.decode()))


def incident_rows(client: Client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    return len(re.findall(r'<tr data-incident-id="', response.content.decode()))


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def world() -> dict[str, Any]:
    """An analyst scoped to Alpha, Charlie (no consent yet) and Delta (sync failing);
    Bravo and Echo are another analyst's customers."""
    now = timezone.now()
    ago = lambda **kw: now - timedelta(**kw)  # noqa: E731
    alpha = CustomerFactory(display_name="Alpha")
    bravo = CustomerFactory(display_name="Bravo")
    charlie = CustomerFactory(display_name="Charlie", awaiting_consent=True)
    delta = CustomerFactory(
        display_name="Delta",
        status=CustomerStatus.ERROR,
        last_error_message="The tenant refused the token.",
    )
    echo = CustomerFactory(display_name="Echo", awaiting_consent=True)
    analyst = UserFactory(username="overview-analyst", roles=[Role.ANALYST])
    for customer in (alpha, charlie, delta):
        AnalystScopeFactory(user=analyst, customer=customer)
    other = UserFactory(username="bravo-analyst", roles=[Role.ANALYST])
    for customer in (bravo, echo):
        AnalystScopeFactory(user=other, customer=customer)

    AlertFactory(customer=alpha, severity="High", status="New", created_at=ago(hours=1))
    AlertFactory(
        customer=alpha,
        severity="Medium",
        status="InProgress",
        assigned_to="bob@partner.example",
        created_at=ago(minutes=90),
    )
    AlertFactory(customer=alpha, severity="High", status="Resolved", created_at=ago(hours=1))
    AlertFactory(customer=alpha, severity="Low", status="New", created_at=ago(hours=3))
    AlertFactory(customer=alpha, title="Oldest open one", severity="Medium", created_at=ago(days=3))
    AlertFactory(customer=delta, severity="Medium", status="New", created_at=ago(minutes=30))
    # Hidden from the queue by a suppression rule: counted nowhere, listed nowhere.
    AlertFactory(
        customer=alpha, severity="High", status="New", created_at=ago(minutes=20),
        hidden_by_rule=7, hidden_because="Suppression rule #7: pen test",
    )  # fmt: skip
    # Bravo's: newer, older and more serious than Alpha's, and never counted for the analyst.
    AlertFactory(customer=bravo, severity="High", status="New", created_at=ago(minutes=10))
    AlertFactory(customer=bravo, title="Bravo ancient", severity="High", created_at=ago(days=9))

    for status in ("Active", "Active", "InProgress", "Resolved"):
        IncidentFactory(customer=alpha, status=status, created_at=ago(hours=2))
    IncidentFactory(customer=bravo, status="Active", created_at=ago(hours=2))
    IncidentFactory(customer=bravo, status="AwaitingAction", created_at=ago(hours=2))
    return {"analyst": analyst, "other": other, "alpha": alpha, "delta": delta, "now": now}


def test_each_alert_figure_counts_what_its_link_lists(world: dict[str, Any]) -> None:
    client = signed_in(world["analyst"])
    o = client.get(reverse(OVERVIEW)).context["o"]
    expected = {
        o.new_serious: 3,  # Alpha's open High and Medium of today, Delta's Medium
        o.unassigned: 4,  # all open but the one assigned to bob
        o.open_alerts: 5,
    }
    for figure, count in expected.items():
        assert (figure.count, alert_rows(client, figure.url)) == (count, count), figure.label


def test_new_high_and_medium_per_customer_link_to_that_customer(world: dict[str, Any]) -> None:
    client = signed_in(world["analyst"])
    o = client.get(reverse(OVERVIEW)).context["o"]
    assert [(f.label, f.count) for f in o.new_serious_by_customer] == [("Alpha", 2), ("Delta", 1)]
    for figure in o.new_serious_by_customer:
        assert alert_rows(client, figure.url) == figure.count
    assert sum(f.count for f in o.new_serious_by_customer) == o.new_serious.count


def test_oldest_open_alert_is_first_of_its_list(world: dict[str, Any]) -> None:
    client = signed_in(world["analyst"])
    response = client.get(reverse(OVERVIEW))
    o = response.context["o"]
    assert o.oldest_open.title == "Oldest open one"
    listed = client.get(o.open_alerts.url).content.decode()
    first_row = re.search(r'<tr data-alert-id="(\d+)"', listed)
    assert first_row and int(first_row.group(1)) == o.oldest_open.pk
    assert reverse("alerts:detail", args=[o.oldest_open.pk]) in response.content.decode()


def test_open_incident_figures_count_what_the_incident_list_shows(world: dict[str, Any]) -> None:
    client = signed_in(world["analyst"])
    o = client.get(reverse(OVERVIEW)).context["o"]
    counts = {f.label: f.count for f in o.open_incidents}
    assert counts == {"Active": 2, "In progress": 1, "Awaiting action": 0}
    for figure in o.open_incidents:
        assert incident_rows(client, figure.url) == figure.count, figure.label
    # "All open incidents" is the queue as it opens: every open one, no resolved one.
    assert o.open_incidents_url == reverse("alerts:incidents")
    assert incident_rows(client, o.open_incidents_url) == sum(counts.values())
    assert f'href="{o.open_incidents_url}" id="all-open-incidents"' in (
        client.get(reverse(OVERVIEW)).content.decode()
    )


def test_customers_without_consent_or_failing_are_named_within_scope(
    world: dict[str, Any],
) -> None:
    client = signed_in(world["analyst"])
    response = client.get(reverse(OVERVIEW))
    problems = {p.name: p.reason for p in response.context["o"].problems}
    assert problems == {
        "Charlie": "No consent yet (pending consent)",
        "Delta": "The tenant refused the token.",
    }
    delta = next(p for p in response.context["o"].problems if p.name == "Delta")
    assert alert_rows(client, delta.alerts_url) == 1


def test_new_since_last_visit_counts_from_the_end_of_the_previous_visit(
    world: dict[str, Any],
) -> None:
    PageVisitFactory(
        user=world["analyst"], page=OVERVIEW, last_seen_at=world["now"] - timedelta(hours=2)
    )
    client = signed_in(world["analyst"])
    figure = client.get(reverse(OVERVIEW)).context["o"].since_last_visit
    # Alpha's High (open and resolved) and Medium, Delta's Medium: all within two hours.
    assert (figure.count, alert_rows(client, figure.url)) == (4, 4)
    # A reload moments later is the same visit: what was new stays new.
    again = client.get(reverse(OVERVIEW)).context["o"].since_last_visit
    assert again.count == 4


def test_first_visit_has_no_mark_and_says_so(world: dict[str, Any]) -> None:
    response = signed_in(world["analyst"]).get(reverse(OVERVIEW))
    assert response.context["o"].since_last_visit is None
    assert "This is your first visit" in response.content.decode()
    assert PageVisit.objects.filter(user=world["analyst"], page=OVERVIEW).count() == 1


def test_a_visit_after_the_gap_moves_the_mark_to_the_last_view() -> None:
    user = UserFactory()
    start = timezone.now()
    assert visit_record(user=user, page="p", now=start) is None
    assert visit_record(user=user, page="p", now=start + timedelta(minutes=10)) is None
    later = start + timedelta(minutes=10) + VISIT_GAP + timedelta(seconds=1)
    assert visit_record(user=user, page="p", now=later) == start + timedelta(minutes=10)
    assert visit_record(user=user, page="p", now=later + timedelta(minutes=1)) == (
        start + timedelta(minutes=10)
    )


def test_figures_count_only_the_analysts_customers(world: dict[str, Any]) -> None:
    page = signed_in(world["analyst"]).get(reverse(OVERVIEW)).content.decode()
    assert "Bravo" not in page and "Echo" not in page
    other = signed_in(world["other"])
    o = other.get(reverse(OVERVIEW)).context["o"]
    assert [(f.label, f.count) for f in o.new_serious_by_customer] == [("Bravo", 1)]
    assert (o.open_alerts.count, alert_rows(other, o.open_alerts.url)) == (2, 2)
    assert o.oldest_open.title == "Bravo ancient"
    assert {f.label: f.count for f in o.open_incidents} == {
        "Active": 1,
        "In progress": 0,
        "Awaiting action": 1,
    }
    assert [p.name for p in o.problems] == ["Echo"]


def test_unassigned_filter_lists_only_alerts_nobody_holds(world: dict[str, Any]) -> None:
    client = signed_in(world["analyst"])
    url = reverse("alerts:list") + "?status=all&unassigned=on&customer=" + str(world["alpha"].pk)
    response = client.get(url)
    # Alpha has five alerts, one assigned to bob.
    assert alert_rows(client, url) == 4
    assert 'name="unassigned" value="on" id="id_unassigned" checked' in response.content.decode()


def test_analysts_home_leads_to_the_overview_and_staff_keep_their_tiles(
    world: dict[str, Any],
) -> None:
    overview_url = reverse(OVERVIEW)
    home = signed_in(world["analyst"]).get(reverse("home")).content.decode()
    assert 'id="home-overview"' in home and overview_url in home
    staff = UserFactory(username="overview-staff", roles=[Role.ONBOARDING])
    staff_home = signed_in(staff).get(reverse("home")).content.decode()
    assert 'id="home-overview"' not in staff_home
    assert reverse("tenants:customer_list") in staff_home


def test_apps_above_add_figures_through_the_slot(world: dict[str, Any]) -> None:
    def sla_panel(user: Any) -> Panel:
        figure = Figure("SLA breached", 7, "/sla/")
        return Panel("alerts/_figure.html", {"f": figure, "id": "fig-sla"})

    register_overview_panel("sla", sla_panel)
    try:
        page = signed_in(world["analyst"]).get(reverse(OVERVIEW)).content.decode()
    finally:
        unregister_overview_panel("sla")
    assert 'id="fig-sla" href="/sla/"' in page and "SLA breached" in page


def test_the_overview_reads_the_same_number_of_queries_for_many_customers(
    world: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    client = signed_in(world["analyst"])
    client.get(reverse(OVERVIEW))
    with CaptureQueriesContext(connection) as few:
        client.get(reverse(OVERVIEW))
    for n in range(20):
        customer = CustomerFactory(display_name=f"Many {n}")
        AnalystScopeFactory(user=world["analyst"], customer=customer)
        AlertFactory(customer=customer, severity="High", created_at=world["now"])
        IncidentFactory(customer=customer, created_at=world["now"])
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = client.get(reverse(OVERVIEW))
    assert len(response.context["o"].new_serious_by_customer) == 22
