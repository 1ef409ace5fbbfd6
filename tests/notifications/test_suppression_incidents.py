"""Suppression of incident messages: a rule that also keeps incidents quiet stops the
"new incident" message of an incident it matches on customer, severity and name, or of
an incident whose alerts it all caught; the rule's page counts the incident as a hit. A
rule that does not ask, or one with conditions only alerts have, leaves incidents alone."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from partner_portal.alerts.sync.incident_upsert import incidents_upsert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.notifications.models import SuppressionHit, SuppressionRule
from tenants.models import Customer
from tests.notifications.conftest import drain
from tests.notifications.factories import ChannelFactory, PolicyFactory, SuppressionRuleFactory
from tests.notifications.receivers import HttpReceiver
from tests.notifications.test_incident_events import Defender

pytestmark = pytest.mark.django_db


@pytest.fixture
def incident_hook(receiver: HttpReceiver) -> HttpReceiver:
    PolicyFactory(
        name="Incidents", incident_events=True, channels=[ChannelFactory(url=receiver.url("/hook"))]
    )
    return receiver


def test_a_rule_matching_the_incident_keeps_its_message_quiet_and_records_a_hit(
    customer: Customer, incident_hook: HttpReceiver
) -> None:
    rule = SuppressionRuleFactory(
        customers=[customer], severities=["Medium"], title_contains="multi-stage", incidents=True
    )
    ms = Defender()
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(4411)])
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(4412, severity="High")])
    assert drain() == ["delivered"]
    (told,) = [json.loads(r.body) for r in incident_hook.accepted("/hook")]
    assert told["incident"]["id"] == 4412
    hit = SuppressionHit.objects.get()
    assert (hit.rule, hit.alert_id, hit.title) == (
        rule,
        "incident:4411",
        "Multi-stage attack on ws-0042",
    )


def test_an_incident_made_only_of_suppressed_alerts_is_kept_quiet(
    customer: Customer, incident_hook: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    # Evidence is something an incident cannot answer: judged through its alerts alone.
    SuppressionRuleFactory(ip_addresses=["10.0.0.7"], incidents=True)
    ip = [{"entityType": "Ip", "ipAddress": "10.0.0.7"}]
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-inc-1", evidence=ip)])
    ms = Defender()
    incidents_upsert(customer_id=customer.pk, records=[ms.incident(4411)])
    assert drain() == []
    assert set(SuppressionHit.objects.values_list("alert_id", flat=True)) == {
        "da-inc-1", "incident:4411",
    }  # fmt: skip


def test_an_incident_with_an_alert_no_rule_caught_is_told(
    customer: Customer, incident_hook: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    SuppressionRuleFactory(ip_addresses=["10.0.0.7"], incidents=True)
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-inc-1")])
    assert drain() == ["delivered"]  # the alert itself, which no rule caught
    incidents_upsert(customer_id=customer.pk, records=[Defender().incident(4411)])
    assert drain() == ["delivered"]


def test_a_rule_that_does_not_ask_leaves_incidents_alone(
    customer: Customer, incident_hook: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    SuppressionRuleFactory(customers=[customer])  # catches every alert of the customer
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-inc-1")])
    incidents_upsert(customer_id=customer.pk, records=[Defender().incident(4411)])
    assert drain() == ["delivered"]


def test_the_form_sets_the_incident_choice(admin_client_portal: Client) -> None:
    response = admin_client_portal.post(
        reverse("notifications:suppression_create"),
        {"reason": "Lab tenant", "days": "7", "action": "mute", "incidents": "on"},
    )
    assert response.status_code == 302
    assert SuppressionRule.objects.get().incidents is True
