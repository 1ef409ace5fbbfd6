"""Storing incident pages: a page of which nothing is stored yet is streamed with COPY on
PostgreSQL, and stores the same rows as the INSERT ... ON CONFLICT writer; a COPY that
meets a row stored meanwhile gives way to that writer."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from partner_portal.alerts.models import Incident
from partner_portal.alerts.sync import incident_upsert
from partner_portal.alerts.sync.graph_rows import graph_incident
from partner_portal.alerts.sync.incident_upsert import incidents_upsert
from partner_portal.defender.graph_records import parse_graph_incident
from tenants.models import Customer, CustomerStatus
from tests.alerts.factories import CustomerFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db]

# Every column the two writers fill, beside the row's own keys and when it was stored.
COMPARED = [
    f.attname
    for f in Incident._meta.concrete_fields
    if f.attname not in {"id", "customer_id", "synced_at"}
]


def graph_page() -> list[Any]:
    """Two Graph incidents: one with tags, a comment and an alert, one merged."""
    first = {
        "id": "29", "displayName": "Multi-stage incident", "status": "active",
        "severity": "high", "classification": "unknown", "determination": "unknown",
        "assignedTo": "ann@contoso.example", "customTags": ["VIP"],
        "systemTags": ["Defender Experts"], "createdDateTime": "2026-01-01T09:00:00Z",
        "lastUpdateDateTime": "2026-01-02T10:00:00.123Z", "redirectIncidentId": None,
        "incidentWebUrl": "https://security.microsoft.com/incidents/29",
        "comments": [{"comment": "seen", "createdByDisplayName": "Ann",
                      "createdDateTime": "2026-01-02T10:00:00Z"}],
        "alerts": [{"id": "da1", "title": "t", "severity": "high", "status": "new",
                    "createdDateTime": "2026-01-01T09:00:00Z",
                    "lastUpdateDateTime": "2026-01-01T09:00:00Z", "evidence": []}],
    }  # fmt: skip
    merged = {
        **first, "id": "30", "status": "redirected", "redirectIncidentId": "29",
        "customTags": [], "systemTags": [], "alerts": [], "displayName": "Quote ' \\ \t",
    }  # fmt: skip
    return [parse_graph_incident(first), parse_graph_incident(merged)]


def stored(customer: Customer) -> dict[int, dict[str, Any]]:
    return {
        row["incident_id"]: {name: row[name] for name in COMPARED}
        for row in Incident.objects.filter(customer=customer).values()
    }


@pytest.fixture
def customers() -> tuple[Customer, Customer]:
    return (
        CustomerFactory(status=CustomerStatus.ACTIVE),
        CustomerFactory(status=CustomerStatus.ACTIVE),
    )


def test_a_new_page_copied_stores_what_the_merging_writer_stores(
    customers: tuple[Customer, Customer], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert connection.vendor == "postgresql"
    copied, merged = customers
    merging_writes: list[int] = []
    real = incident_upsert.insert_or_update
    monkeypatch.setattr(
        incident_upsert,
        "insert_or_update",
        lambda *args, **kwargs: (merging_writes.append(1), real(*args, **kwargs)),
    )
    first = incidents_upsert(customer_id=copied.pk, records=graph_page())
    assert merging_writes == []  # copied, not merged
    monkeypatch.setattr(incident_upsert, "_copied", lambda rows: False)
    second = incidents_upsert(customer_id=merged.pk, records=graph_page())

    assert merging_writes == [1]
    assert (first.created, first.updated) == (second.created, second.updated) == (2, 0)
    rows = stored(copied)
    assert rows == stored(merged)
    assert rows[29]["alert_ids"] == ["da1"] and rows[29]["tags"] == ["VIP"]
    assert rows[30]["redirect_incident_id"] == 29 and rows[30]["name"] == "Quote ' \\ \t"


def test_a_copy_meeting_a_row_stored_meanwhile_gives_way_and_writes_nothing(
    customers: tuple[Customer, Customer],
) -> None:
    customer, _ = customers
    page = graph_page()
    incidents_upsert(customer_id=customer.pk, records=page[:1])
    rows = [graph_incident(customer.pk, int(i.id), i, i.last_update_date_time) for i in page]

    assert incident_upsert._copied(rows) is False
    # The connection is still usable and only the incident stored before is there.
    assert list(Incident.objects.filter(customer=customer).values_list("incident_id", flat=True))
    assert set(stored(customer)) == {29}
