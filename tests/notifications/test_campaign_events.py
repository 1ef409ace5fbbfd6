"""Campaign events against a real receiver: a policy that asks for them hears once when
an indicator reaches a second of its customers and once more for each further customer;
a re-sync says nothing; a policy restricted to a tag neither counts nor names the others."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.correlation.index import index_pending
from partner_portal.defender import AlertRecord
from tenants.models import Customer
from tests.alerts.factories import CustomerFactory
from tests.notifications.conftest import drain
from tests.notifications.factories import ChannelFactory, CustomerTagFactory, PolicyFactory
from tests.notifications.receivers import HttpReceiver

pytestmark = pytest.mark.django_db

SECRET = "whsec-campaign-events-0123"
HASH = "7d865e959b2466918c9863afca942d0fb89d7c9ac0c99bafc3749504ded97730"
ADDRESS = "45.77.12.34"


def campaigns(receiver: HttpReceiver, path: str) -> list[dict[str, Any]]:
    """The campaign messages the receiver took (the policies also route the alerts)."""
    drain()
    told = [json.loads(r.body) for r in receiver.accepted(path)]
    return [body for body in told if body["type"] == "campaign"]


@pytest.fixture
def plant(make_alert: Callable[..., AlertRecord]) -> Callable[[Customer, str], None]:
    """Store (as the sync does) and index an alert at `customer` carrying the hash."""

    def store(customer: Customer, alert_id: str) -> None:
        evidence = [
            {"entityType": "File", "sha256": HASH},
            {"entityType": "Ip", "ipAddress": ADDRESS},
        ]
        record = make_alert(alert_id, evidence=evidence)
        alerts_upsert(customer_id=customer.pk, records=[record])
        index_pending()

    return store


def test_a_campaign_is_told_when_it_reaches_a_second_customer_and_each_one_after(
    plant: Any, receiver: HttpReceiver
) -> None:
    PolicyFactory(
        name="Campaigns", campaign_events=True,
        channels=[ChannelFactory(url=receiver.url("/hook"), signing_secret=SECRET)],
    )  # fmt: skip
    first, second, third = (CustomerFactory(display_name=n) for n in ("Alpha", "Bravo", "Charlie"))
    plant(first, "da-c-1")
    assert campaigns(receiver, "/hook") == []  # one customer is no campaign
    plant(second, "da-c-2")
    assert len(campaigns(receiver, "/hook")) == 1
    plant(second, "da-c-2")  # the same alert again
    plant(second, "da-c-3")  # another alert at a customer already counted
    assert len(campaigns(receiver, "/hook")) == 1
    plant(third, "da-c-4")

    detected, grew = campaigns(receiver, "/hook")
    assert (detected["type"], detected["event"]) == ("campaign", "campaign_detected")
    assert detected["campaign"]["customers"] == ["Alpha", "Bravo"]
    assert {(i["kind"], i["value"]) for i in detected["campaign"]["indicators"]} == {
        ("sha256", HASH), ("ip", ADDRESS),
    }  # fmt: skip
    assert detected["subject"].startswith("Campaign seen at 2 customers: ")
    assert "/campaigns/" in detected["campaign"]["portal_url"]
    assert (grew["event"], grew["campaign"]["customers"]) == (
        "campaign_grew", ["Alpha", "Bravo", "Charlie"],
    )  # fmt: skip
    assert {a["customer"] for a in grew["alerts"]} == {"Alpha", "Bravo", "Charlie"}


def test_a_policy_for_one_tag_counts_and_names_only_its_customers(
    plant: Any, receiver: HttpReceiver
) -> None:
    gold = CustomerTagFactory(name="Gold")
    first, second, outsider = (
        CustomerFactory(display_name=n) for n in ("Gold One", "Gold Two", "Plain Secret")
    )
    gold.customers.set([first, second])
    PolicyFactory(
        name="Gold campaigns", campaign_events=True, tags=[gold],
        channels=[ChannelFactory(url=receiver.url("/gold"), signing_secret=SECRET)],
    )  # fmt: skip
    PolicyFactory(
        name="Alerts only", campaign_events=False,
        channels=[ChannelFactory(url=receiver.url("/quiet"), signing_secret=SECRET)],
    )  # fmt: skip
    plant(first, "da-g-1")
    plant(outsider, "da-g-2")
    assert campaigns(receiver, "/gold") == []  # the outsider is not counted
    plant(second, "da-g-3")
    (told,) = campaigns(receiver, "/gold")
    assert told["campaign"]["customers"] == ["Gold One", "Gold Two"]
    assert "Plain Secret" not in json.dumps(told)
    assert told["subject"].startswith("Campaign seen at 2 customers")
    assert campaigns(receiver, "/quiet") == []
