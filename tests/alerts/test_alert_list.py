"""The consolidated alert list: markup contract, scope, filters, sorting, keyset paging."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from partner_portal.alerts.models import Alert
from partner_portal.alerts.reads.alert_list import PAGE_SIZE
from tenants.models import Customer
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

ROW_ID = re.compile(r'<tr data-alert-id="(\d+)"')


def row_ids(response: Any) -> list[int]:
    return [int(pk) for pk in ROW_ID.findall(response.content.decode())]


def link_after(response: Any, rel: str) -> str | None:
    match = re.search(rf'<a href="([^"]+)" rel="{rel}"', response.content.decode())
    return match.group(1).replace("&amp;", "&") if match else None


@pytest.fixture
def two_customers(db: None) -> tuple[Customer, Customer]:
    return CustomerFactory(display_name="Alpha Ltd"), CustomerFactory(display_name="Beta plc")


@pytest.fixture
def scoped_client(analyst: Any, two_customers: tuple[Customer, Customer]) -> Client:
    """The analyst may see Alpha only."""
    AnalystScopeFactory(user=analyst, customer=two_customers[0])
    client = Client()
    client.force_login(analyst)
    return client


# --- contract and access ---------------------------------------------------------------------
def test_list_page_carries_the_agreed_markup(admin_client_portal: Client) -> None:
    alert = AlertFactory(title="Mimikatz <seen>", severity="High")
    response = admin_client_portal.get("/alerts/")
    html = response.content.decode()
    assert response.status_code == 200
    assert '<form id="alert-filters" method="get"' in html
    for name in (
        "customer", "severity", "status", "classification", "category", "detection_source",
        "assigned_to", "q", "period", "since", "until", "sort",
    ):  # fmt: skip
        assert f'name="{name}"' in html, name
    assert 'id="apply-filters"' in html
    assert '<table id="alert-table"' in html and "data-poll-seconds=" in html
    assert f'<tr data-alert-id="{alert.pk}"' in html
    assert f'<a class="alert-link" href="/alerts/{alert.pk}/">Mimikatz &lt;seen&gt;</a>' in html
    assert f'<input type="checkbox" name="alert" value="{alert.pk}" form="bulk-form"' in html
    assert '<form id="bulk-form" method="post" action="/alerts/bulk/"' in html
    assert "csrfmiddlewaretoken" in html and 'id="bulk-apply"' in html
    assert 'select id="bulk-status" name="status"' in html and 'name="assigned_to"' in html
    assert 'id="export-csv"' in html and 'id="export-json"' in html
    assert 'id="severity-counts"' in html and 'id="status-counts"' in html
    assert 'id="new-alerts"' in html
    assert '<span class="badge sev-High">High</span>' in html
    created = alert.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert f'<time datetime="{created}">' in html
    assert 'href="/static/css/console.css"' in html


def test_onboarding_staff_without_the_analyst_role_are_refused(staff_client: Client) -> None:
    assert staff_client.get("/alerts/").status_code == 403


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get("/alerts/?severity=High")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_every_list_url_requires_the_analyst_role(staff_client: Client) -> None:
    for url in (
        "/alerts/counts/", "/alerts/live/?since_id=0", "/alerts/export.csv",
        "/alerts/export.json", "/alerts/charts/", "/alerts/charts/data/",
    ):  # fmt: skip
        assert staff_client.get(url).status_code == 403, url


# --- scope -----------------------------------------------------------------------------------
def test_an_analyst_sees_only_the_customers_in_scope(
    scoped_client: Client, two_customers: tuple[Customer, Customer]
) -> None:
    alpha, beta = two_customers
    mine = AlertFactory(customer=alpha)
    AlertFactory(customer=beta, title="Beta secret")
    response = scoped_client.get("/alerts/")
    html = response.content.decode()
    assert row_ids(response) == [mine.pk]
    assert "Beta secret" not in html
    assert f'<option value="{alpha.pk}">Alpha Ltd</option>' in html
    assert "Beta plc" not in html


def test_an_analyst_without_any_scope_sees_nothing(analyst_client: Client) -> None:
    AlertFactory()
    assert row_ids(analyst_client.get("/alerts/")) == []


def test_an_all_customers_grant_shows_everything(analyst: Any, analyst_client: Client) -> None:
    AnalystScopeFactory(user=analyst, all_customers=True)
    alerts = AlertFactory.create_batch(3)
    assert sorted(row_ids(analyst_client.get("/alerts/"))) == sorted(a.pk for a in alerts)


def test_a_customer_outside_the_scope_in_the_link_never_widens_the_result(
    scoped_client: Client, two_customers: tuple[Customer, Customer]
) -> None:
    # Documented choice: a foreign pk is dropped with a notice, not answered with 404.
    alpha, beta = two_customers
    mine = AlertFactory(customer=alpha)
    AlertFactory(customer=beta)
    only_foreign = scoped_client.get(f"/alerts/?customer={beta.pk}")
    assert only_foreign.status_code == 200
    assert row_ids(only_foreign) == []
    assert "not in your scope" in only_foreign.content.decode()
    mixed = scoped_client.get(f"/alerts/?customer={beta.pk}&customer={alpha.pk}")
    assert row_ids(mixed) == [mine.pk]
    nonsense = scoped_client.get("/alerts/?customer=abc")
    assert row_ids(nonsense) == []


# --- filters ---------------------------------------------------------------------------------
def test_filters_narrow_the_list(admin_client_portal: Client) -> None:
    alpha, beta, gamma = CustomerFactory.create_batch(3)
    high_new = AlertFactory(customer=alpha, severity="High", status="New")
    low_resolved = AlertFactory(
        customer=beta, severity="Low", status="Resolved", classification="FalsePositive"
    )
    medium_progress = AlertFactory(
        customer=gamma,
        severity="Medium",
        status="InProgress",
        category="CredentialAccess",
        detection_source="WindowsDefenderAv",
        assigned_to="Bob@Partner.example",
        classification="TruePositive",
    )

    def ids(query: str) -> set[int]:
        response = admin_client_portal.get("/alerts/?" + query)
        assert response.status_code == 200, response.content
        return set(row_ids(response))

    assert ids(f"customer={alpha.pk}&customer={beta.pk}") == {high_new.pk}
    assert ids(f"customer={alpha.pk}&customer={beta.pk}&status=all") == {
        high_new.pk,
        low_resolved.pk,
    }
    assert ids("severity=High&severity=Low&status=all") == {high_new.pk, low_resolved.pk}
    assert ids("status=InProgress") == {medium_progress.pk}
    assert ids("status=New,Resolved") == {high_new.pk, low_resolved.pk}
    assert ids("classification=FalsePositive") == set()
    assert ids("classification=FalsePositive&status=all") == {low_resolved.pk}
    assert ids("classification=none") == {high_new.pk}
    assert ids("category=CredentialAccess") == {medium_progress.pk}
    assert ids("detection_source=WindowsDefenderAv") == {medium_progress.pk}
    assert ids("assigned_to=bob@partner.example") == {medium_progress.pk}
    assert ids("severity=High&status=Resolved") == set()


@pytest.mark.parametrize(
    ("field", "value", "query"),
    [
        ("title", "Ransomware behaviour on share", "ransomware"),
        ("description", "Encoded PowerShell launched by Office", "encoded powershell"),
        ("computer_dns_name", "fin-laptop-17.contoso.local", "FIN-LAPTOP-17"),
        ("related_user", "CONTOSO\\mallory", "mallory"),
        ("alert_id", "da638991122334455667_998877", "da638991122334455667"),
    ],
)
def test_text_search_looks_at_title_description_computer_user_and_alert_id(
    admin_client_portal: Client, field: str, value: str, query: str
) -> None:
    target = AlertFactory(**{field: value})
    AlertFactory()
    response = admin_client_portal.get("/alerts/", {"q": query})
    assert row_ids(response) == [target.pk]


def test_time_presets_and_custom_ranges(admin_client_portal: Client) -> None:
    now = datetime.now(UTC)
    recent = AlertFactory(created_at=now - timedelta(hours=2))
    last_week = AlertFactory(created_at=now - timedelta(days=3))
    old = AlertFactory(created_at=now - timedelta(days=20))
    ancient = AlertFactory(created_at=now - timedelta(days=90))

    def ids(params: dict[str, str]) -> set[int]:
        return set(row_ids(admin_client_portal.get("/alerts/", params)))

    assert ids({"period": "24h"}) == {recent.pk}
    assert ids({"period": "7d"}) == {recent.pk, last_week.pk}
    assert ids({"period": "30d"}) == {recent.pk, last_week.pk, old.pk}
    assert ids({}) == {recent.pk, last_week.pk, old.pk, ancient.pk}
    since = (now - timedelta(days=25)).strftime("%Y-%m-%dT%H:%M")
    until = (now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    assert ids({"period": "custom", "since": since, "until": until}) == {last_week.pk, old.pk}
    # Custom bounds only apply with the custom period.
    assert ids({"period": "24h", "since": since, "until": until}) == {recent.pk}


def test_a_backwards_custom_range_is_explained_not_run(admin_client_portal: Client) -> None:
    AlertFactory()
    response = admin_client_portal.get(
        "/alerts/",
        {"period": "custom", "since": "2026-11-10T00:00", "until": "2026-11-01T00:00"},
    )
    assert response.status_code == 400
    assert "must come after its start" in response.content.decode()
    assert row_ids(response) == []


def test_unknown_choices_are_reported(admin_client_portal: Client) -> None:
    response = admin_client_portal.get("/alerts/?severity=Critical")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_the_filter_is_kept_in_every_link_of_the_page(admin_client_portal: Client) -> None:
    customer = CustomerFactory()
    AlertFactory.create_batch(PAGE_SIZE + 1, customer=customer, severity="High")
    response = admin_client_portal.get(f"/alerts/?severity=High&customer={customer.pk}&q=sus")
    html = response.content.decode()
    for element in ("export-csv", "export-json"):
        href = re.search(rf'id="{element}"[^>]*href="([^"]+)"', html)
        assert href, element
        assert "severity=High" in href.group(1) and f"customer={customer.pk}" in href.group(1)
    older = link_after(response, "next")
    assert older and "severity=High" in older and "q=sus" in older and "after=" in older
    assert 'data-live-url="/alerts/live/?severity=High' in html
    high_box = re.search(r'<input type="checkbox" name="severity" value="High"[^>]*>', html)
    assert high_box and "checked" in high_box.group(0)


# --- sorting ---------------------------------------------------------------------------------
def test_sorting_by_time_severity_and_customer(admin_client_portal: Client) -> None:
    zeta, acme = CustomerFactory(display_name="Zeta"), CustomerFactory(display_name="Acme")
    t = datetime(2026, 11, 1, tzinfo=UTC)
    a = AlertFactory(customer=zeta, severity="Low", created_at=t)
    b = AlertFactory(customer=acme, severity="High", created_at=t + timedelta(minutes=1))
    c = AlertFactory(customer=zeta, severity="High", created_at=t + timedelta(minutes=2))
    d = AlertFactory(customer=acme, severity="Informational", created_at=t + timedelta(minutes=3))

    def order(sort: str) -> list[int]:
        return row_ids(admin_client_portal.get("/alerts/", {"sort": sort}))

    assert order("newest") == [d.pk, c.pk, b.pk, a.pk]
    assert order("oldest") == [a.pk, b.pk, c.pk, d.pk]
    assert order("severity") == [c.pk, b.pk, a.pk, d.pk]
    assert order("customer") == [d.pk, b.pk, c.pk, a.pk]


# --- keyset pagination -----------------------------------------------------------------------
def walk(client: Client, first_url: str, rel: str) -> list[list[int]]:
    pages = []
    url: str | None = first_url
    while url:
        response = client.get(url)
        assert response.status_code == 200
        pages.append(row_ids(response))
        url = link_after(response, rel)
        assert len(pages) < 50, "paging does not end"
    return pages


def walked_back_from_the_end(client: Client, first_url: str) -> list[int]:
    """Follow "next" to the last page, then "previous" back to the first: the ids in
    forward order, to compare with the forward walk."""
    last_url = first_url
    while next_url := link_after(client.get(last_url), "next"):
        last_url = next_url
    backwards = walk(client, last_url, "prev")
    return [pk for page in reversed(backwards) for pk in page]


@pytest.mark.parametrize("sort", ["newest", "oldest", "severity", "customer"])
def test_keyset_pages_cover_every_alert_once_in_order(
    admin_client_portal: Client, sort: str
) -> None:
    customers = CustomerFactory.create_batch(3)
    same_time = datetime(2026, 11, 5, tzinfo=UTC)
    for i in range(130):
        AlertFactory(
            customer=customers[i % 3],
            severity=("High", "Medium", "Low", "Informational")[i % 4],
            # Many equal timestamps: the pk must break ties without losing a row.
            created_at=same_time + timedelta(minutes=i // 7),
        )
    pages = walk(admin_client_portal, f"/alerts/?sort={sort}", "next")
    seen = [pk for page in pages for pk in page]
    assert [len(page) for page in pages] == [PAGE_SIZE, PAGE_SIZE, 30]
    assert len(seen) == len(set(seen)) == 130
    keys = {
        "newest": lambda a: (-a.created_at.timestamp(), -a.pk),
        "oldest": lambda a: (a.created_at.timestamp(), a.pk),
        "severity": lambda a: (-a.severity_rank, -a.created_at.timestamp(), -a.pk),
        "customer": lambda a: (
            a.customer.display_name,
            a.customer_id,
            -a.created_at.timestamp(),
            -a.pk,
        ),
    }
    expected = sorted(Alert.objects.select_related("customer"), key=keys[sort])
    assert seen == [a.pk for a in expected]

    # And back again from the last page with the "before" cursors.
    assert walked_back_from_the_end(admin_client_portal, f"/alerts/?sort={sort}") == seen


def test_customer_sort_pages_through_customers_that_share_a_name(
    admin_client_portal: Client,
) -> None:
    # The page query bounds the customers by name alone; equal names must not lose rows.
    twins = [CustomerFactory(display_name="Same Name"), CustomerFactory(display_name="Same Name")]
    customers = [
        CustomerFactory(display_name="Another"),
        *twins,
        CustomerFactory(display_name="Zed"),
    ]
    start = datetime(2026, 11, 5, tzinfo=UTC)
    for i in range(160):
        AlertFactory(customer=customers[i % 4], created_at=start + timedelta(minutes=i // 3))
    pages = walk(admin_client_portal, "/alerts/?sort=customer", "next")
    seen = [pk for page in pages for pk in page]
    expected = sorted(
        Alert.objects.select_related("customer"),
        key=lambda a: (a.customer.display_name, a.customer_id, -a.created_at.timestamp(), -a.pk),
    )
    assert seen == [a.pk for a in expected]
    assert walked_back_from_the_end(admin_client_portal, "/alerts/?sort=customer") == seen


def test_a_scoped_analyst_pages_by_customer_without_a_foreign_namesake(
    analyst: Any, analyst_client: Client
) -> None:
    # Another customer with the same name sits between the analyst's rows in name order;
    # its alerts must stay out of every page, both ways.
    mine = CustomerFactory(display_name="Shared Name")
    namesake = CustomerFactory(display_name="Shared Name")
    AnalystScopeFactory(user=analyst, customer=mine)
    start = datetime(2026, 11, 5, tzinfo=UTC)
    for i in range(120):
        AlertFactory(customer=(mine, namesake)[i % 2], created_at=start + timedelta(minutes=i))
    pages = walk(analyst_client, "/alerts/?sort=customer", "next")
    seen = [pk for page in pages for pk in page]
    expected = Alert.objects.filter(customer=mine).order_by("-created_at", "-pk")
    assert seen == [a.pk for a in expected]
    assert walked_back_from_the_end(analyst_client, "/alerts/?sort=customer") == seen


def test_paging_uses_no_offset(admin_client_portal: Client) -> None:
    AlertFactory.create_batch(PAGE_SIZE + 5)
    first = admin_client_portal.get("/alerts/")
    older = link_after(first, "next")
    assert older
    with CaptureQueriesContext(connection) as queries:
        second = admin_client_portal.get(older)
    assert len(row_ids(second)) == 5
    alert_queries = [q["sql"] for q in queries if "alerts_alert" in q["sql"]]
    assert alert_queries and not any("OFFSET" in sql.upper() for sql in alert_queries)


@pytest.mark.parametrize(
    "cursor",
    ["nonsense", "2026-11-01T00:00:00,abc", "2026-11-01T00:00:00,5", "1,2,3,4", "-1,x"],
)
def test_a_tampered_page_cursor_is_refused(admin_client_portal: Client, cursor: str) -> None:
    AlertFactory()
    response = admin_client_portal.get("/alerts/", {"after": cursor})
    assert response.status_code == 400
    assert "page link is not valid" in response.content.decode()
    assert row_ids(response) == []


def test_a_customer_sort_cursor_naming_a_foreign_customer_is_refused(
    scoped_client: Client, two_customers: tuple[Customer, Customer]
) -> None:
    alpha, beta = two_customers
    AlertFactory(customer=alpha)
    cursor = f"{beta.pk},2026-11-01T00:00:00.000000Z,1"
    response = scoped_client.get("/alerts/", {"sort": "customer", "after": cursor})
    assert response.status_code == 400
    assert row_ids(response) == []


@pytest.mark.parametrize("scoped", [False, True])
def test_the_list_runs_a_fixed_number_of_queries_whatever_the_page_holds(
    analyst: Any, portal_admin: Any, scoped: bool
) -> None:
    customers = CustomerFactory.create_batch(3)
    user = analyst if scoped else portal_admin
    if scoped:
        for customer in customers[:2]:
            AnalystScopeFactory(user=analyst, customer=customer)
    client = Client()
    client.force_login(user)

    def list_queries() -> list[str]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/alerts/")
        assert response.status_code == 200
        return [q["sql"] for q in queries]

    AlertFactory(customer=customers[0])
    few = list_queries()
    for customer in customers:
        AlertFactory.create_batch(PAGE_SIZE, customer=customer)
    full = list_queries()
    assert len(row_ids(client.get("/alerts/"))) == PAGE_SIZE
    # The page, the live mark, the capped count of its matches, the saved views, and
    # whether any SLA goal exists (the rows' SLA timers, `list_notes`).
    assert len(full) == len(few) <= (14 if scoped else 9)
    # The list reads its columns, never the stored API record.
    page = [sql for sql in full if "alerts_alert" in sql and "LIMIT" in sql]
    assert page and not any('"raw"' in sql for sql in page)


def test_the_technique_filter_matches_the_exact_id_and_refuses_others_in_words(
    admin_client_portal: Client,
) -> None:
    exact = AlertFactory(mitre_techniques=["T1059.001", "T1027"], title="PowerShell one")
    parent = AlertFactory(mitre_techniques=["T1059"], title="Interpreter one")
    AlertFactory(mitre_techniques=[], title="No technique")
    page = admin_client_portal.get("/alerts/?technique=t1059.001").content.decode()
    assert f'data-alert-id="{exact.pk}"' in page and f'data-alert-id="{parent.pk}"' not in page
    page = admin_client_portal.get("/alerts/?technique=T1059").content.decode()
    assert f'data-alert-id="{parent.pk}"' in page and f'data-alert-id="{exact.pk}"' not in page
    bad = admin_client_portal.get("/alerts/?technique=T1059;drop")
    assert bad.status_code == 400
    assert "Enter a technique ID such as T1059 or T1059.001." in bad.content.decode()
