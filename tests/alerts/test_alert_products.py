"""The alert list's Product filter and column: in the page, its counts, exports and live
rows. Alerts stored from the Defender for Endpoint API count as Defender for Endpoint."""

from __future__ import annotations

import csv
import io
import re
from typing import Any

import pytest
from django.test import Client

from partner_portal.alerts.filters import AlertFilterForm
from partner_portal.alerts.products import PRODUCT_CHOICES, product_of
from partner_portal.defender import GRAPH_SERVICE_SOURCES, service_source_label
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.alerts.test_alert_list_counts_live import count_of
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

OFFICE = "microsoftDefenderForOffice365"
ENDPOINT = "microsoftDefenderForEndpoint"


@pytest.fixture
def alerts(analyst: Any) -> dict[str, Any]:
    mine, theirs = CustomerFactory(display_name="Contoso"), CustomerFactory(display_name="Other")
    AnalystScopeFactory(user=analyst, customer=mine)
    client = Client()
    client.force_login(analyst)
    return {
        "client": client,
        "mail": AlertFactory(customer=mine, service_source=OFFICE, from_graph=True,
                             severity="High", title="Phish delivered"),
        "graph_endpoint": AlertFactory(customer=mine, service_source=ENDPOINT, from_graph=True,
                                       title="Graph endpoint"),
        "legacy": AlertFactory(customer=mine, service_source="", from_graph=False,
                               title="Legacy endpoint"),
        "foreign": AlertFactory(customer=theirs, service_source=OFFICE, from_graph=True,
                                title="Foreign phish"),
    }  # fmt: skip


def titles(client: Client, query: str) -> set[str]:
    page = client.get("/alerts/" + query).content.decode()
    return set(re.findall(r'class="alert-link" href="[^"]+">([^<]+)</a>', page))


def test_the_product_names_come_from_the_protocol_core() -> None:
    offered = dict(PRODUCT_CHOICES)
    assert offered[OFFICE] == service_source_label(OFFICE) == "Defender for Office 365"
    assert set(offered) < set(GRAPH_SERVICE_SOURCES)
    assert "unknown" not in offered and "unknownFutureValue" not in offered
    assert AlertFilterForm.base_fields["product"].choices == PRODUCT_CHOICES  # type: ignore[attr-defined]
    assert product_of("", False) == ENDPOINT and product_of("", True) == ""
    assert product_of("MicrosoftDefenderForOffice365", True) == OFFICE


def test_the_filter_counts_legacy_alerts_as_defender_for_endpoint(alerts: dict[str, Any]) -> None:
    client = alerts["client"]
    assert titles(client, f"?product={ENDPOINT}") == {"Graph endpoint", "Legacy endpoint"}
    assert titles(client, f"?product={OFFICE}") == {"Phish delivered"}
    assert titles(client, f"?product={OFFICE}&product={ENDPOINT}") == {
        "Phish delivered", "Graph endpoint", "Legacy endpoint",
    }  # fmt: skip
    response = client.get("/alerts/?product=notAProduct")
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()


def test_the_column_names_each_alert_s_product(alerts: dict[str, Any]) -> None:
    page = alerts["client"].get("/alerts/").content.decode()
    assert page.count('<td class="product">Defender for Endpoint</td>') == 2
    assert page.count('<td class="product">Defender for Office 365</td>') == 1
    assert '<th scope="col">Product</th>' in page
    # The filter offers every product, the chosen ones selected.
    chosen = alerts["client"].get(f"/alerts/?product={OFFICE}").content.decode()
    assert f'<option value="{OFFICE}" selected>Defender for Office 365</option>' in chosen


def test_counts_exports_and_live_rows_follow_the_product(alerts: dict[str, Any]) -> None:
    client = alerts["client"]
    counts = client.get(f"/alerts/counts/?product={OFFICE}").content.decode()
    assert count_of(counts, "severity", "High") == 1 and "1 alert match" in counts
    body = b"".join(client.get(f"/alerts/export.csv?product={ENDPOINT}").streaming_content)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert {row["title"]: row["product"] for row in rows} == {
        "Graph endpoint": "Defender for Endpoint", "Legacy endpoint": "Defender for Endpoint",
    }  # fmt: skip
    live = client.get(f"/alerts/live/?since_id=0&product={OFFICE}").json()
    assert live["count"] == 1
    assert '<td class="product">Defender for Office 365</td>' in live["rows_html"]
    assert "Foreign phish" not in live["rows_html"]
