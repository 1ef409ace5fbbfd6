"""CSV and JSON exports of the current alert filter, streamed."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client

from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


def body(response: Any) -> str:
    assert response.streaming, "exports must stream, not build the file in memory"
    return b"".join(response.streaming_content).decode()


def test_csv_export_holds_the_filtered_alerts_in_list_order(admin_client_portal: Client) -> None:
    customer = CustomerFactory(display_name="Contoso")
    older = AlertFactory(customer=customer, severity="High", mitre_techniques=["T1003", "T1059"])
    newer = AlertFactory(customer=customer, severity="High")
    AlertFactory(customer=customer, severity="Low")
    response = admin_client_portal.get("/alerts/export.csv?severity=High")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith('attachment; filename="alerts-')
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert [row["alert_id"] for row in rows] == [newer.alert_id, older.alert_id]
    assert rows[1]["customer"] == "Contoso"
    assert rows[1]["severity"] == "High"
    assert rows[1]["mitre_techniques"] == "T1003;T1059"
    assert rows[1]["created_at"] == older.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_csv_export_defuses_spreadsheet_formulas(admin_client_portal: Client) -> None:
    AlertFactory(title='=HYPERLINK("http://evil.example")', assigned_to="+cmd")
    rows = list(csv.DictReader(io.StringIO(body(admin_client_portal.get("/alerts/export.csv")))))
    assert rows[0]["title"].startswith("'=")
    assert rows[0]["assigned_to"] == "'+cmd"


def test_csv_export_defuses_formulas_in_list_cells(admin_client_portal: Client) -> None:
    AlertFactory(mitre_techniques=['=HYPERLINK("http://evil.example")', "T1059"])
    rows = list(csv.DictReader(io.StringIO(body(admin_client_portal.get("/alerts/export.csv")))))
    assert rows[0]["mitre_techniques"] == '\'=HYPERLINK("http://evil.example");T1059'


def test_json_export_is_one_valid_array(admin_client_portal: Client) -> None:
    alerts = AlertFactory.create_batch(3, status="InProgress")
    AlertFactory(status="Resolved")
    response = admin_client_portal.get("/alerts/export.json?status=InProgress&sort=oldest")
    assert response["Content-Type"] == "application/json"
    data = json.loads(body(response))
    assert [item["alert_id"] for item in data] == [a.alert_id for a in alerts]
    assert data[0]["status"] == "InProgress"
    assert data[0]["mitre_techniques"] == ["T1059.001"]


def test_an_empty_export_is_still_well_formed(admin_client_portal: Client) -> None:
    assert json.loads(body(admin_client_portal.get("/alerts/export.json?q=nothing-here"))) == []
    text = body(admin_client_portal.get("/alerts/export.csv?q=nothing-here"))
    assert text.splitlines()[0].startswith("customer,tenant_id,alert_id,created_at")
    assert len(text.splitlines()) == 1


def test_exports_stay_inside_the_analysts_scope(analyst: Any, analyst_client: Client) -> None:
    mine, theirs = CustomerFactory(), CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=mine)
    visible = AlertFactory(customer=mine)
    hidden = AlertFactory(customer=theirs)
    for url in ("/alerts/export.csv", f"/alerts/export.csv?customer={theirs.pk}"):
        text = body(analyst_client.get(url))
        assert hidden.alert_id not in text
    assert visible.alert_id in body(analyst_client.get("/alerts/export.csv"))
    data = json.loads(body(analyst_client.get("/alerts/export.json")))
    assert [item["alert_id"] for item in data] == [visible.alert_id]


def test_exports_refuse_an_invalid_filter(admin_client_portal: Client) -> None:
    response = admin_client_portal.get("/alerts/export.csv?period=forever")
    assert response.status_code == 400
    assert "period" in response.json()["errors"]


def test_the_export_carries_what_the_alert_page_shows(admin_client_portal: Client) -> None:
    customer = CustomerFactory(
        display_name="Contoso", tenant_id="11111111-2222-4333-8444-555555555555"
    )
    alert = AlertFactory(
        customer=customer,
        alert_id="da638400000000000000_77",
        description="Mimikatz dumped credentials from LSASS.",
        machine_id="a" * 40,
        raw={
            "evidence": [
                {"entityType": "File", "fileName": "mimikatz.exe", "sha1": "f" * 40},
                {"entityType": "Ip", "ipAddress": "203.0.113.7"},
            ],
            "comments": [
                {"comment": "[Dana Reyes <dana@partner.example> via Partner Portal] Contained.",
                 "createdBy": "app-guid", "createdTime": "2026-11-01T12:30:00Z"},
            ],
        },
    )  # fmt: skip
    response = admin_client_portal.get("/alerts/export.json")
    (row,) = json.loads(body(response))
    assert row["description"] == "Mimikatz dumped credentials from LSASS."
    assert row["device_id"] == "a" * 40
    for name in ("first_event_at", "last_event_at", "resolved_at"):
        assert name in row
    assert row["evidence"][0] == "File: mimikatz.exe"
    assert len(row["evidence"]) == 2 and "203.0.113.7" in row["evidence"][1]
    assert row["comments"] == [
        "2026-11-01T12:30:00Z Dana Reyes <dana@partner.example> via Partner Portal: Contained."
    ]
    assert row["portal_url"] == f"http://testserver/alerts/{alert.pk}/"
    assert row["defender_url"] == (
        "https://security.microsoft.com/alerts/da638400000000000000_77"
        "?tid=11111111-2222-4333-8444-555555555555"
    )
    # The CSV has the same columns, lists joined.
    (csv_row,) = csv.DictReader(io.StringIO(body(admin_client_portal.get("/alerts/export.csv"))))
    assert csv_row["evidence"].startswith("File: mimikatz.exe;")
