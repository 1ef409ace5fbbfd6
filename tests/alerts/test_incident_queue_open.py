"""The incident queue opens on the open incidents (Active, In progress, Awaiting action),
like the alert list on its open alerts; "All statuses" (`status=all`) shows resolved ones
too. The page, its counts, live updates and exports follow the same default, the status
select says what the queue shows, and a status that is not one is an error in words."""

from __future__ import annotations

import csv
import html as html_lib
import io
import json
import re
from typing import Any

import pytest
from django.test import Client

from partner_portal.alerts.models import Incident
from tests.alerts.factories import CustomerFactory, IncidentFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

ROW = re.compile(r'<tr data-incident-id="(\d+)"')
OPEN_LABEL = "Open (Active, In progress, Awaiting action)"


@pytest.fixture
def queue(analyst: Any, analyst_client: Client) -> dict[str, Any]:
    """One incident of each queue status, of a customer in the analyst's scope."""
    customer = CustomerFactory(display_name="Contoso")
    AnalystScopeFactory(user=analyst, customer=customer)
    made = {
        status: IncidentFactory(customer=customer, name=f"{status} incident", status=status)
        for status in ("Active", "InProgress", "AwaitingAction", "Resolved")
    }
    return {"client": analyst_client, **made}


def _names_by_pk(page: str) -> list[str]:
    """The names of the incidents the page lists."""
    pks = [int(pk) for pk in ROW.findall(page)]
    return list(Incident.objects.filter(pk__in=pks).values_list("name", flat=True))


def selected_status(page: str) -> str:
    select = page.split('<select name="status" id="id_status"')[1].split("</select>")[0]
    match = re.search(r'<option value="[^"]*" selected>([^<]*)</option>', select)
    assert match, select
    return html_lib.unescape(match.group(1))


def test_without_a_status_the_queue_shows_the_open_incidents_and_says_so(
    queue: dict[str, Any],
) -> None:
    client = queue["client"]
    page = client.get("/incidents/").content.decode()
    assert set(_names_by_pk(page)) == {
        "Active incident", "InProgress incident", "AwaitingAction incident",
    }  # fmt: skip
    assert selected_status(page) == OPEN_LABEL
    assert '<label for="id_status">Status</label>' in page
    # Naming the open statuses is the same view, and the select says it the same way.
    named = client.get(
        "/incidents/?status=Active&status=InProgress&status=AwaitingAction"
    ).content.decode()
    assert ROW.findall(named) == ROW.findall(page)
    assert selected_status(named) == OPEN_LABEL


def test_all_statuses_shows_resolved_incidents_too(queue: dict[str, Any]) -> None:
    page = queue["client"].get("/incidents/?status=all").content.decode()
    assert set(_names_by_pk(page)) == {
        "Active incident", "InProgress incident", "AwaitingAction incident", "Resolved incident",
    }  # fmt: skip
    assert selected_status(page) == "All statuses"
    # The page's own links keep asking for every status.
    assert 'href="/incidents/export.csv?status=all"' in page
    resolved = queue["client"].get("/incidents/?status=Resolved").content.decode()
    assert _names_by_pk(resolved) == ["Resolved incident"]
    assert selected_status(resolved) == "Resolved"
    # A combination a link named is offered as it is.
    both = queue["client"].get("/incidents/?status=Active&status=Resolved").content.decode()
    assert set(_names_by_pk(both)) == {"Active incident", "Resolved incident"}
    assert selected_status(both) == "Active, Resolved"


@pytest.mark.parametrize("value", ["Sleeping", "Active,Sleeping", "Redirected", "ALL"])
def test_a_status_that_is_not_one_is_a_form_error_in_words(
    queue: dict[str, Any], value: str
) -> None:
    client = queue["client"]
    response = client.get("/incidents/", {"status": value})
    assert response.status_code == 400
    page = response.content.decode()
    assert 'aria-invalid="true" aria-describedby="id_status_error"' in page
    assert re.search(r'<ul class="errorlist" id="id_status_error"><li>Select a valid choice', page)
    assert "Correct the filter above to see incidents." in page
    for url in ("/incidents/counts/", "/incidents/export.csv", "/incidents/export.json"):
        answer = client.get(url, {"status": value})
        assert answer.status_code == 400, url
        assert "status" in answer.json()["errors"], url
    live = client.get("/incidents/live/", {"status": value, "mark": "0"})
    assert live.status_code == 400 and "status" in live.json()["errors"]


def _csv_names(client: Client, url: str) -> set[str]:
    response = client.get(url)
    assert response.status_code == 200, url
    body = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    return {row["name"] for row in csv.DictReader(io.StringIO(body))}


def test_exports_follow_the_same_default(queue: dict[str, Any]) -> None:
    client = queue["client"]
    open_names = {"Active incident", "InProgress incident", "AwaitingAction incident"}
    assert _csv_names(client, "/incidents/export.csv") == open_names
    assert _csv_names(client, "/incidents/export.csv?status=all") == {
        *open_names, "Resolved incident",
    }  # fmt: skip
    data = json.loads(b"".join(client.get("/incidents/export.json").streaming_content))  # type: ignore[attr-defined]
    assert {item["status"] for item in data} == {"Active", "InProgress", "AwaitingAction"}


def _group(counts: str, group_id: str) -> dict[str, tuple[int, str]]:
    """A count group's {status: (count, link)}, empty when the group is not there."""
    if f'id="{group_id}"' not in counts:
        return {}
    part = counts.split(f'id="{group_id}"')[1].split("</div>")[0]
    return {
        status: (int(n), html_lib.unescape(href))
        for href, status, n in re.findall(
            r'<a href="([^"]+)" data-count-link="status">.*?<strong data-status="(\w+)">(\d+)<',
            part,
            re.S,
        )
    }


def test_counts_follow_the_same_default(queue: dict[str, Any]) -> None:
    client = queue["client"]
    IncidentFactory(customer=queue["Active"].customer, status="Resolved", name="Old one")
    counts = client.get("/incidents/counts/").content.decode()
    assert "3 incidents match." in counts and 'data-total="3"' in counts
    by_status = _group(counts, "status-counts")
    assert {s: n for s, (n, _) in by_status.items()} == {
        "Active": 1, "InProgress": 1, "AwaitingAction": 1,
    }  # fmt: skip
    # What the filter leaves out is named as such, with what its link shows.
    not_shown = _group(counts, "other-status-counts")
    assert list(not_shown) == ["Resolved"]
    number, link = not_shown["Resolved"]
    assert number == 2 and link == "/incidents/?status=Resolved"
    assert len(ROW.findall(client.get(link).content.decode())) == 2
    assert "Not shown" in counts
    # Under "All statuses" every status is counted as shown.
    every = client.get("/incidents/counts/?status=all").content.decode()
    assert "5 incidents match." in every
    assert _group(every, "status-counts")["Resolved"][0] == 2
    assert "other-status-counts" not in every
    # The page's own counts link carries no status: it counts the default, like the rows.
    page = client.get("/incidents/").content.decode()
    assert 'data-counts-url="/incidents/counts/"' in page
