"""Incident changes against a real receiver: a policy that asks for them tells of a new
incident once and of its severity rising once per level; a re-sync, a status change or a
severity falling and rising back says nothing; a policy that does not ask stays silent."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from partner_portal.alerts.sync.incident_upsert import incidents_upsert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.defender import parse_alert, parse_incident
from tenants.models import Customer
from tests.notifications.conftest import drain
from tests.notifications.factories import ChannelFactory, PolicyFactory
from tests.notifications.receivers import HttpReceiver

pytestmark = pytest.mark.django_db

SECRET = "whsec-incident-events-0123"


class Defender:
    """An incident as Microsoft changes it: each `version` is a later update."""

    def __init__(self) -> None:
        self.updates = 0

    def incident(self, incident_id: int, **fields: Any) -> Any:
        self.updates += 1
        updated = timezone.now() - timedelta(minutes=30) + timedelta(seconds=self.updates)
        return parse_incident(
            {"incidentId": incident_id, "incidentName": "Multi-stage attack on ws-0042",
             "status": "Active", "severity": "Medium",
             "createdTime": (timezone.now() - timedelta(hours=1)).isoformat(),
             "lastUpdateTime": updated.isoformat(),
             "alerts": [{"alertId": "da-inc-1", "incidentId": incident_id, "title": "PowerShell",
                         "severity": "Medium", "status": "New"}],
             **fields}
        )  # fmt: skip


def bodies(receiver: HttpReceiver, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.accepted(path)]


def test_a_new_incident_and_each_rise_of_its_severity_are_told_once(
    customer: Customer, receiver: HttpReceiver
) -> None:
    PolicyFactory(
        name="Incidents", incident_events=True,
        channels=[ChannelFactory(url=receiver.url("/hook"), signing_secret=SECRET)],
    )  # fmt: skip
    ms = Defender()
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(4411)])
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(4411)])  # re-sync
    assert drain() == ["delivered"]
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(4411, status="InProgress")])
    assert drain() == []
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(4411, severity="High")])
    assert drain() == ["delivered"]
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(4411, severity="Low")])
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(4411, severity="High")])
    assert drain() == []

    first, raised = bodies(receiver, "/hook")
    assert (first["type"], first["event"]) == ("incident", "incident_created")
    assert first["subject"] == ("[Contoso] New Medium incident 4411: Multi-stage attack on ws-0042")
    assert first["incident"]["id"] == 4411
    assert "security.microsoft.com/incidents/4411" in first["incident"]["defender_url"]
    assert raised["event"] == "incident_severity_raised"
    assert raised["subject"].startswith("[Contoso] Incident 4411 rose to High")
    assert first["id"] != raised["id"]


def test_only_policies_that_ask_tell_of_incidents_and_only_when_they_match(
    customer: Customer, receiver: HttpReceiver
) -> None:
    PolicyFactory(position=10, channels=[ChannelFactory(url=receiver.url("/alerts-only"))])
    PolicyFactory(
        position=20, incident_events=True, severities=["High"],
        channels=[ChannelFactory(url=receiver.url("/high-incidents"))],
    )  # fmt: skip
    ms = Defender()
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(77)])
    assert drain() == []
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(77, severity="High")])
    assert drain() == ["delivered"]
    assert [r.path for r in receiver.accepted()] == ["/high-incidents"]
    # The first policy still takes alerts.
    record = parse_alert(
        {"id": "da-alone", "title": "PowerShell", "severity": "Medium", "status": "New",
         "alertCreationTime": timezone.now().isoformat(),
         "lastUpdateTime": timezone.now().isoformat()}
    )  # fmt: skip
    alerts_upsert(customer_id=customer.pk, records=[record])
    assert drain() == ["delivered"]
    assert [r.path for r in receiver.accepted()] == ["/high-incidents", "/alerts-only"]
    # Told once, as new: this policy never heard of the incident at Medium.
    body = json.loads(receiver.accepted("/high-incidents")[0].body)
    assert body["event"] == "incident_created"


def test_an_old_incident_of_a_first_sync_is_not_told(
    customer: Customer, receiver: HttpReceiver
) -> None:
    PolicyFactory(incident_events=True, channels=[ChannelFactory(url=receiver.url("/hook"))])
    old = (timezone.now() - timedelta(days=20)).isoformat()
    incidents_upsert(customer_id=customer.pk, records=[Defender().incident(9, lastUpdateTime=old)])
    assert drain() == []
    assert receiver.requests == []
