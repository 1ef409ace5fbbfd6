"""The sync's store listeners: apps above the alerts app hear, inside the storing
transaction, which alerts and incidents each upsert created or changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync import stored
from partner_portal.alerts.sync.incident_upsert import incidents_upsert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.defender import parse_alert, parse_incident
from tenants.models import Customer, CustomerStatus
from tests.alerts.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def alert(alert_id: str, updated: str = "2026-01-02T10:00:00Z") -> Any:
    return parse_alert(
        {"id": alert_id, "title": alert_id, "severity": "High", "status": "New",
         "alertCreationTime": "2026-01-01T09:00:00Z", "lastUpdateTime": updated}
    )  # fmt: skip


def incident(incident_id: int, updated: str = "2026-01-02T10:00:00Z") -> Any:
    return parse_incident(
        {"incidentId": incident_id, "incidentName": "x", "status": "Active", "severity": "High",
         "createdTime": "2026-01-01T09:00:00Z", "lastUpdateTime": updated, "alerts": []}
    )  # fmt: skip


@pytest.fixture
def customer() -> Customer:
    return CustomerFactory(status=CustomerStatus.ACTIVE)


@pytest.fixture
def heard() -> Iterator[list[tuple[stored.StoredChanges, bool]]]:
    calls: list[tuple[stored.StoredChanges, bool]] = []
    stored.register_store_listener(
        "test.heard", lambda changes: calls.append((changes, connection.in_atomic_block))
    )
    yield calls
    stored.unregister_store_listener("test.heard")


def test_listeners_hear_new_and_changed_alerts_inside_the_transaction(
    customer: Customer, heard: list[tuple[stored.StoredChanges, bool]]
) -> None:
    alerts_upsert(customer_id=customer.pk, records=[alert("a1"), alert("a2")])
    alerts_upsert(customer_id=customer.pk, records=[alert("a1")])  # nothing new: silence
    alerts_upsert(
        customer_id=customer.pk, records=[alert("a2", "2026-01-03T10:00:00Z"), alert("a3")]
    )
    assert [(sorted(c.new_alert_ids), c.changed_alert_ids, inside) for c, inside in heard] == [
        (["a1", "a2"], (), True),
        (["a3"], ("a2",), True),
    ]
    assert {c.customer_id for c, _ in heard} == {customer.pk}


def test_listeners_hear_new_and_changed_incidents(
    customer: Customer, heard: list[tuple[stored.StoredChanges, bool]]
) -> None:
    incidents_upsert(customer_id=customer.pk, records=[incident(7)])
    incidents_upsert(customer_id=customer.pk, records=[incident(7, "2026-01-05T00:00:00Z")])
    assert [(c.new_incident_ids, c.changed_incident_ids) for c, _ in heard] == [
        ((7,), ()),
        ((), (7,)),
    ]


def test_a_listener_that_fails_rolls_the_page_back(customer: Customer) -> None:
    def refuse(changes: stored.StoredChanges) -> None:
        raise RuntimeError("listener failed")

    stored.register_store_listener("test.refuse", refuse)
    try:
        with pytest.raises(RuntimeError, match="listener failed"):
            alerts_upsert(customer_id=customer.pk, records=[alert("lost")])
    finally:
        stored.unregister_store_listener("test.refuse")
    assert not Alert.objects.filter(alert_id="lost").exists()
