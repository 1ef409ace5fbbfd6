"""The incident queue: filters, keyset pages, counts that link to their rows, live
updates, exports, merged incidents and the analyst's scope in every one of them."""

from __future__ import annotations

import csv
import html as html_lib
import io
import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from partner_portal.alerts.reads import incident_queue
from partner_portal.alerts.reads.incident_queue import IncidentQuery, live_mark
from tests.alerts.factories import BASE_TIME, AlertFactory, CustomerFactory, IncidentFactory
from tests.alerts.test_alert_list_counts_live import count_of
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr data-incident-id="(\d+)"')
OFFICE = "microsoftDefenderForOffice365"
IDENTITY = "microsoftDefenderForIdentity"
ENDPOINT = "microsoftDefenderForEndpoint"


def rows_on(html: str) -> list[int]:
    return [int(pk) for pk in ROW.findall(html)]


def next_link(html: str) -> str | None:
    match = re.search(r'<a href="([^"]+)" rel="next"', html)
    return html_lib.unescape(match.group(1)) if match else None


def every_row(client: Client, url: str) -> list[int]:
    """The pks of every page of the queue at `url`, following the "next" links."""
    found: list[int] = []
    link: str | None = url
    while link:
        response = client.get(link)
        assert response.status_code == 200, link
        page = response.content.decode()
        found += rows_on(page)
        link = next_link(page)
    return found


@pytest.fixture
def world(analyst: Any) -> dict[str, Any]:
    """Two customers in the analyst's scope and one outside it, with incidents of
    several products, severities, statuses and tags."""
    mine = CustomerFactory(display_name="Contoso")
    second = CustomerFactory(display_name="Adatum", last_verified_at=BASE_TIME)
    theirs = CustomerFactory(display_name="Fabrikam")
    for customer in (mine, second):
        AnalystScopeFactory(user=analyst, customer=customer)
    client = Client()
    client.force_login(analyst)
    phishing = IncidentFactory(
        customer=mine, incident_id=1, name="Phishing wave", severity="High",
        status="Active", custom_tags=["vip"], tags=["vip"], system_tags=["Defender Experts"],
        assigned_to="soc@contoso.example",
    )  # fmt: skip
    ransomware = IncidentFactory(
        customer=mine, incident_id=2, name="Ransomware staging", severity="High",
        status="InProgress",
    )  # fmt: skip
    legacy = IncidentFactory(
        customer=second, incident_id=3, name="Credential theft", severity="Low",
        status="Resolved",
    )  # fmt: skip
    foreign = IncidentFactory(
        customer=theirs, incident_id=1, name="Fabrikam breach", severity="High",
        status="Active", custom_tags=["vip"], tags=["vip"],
    )  # fmt: skip
    AlertFactory(customer=mine, incident_id=1, service_source=OFFICE, from_graph=True)
    AlertFactory(customer=mine, incident_id=1, service_source=IDENTITY, from_graph=True)
    AlertFactory(customer=mine, incident_id=2, service_source=ENDPOINT, from_graph=True)
    # Stored from the Defender for Endpoint API: no serviceSource, still Endpoint's.
    AlertFactory(customer=second, incident_id=3, service_source="", from_graph=False)
    AlertFactory(customer=theirs, incident_id=1, service_source=OFFICE, from_graph=True)
    return {
        "client": client, "mine": mine, "second": second, "theirs": theirs,
        "phishing": phishing, "ransomware": ransomware, "legacy": legacy, "foreign": foreign,
    }  # fmt: skip


def shown(world: dict[str, Any], query: str) -> set[str]:
    page = world["client"].get("/incidents/" + query).content.decode()
    names = {"phishing", "ransomware", "legacy", "foreign"}
    return {name for name in names if f'data-incident-id="{world[name].pk}"' in page}


# --- filters ---------------------------------------------------------------------------------
def test_the_queue_shows_the_incidents_of_customers_in_scope(world: dict[str, Any]) -> None:
    assert shown(world, "?status=all") == {"phishing", "ransomware", "legacy"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # Every status ("all"), so the resolved incident ("legacy") is there to be found.
        (f"?product={OFFICE}&status=all", {"phishing"}),
        (
            f"?product={IDENTITY}&product={ENDPOINT}&status=all",
            {"phishing", "ransomware", "legacy"},
        ),
        (f"?product={ENDPOINT}&status=all", {"ransomware", "legacy"}),
        ("?product=microsoftSentinel&status=all", set()),
        ("?severity=Low&status=all", {"legacy"}),
        ("?severity=High&status=InProgress", {"ransomware"}),
        ("?status=Active&status=Resolved", {"phishing", "legacy"}),
        ("?status=Active,Resolved", {"phishing", "legacy"}),
        ("?assigned_to=SOC@contoso.example", {"phishing"}),
        ("?tag=vip", {"phishing"}),
        ("?tag=Defender+Experts", {"phishing"}),
        ("?tag=vi", set()),
        ("?q=ransom", {"ransomware"}),
        ("?q=3&status=all", {"legacy"}),
        # Without a status, the open ones: a filter that finds only resolved ones is empty.
        (f"?product={ENDPOINT}", {"ransomware"}),
        ("?severity=Low", set()),
        ("?q=3", set()),
    ],
)
def test_each_filter_narrows_the_queue(
    world: dict[str, Any], query: str, expected: set[str]
) -> None:
    assert shown(world, query) == expected


def test_the_tag_filter_without_json_containment_matches_whole_tags(
    world: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite (the embedded mode) has no jsonb containment; the filter then matches the
    # tag as the list's JSON text holds it, quotes included, so a part of a tag is no match.
    monkeypatch.setattr(incident_queue, "connection", SimpleNamespace(vendor="sqlite"))
    assert shown(world, "?tag=vip") == {"phishing"}
    assert shown(world, "?tag=Defender+Experts") == {"phishing"}
    assert shown(world, "?tag=vi") == set()


def test_the_customer_and_time_filters(world: dict[str, Any]) -> None:
    assert shown(world, f"?customer={world['second'].pk}&status=all") == {"legacy"}
    # A customer outside the scope is left out, and the page says so.
    page = world["client"].get(f"/incidents/?customer={world['theirs'].pk}").content.decode()
    assert "not in your scope and was left out" in page and "Fabrikam" not in page
    created = world["ransomware"].created_at
    window = {
        "period": "custom",
        "since": created.strftime("%Y-%m-%dT%H:%M"),
        "until": (created + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M"),
    }
    query = "?" + "&".join(f"{key}={value}" for key, value in window.items())
    assert shown(world, query) == {"ransomware"}


def test_rows_show_products_tags_and_the_legacy_api_mark(world: dict[str, Any]) -> None:
    page = world["client"].get("/incidents/?status=all").content.decode()
    phishing = page.split(f'data-incident-id="{world["phishing"].pk}"')[1].split("</tr>")[0]
    assert "Defender for Identity, Defender for Office 365" in phishing
    assert '<span class="tag">vip</span>' in phishing
    assert '<span class="tag">Defender Experts</span>' in phishing
    assert "legacy API" not in phishing
    legacy = page.split(f'data-incident-id="{world["legacy"].pk}"')[1].split("</tr>")[0]
    assert "Defender for Endpoint" in legacy and "legacy API, stops 1 Feb 2027" in legacy


def test_a_filter_that_cannot_be_read_is_an_error_in_words(world: dict[str, Any]) -> None:
    response = world["client"].get("/incidents/?status=Sleeping")
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


# --- keyset pages ----------------------------------------------------------------------------
@pytest.mark.parametrize("sort", ["newest", "oldest", "severity", "customer"])
def test_pages_walk_every_incident_once_in_order(world: dict[str, Any], sort: str) -> None:
    # Many incidents share a creation time: the id must break the ties.
    same = BASE_TIME + timedelta(days=3)
    for n in range(130):
        IncidentFactory(
            customer=world["mine"] if n % 3 else world["second"], incident_id=100 + n,
            severity=("High", "Medium", "Low")[n % 3], created_at=same if n % 2 else None,
        )  # fmt: skip
    expected = [
        row["pk"]
        for row in incident_queue.queue_rows(
            incident_queue.filtered_incidents(
                user=_user(world), query=IncidentQuery(sort=sort)
            ).order_by(*incident_queue._ordering(incident_queue.SORTS[sort], True)),
            user=_user(world),
        )
    ]
    walked = every_row(world["client"], f"/incidents/?sort={sort}&status=all")
    assert walked == expected
    assert len(walked) == len(set(walked)) == 3 + 65  # those without a time are not placed


def _user(world: dict[str, Any]) -> Any:
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username="analyst")


def test_a_page_stays_the_same_when_newer_incidents_arrive(world: dict[str, Any]) -> None:
    for n in range(60):
        IncidentFactory(customer=world["mine"], incident_id=200 + n)
    client = world["client"]
    first = client.get("/incidents/").content.decode()
    second_link = next_link(first)
    assert second_link
    before = rows_on(client.get(second_link).content.decode())
    IncidentFactory(customer=world["mine"], incident_id=999, created_at=timezone.now())
    after = rows_on(client.get(second_link).content.decode())
    assert before == after
    # And "previous" from the second page is the first page as it was.
    previous = re.search(r'<a href="([^"]+)" rel="prev"', client.get(second_link).content.decode())
    assert previous
    back = rows_on(client.get(html_lib.unescape(previous.group(1))).content.decode())
    assert back == rows_on(first)


# --- counts ----------------------------------------------------------------------------------
def test_each_count_equals_the_rows_its_link_shows(world: dict[str, Any]) -> None:
    for n in range(70):
        IncidentFactory(
            customer=world["mine"], incident_id=300 + n,
            severity=("High", "Medium", "Low", "Informational")[n % 4],
            status=("Active", "InProgress", "Resolved")[n % 3],
        )  # fmt: skip
    client = world["client"]
    for query in (
        "",
        "?status=all",
        f"?product={ENDPOINT}&product={OFFICE}",
        "?status=Active&severity=High",
    ):
        counts = client.get("/incidents/counts/" + query).content.decode()
        links = re.findall(
            r'<a href="([^"]+)" data-count-link="(\w+)">.*?<strong data-\w+="(\w+)">(\d+)</strong>',
            counts,
            re.S,
        )
        assert len(links) == 4 + 4  # every severity and every queue status
        for href, _kind, _value, number in links:
            assert len(every_row(client, html_lib.unescape(href))) == int(number), href
        total = int(re.search(r'data-total="(\d+)"', counts).group(1))  # type: ignore[union-attr]
        assert total == len(every_row(client, "/incidents/" + query))
        # "By status" counts what the filter shows: its counts add up to the total.
        by_status = counts.split('id="status-counts"')[1].split("</div>")[0]
        assert sum(map(int, re.findall(r"data-status=\"\w+\">(\d+)<", by_status))) == total


def test_counts_leave_out_other_customers(world: dict[str, Any]) -> None:
    counts = world["client"].get("/incidents/counts/?status=all").content.decode()
    assert count_of(counts, "severity", "High") == 2
    assert count_of(counts, "status", "Active") == 1
    assert "3 incidents match." in counts


# --- merged incidents ------------------------------------------------------------------------
def test_a_merged_incident_leaves_the_queue_and_says_where_it_went(
    world: dict[str, Any],
) -> None:
    merged = IncidentFactory(
        customer=world["mine"], incident_id=50, name="Merged away", status="Redirected",
        redirect_incident_id=world["phishing"].incident_id,
    )  # fmt: skip
    client = world["client"]
    assert f'data-incident-id="{merged.pk}"' not in client.get("/incidents/").content.decode()
    assert "Redirected" not in client.get("/incidents/counts/").content.decode()
    assert "Merged away" not in client.get("/incidents/export.csv").getvalue().decode()
    page = client.get(f"/incidents/{merged.pk}/").content.decode()
    assert "Merged into" in page
    assert f'<a href="/incidents/{world["phishing"].pk}/">incident 1</a>' in page


# --- live updates ----------------------------------------------------------------------------
def test_live_updates_bring_new_and_changed_incidents_and_drop_merged_ones(
    world: dict[str, Any],
) -> None:
    client = world["client"]
    page = client.get("/incidents/").content.decode()
    on_page = int(re.search(r'data-since-id="(\d+)"', page).group(1))  # type: ignore[union-attr]
    assert on_page <= live_mark()
    # As if the page had been read a minute ago, and the syncs wrote half a minute ago.
    mark = live_mark(timezone.now() - timedelta(minutes=1))
    settled = timezone.now() - timedelta(seconds=30)
    fresh = IncidentFactory(customer=world["mine"], incident_id=70, synced_at=settled)
    world["ransomware"].status = "Resolved"
    world["ransomware"].synced_at = settled
    world["ransomware"].save()
    world["legacy"].redirect_incident_id = 1
    world["legacy"].synced_at = settled
    world["legacy"].save()
    IncidentFactory(customer=world["theirs"], incident_id=71, synced_at=settled)

    data = client.get(f"/incidents/live/?status=all&mark={mark}").json()
    assert data["count"] == 2
    assert set(rows_on(data["rows_html"])) == {fresh.pk, world["ransomware"].pk}
    assert data["gone"] == [world["legacy"].pk]
    assert 'class="fresh"' in data["rows_html"]
    assert data["mark"] > mark
    # Under an "Active" filter, the resolved incident is gone rather than changed.
    active = client.get(f"/incidents/live/?status=Active&mark={mark}").json()
    assert set(active["gone"]) == {world["legacy"].pk, world["ransomware"].pk}
    # So is it under the queue's default, the open incidents.
    default = client.get(f"/incidents/live/?mark={mark}").json()
    assert set(rows_on(default["rows_html"])) == {fresh.pk}
    assert set(default["gone"]) == {world["legacy"].pk, world["ransomware"].pk}
    # Asked again from the new mark: nothing new.
    again = client.get(f"/incidents/live/?status=all&mark={data['mark']}").json()
    assert again["count"] == 0 and again["gone"] == []


def test_the_live_mark_trails_the_clock() -> None:
    now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    later = now + incident_queue.SETTLE
    assert live_mark(later) == int(now.timestamp()) * 1_000_000


# --- exports ---------------------------------------------------------------------------------
def test_exports_carry_what_the_page_shows_and_links(world: dict[str, Any]) -> None:
    client = world["client"]
    body = b"".join(client.get(f"/incidents/export.csv?product={OFFICE}").streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert [row["name"] for row in rows] == ["Phishing wave"]
    row = rows[0]
    assert row["products"] == "Defender for Identity;Defender for Office 365"
    assert row["tags"] == "vip" and row["system_tags"] == "Defender Experts"
    assert row["portal_url"] == f"http://testserver/incidents/{world['phishing'].pk}/"
    assert row["defender_url"].startswith("https://security.microsoft.com/incidents/1?tid=")
    assert row["alert_count"] == "0" and row["legacy_api"] == "False"
    data = json.loads(b"".join(client.get("/incidents/export.json?status=all").streaming_content))
    assert {item["name"] for item in data} == {
        "Phishing wave", "Ransomware staging", "Credential theft",
    }  # fmt: skip
    assert {item["legacy_api"] for item in data if item["name"] == "Credential theft"} == {True}


# --- the scope, everywhere -------------------------------------------------------------------
def test_nothing_of_a_customer_outside_the_scope_leaks_anywhere(world: dict[str, Any]) -> None:
    client = world["client"]
    theirs = world["theirs"]
    IncidentFactory(
        customer=theirs, incident_id=80, name="Fabrikam second",
        synced_at=timezone.now() - timedelta(minutes=1),
    )  # fmt: skip
    for url in (
        "/incidents/",
        "/incidents/?status=all",
        f"/incidents/?customer={theirs.pk}",
        "/incidents/?tag=vip",
        "/incidents/?sort=customer",
        "/incidents/live/?mark=0",
        f"/incidents/live/?mark=0&customer={theirs.pk}",
    ):
        assert "Fabrikam" not in client.get(url).content.decode(), url
    for url in (
        "/incidents/export.csv",
        "/incidents/export.csv?status=all",
        "/incidents/export.json?tag=vip",
    ):
        assert b"Fabrikam" not in b"".join(client.get(url).streaming_content), url
    counts = client.get(f"/incidents/counts/?customer={theirs.pk}").content.decode()
    assert 'data-total="0"' in counts
    live = client.get("/incidents/live/?mark=0").json()
    assert world["foreign"].pk not in live["gone"]
    assert client.get(f"/incidents/{world['foreign'].pk}/").status_code == 404


def test_the_queue_says_where_the_page_stands_among_the_matching_incidents(
    admin_client_portal: Client,
) -> None:
    customer = CustomerFactory()
    for number in range(53):
        IncidentFactory(customer=customer, incident_id=9000 + number)
    first = admin_client_portal.get("/incidents/").content.decode()
    assert "1\u201350 of 53" in first
    older = re.search(r'href="(/incidents/\?[^"]*after=[^"]*)"', first)
    assert older is not None
    second = admin_client_portal.get(older.group(1).replace("&amp;", "&")).content.decode()
    assert "51\u201353 of 53" in second
