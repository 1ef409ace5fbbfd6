"""The alert charts: the page, its vendored charting library, and the figures it draws."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

VENDOR = Path(settings.BASE_DIR) / "static" / "vendor" / "chartjs"


def test_charts_page_loads_the_vendored_library_not_a_cdn(admin_client_portal: Client) -> None:
    html = admin_client_portal.get("/alerts/charts/?severity=High&window=24h").content.decode()
    assert '<script src="/static/vendor/chartjs/chart.umd.min.js" defer></script>' in html
    assert '<script src="/static/js/charts.js" defer></script>' in html
    assert "https://" not in html.split("<main", 1)[1]
    assert 'data-src="/alerts/charts/data/?severity=High&amp;window=24h"' in html
    for chart in ("chart-over-time", "chart-open-high", "chart-categories", "chart-techniques"):
        assert f'id="{chart}" role="img"' in html


def test_the_vendored_library_ships_with_its_licence() -> None:
    assert "Chart.js" in (VENDOR / "chart.umd.min.js").read_text()[:200]
    assert (
        "MIT" in (VENDOR / "LICENSE.md").read_text()
        or "Permission is hereby granted" in (VENDOR / "LICENSE.md").read_text()
    )


def test_the_list_links_to_the_charts_with_its_filter(admin_client_portal: Client) -> None:
    html = admin_client_portal.get("/alerts/?status=New").content.decode()
    assert 'href="/alerts/charts/?status=New"' in html


def test_chart_figures_count_alerts_by_time_customer_category_and_technique(
    analyst: Any, analyst_client: Client
) -> None:
    mine, other, theirs = (
        CustomerFactory(display_name="Mine"),
        CustomerFactory(display_name="Other"),
        CustomerFactory(display_name="Theirs"),
    )
    for customer in (mine, other):
        AnalystScopeFactory(user=analyst, customer=customer)
    now = datetime.now(UTC)
    two_hours_ago = now - timedelta(hours=2)
    for _ in range(3):
        AlertFactory(
            customer=mine, severity="High", status="New", created_at=two_hours_ago,
            category="Ransomware", mitre_techniques=["T1486", "T1490"],
        )  # fmt: skip
    AlertFactory(
        customer=other, severity="High", status="InProgress", created_at=now - timedelta(hours=3),
        category="Malware", mitre_techniques=["T1486"],
    )  # fmt: skip
    AlertFactory(customer=other, severity="High", status="Resolved", created_at=two_hours_ago)
    AlertFactory(customer=mine, severity="Low", created_at=now - timedelta(days=3))
    AlertFactory(customer=theirs, severity="High", created_at=two_hours_ago, category="Exploit")

    # Like the list, the charts show the open alerts unless asked for every status.
    open_only = analyst_client.get("/alerts/charts/data/?window=24h").json()
    assert sum(open_only["over_time"]["series"]["High"]) == 4
    day = analyst_client.get("/alerts/charts/data/?window=24h&status=all").json()
    assert day["unit"] == "hour"
    series = day["over_time"]["series"]
    assert sum(series["High"]) == 5 and sum(series["Low"]) == 0
    bucket = two_hours_ago.replace(minute=0, second=0, microsecond=0)
    position = day["over_time"]["labels"].index(bucket.strftime("%Y-%m-%dT%H:%M:%S.%fZ"))
    assert series["High"][position] == 4
    assert [row[:2] for row in day["open_high_by_customer"]] == [["Mine", 3], ["Other", 1]]
    assert day["top_categories"][0][:2] == ["Ransomware", 3]
    assert "Exploit" not in {row[0] for row in day["top_categories"]}
    assert [row[:2] for row in day["top_techniques"][:2]] == [
        ["T1486 Data Encrypted for Impact", 4],
        ["T1490 Inhibit System Recovery", 3],
    ]

    week = analyst_client.get("/alerts/charts/data/?window=7d&status=all").json()
    assert week["unit"] == "day"
    assert sum(week["over_time"]["series"]["Low"]) == 1
    assert len(week["over_time"]["labels"]) in (7, 8)

    filtered = analyst_client.get(f"/alerts/charts/data/?window=24h&customer={other.pk}").json()
    assert [row[:2] for row in filtered["open_high_by_customer"]] == [["Other", 1]]


def _rows(client: Client, link: str) -> int:
    html = client.get(link).content.decode()
    return html.count("<tr data-alert-id=")


def test_each_bar_links_to_the_list_showing_exactly_what_it_counts(
    analyst: Any, analyst_client: Client
) -> None:
    mine, other = CustomerFactory(display_name="Mine"), CustomerFactory(display_name="Other")
    for customer in (mine, other):
        AnalystScopeFactory(user=analyst, customer=customer)
    now = datetime.now(UTC)
    for hours, customer, severity, status, category in (
        (2, mine, "High", "New", "Ransomware"), (2, mine, "High", "InProgress", "Ransomware"),
        (2, mine, "High", "Resolved", "Ransomware"), (2, other, "Medium", "New", "Malware"),
        (5, other, "High", "New", "Ransomware"), (30, mine, "High", "New", "Malware"),
    ):  # fmt: skip
        AlertFactory(
            customer=customer, severity=severity, status=status, category=category,
            created_at=now - timedelta(hours=hours),
            # "T1059" alone is not "T1059.001": each bar counts its exact ID.
            mitre_techniques=["T1059.001"] if hours == 2 else ["T1059", "T1486"],
        )  # fmt: skip
    data = analyst_client.get("/alerts/charts/data/?window=24h&status=all").json()
    checked = 0
    for severity, counts in data["over_time"]["series"].items():
        for count, link in zip(counts, data["over_time"]["links"][severity], strict=True):
            if count:
                assert link.startswith("/alerts/?") and "status=all" in link
                assert _rows(analyst_client, link) == count, (severity, link)
                checked += 1
    assert checked == 3  # High two hours ago, Medium two hours ago, High five hours ago
    for name, count, link in data["open_high_by_customer"]:
        assert _rows(analyst_client, link) == count, (name, link)
    for name, count, link in data["top_categories"]:
        assert _rows(analyst_client, link) == count, (name, link)
    for name, count, link in data["top_techniques"]:
        assert _rows(analyst_client, link) == count, (name, link)
    assert {row[0]: row[1] for row in data["open_high_by_customer"]} == {"Mine": 2, "Other": 1}


def test_bar_links_read_times_in_the_readers_zone(analyst: Any, analyst_client: Client) -> None:
    customer = CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=customer)
    AlertFactory(
        customer=customer, severity="High", created_at=datetime.now(UTC) - timedelta(hours=2)
    )
    analyst_client.post("/accounts/settings/", {"time_zone": "Asia/Kolkata"})
    data = analyst_client.get("/alerts/charts/data/?window=24h").json()
    (link,) = [
        link
        for count, link in zip(
            data["over_time"]["series"]["High"], data["over_time"]["links"]["High"], strict=True
        )
        if count
    ]
    # An hour's bucket starts on the half hour in India (UTC+05:30).
    assert "%3A30" in link.split("since=", 1)[1].split("&", 1)[0]
    assert _rows(analyst_client, link) == 1


def test_chart_data_for_customers_outside_the_scope_is_empty(
    analyst: Any, analyst_client: Client
) -> None:
    mine, theirs = CustomerFactory(), CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=mine)
    AlertFactory(customer=theirs, severity="High", created_at=datetime.now(UTC))
    response = analyst_client.get(f"/alerts/charts/data/?window=24h&customer={theirs.pk}")
    assert response.status_code == 200
    data = response.json()
    assert sum(sum(values) for values in data["over_time"]["series"].values()) == 0
    assert data["open_high_by_customer"] == []
    assert data["top_categories"] == [] and data["top_techniques"] == []


def test_chart_data_refuses_an_unknown_window(admin_client_portal: Client) -> None:
    response = admin_client_portal.get("/alerts/charts/data/?window=1y")
    assert response.status_code == 400
