"""Routing policies match on the Defender product (Graph's serviceSource): set on the
policy page, shown in the list, and applied by the outbox and the preview alike."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.sync.stored import StoredChanges
from partner_portal.notifications.models import Policy
from partner_portal.notifications.outbox import record_stored
from tenants.models import Customer
from tests.alerts.factories import AlertFactory
from tests.notifications.conftest import drain
from tests.notifications.factories import ChannelFactory, PolicyFactory
from tests.notifications.receivers import HttpReceiver

pytestmark = pytest.mark.django_db

OFFICE = "microsoftDefenderForOffice365"


def stored(customer: Customer, *alerts: Any) -> None:
    """What the sync announces after storing these alerts."""
    record_stored(
        StoredChanges(customer_id=customer.pk, new_alert_ids=tuple(a.alert_id for a in alerts))
    )


def test_a_product_policy_takes_only_that_products_alerts(
    customer: Customer, receiver: HttpReceiver
) -> None:
    PolicyFactory(
        position=10, products=[OFFICE], channels=[ChannelFactory(url=receiver.url("/mail"))]
    )
    PolicyFactory(
        position=20, products=["microsoftDefenderForEndpoint"],
        channels=[ChannelFactory(url=receiver.url("/endpoint"))],
    )  # fmt: skip
    now = timezone.now()
    phish = AlertFactory(
        customer=customer, alert_id="da-phish", service_source=OFFICE, last_updated_at=now
    )
    graph_endpoint = AlertFactory(
        customer=customer, alert_id="da-mde-graph",
        service_source="microsoftDefenderForEndpoint", last_updated_at=now,
    )  # fmt: skip
    legacy = AlertFactory(customer=customer, alert_id="da-mde-legacy", last_updated_at=now)
    stored(customer, phish, graph_endpoint, legacy)

    assert drain() == ["delivered"] * 3

    def sent(path: str) -> list[str]:
        bodies = [json.loads(r.body) for r in receiver.accepted(path)]
        return sorted(a["alert_id"] for body in bodies for a in body["alerts"])

    assert sent("/mail") == ["da-phish"]
    assert sent("/endpoint") == ["da-mde-graph", "da-mde-legacy"]


def test_the_policy_page_sets_and_shows_the_products(admin_client_portal: Client) -> None:
    channel = ChannelFactory()
    response = admin_client_portal.post(
        reverse("notifications:policy_create"),
        {"name": "Mail threats", "enabled": "on", "products": [OFFICE],
         "channels": [channel.pk], "group_by": "alert", "group_wait_seconds": "0",
         "repeat_interval_seconds": "3600"},
    )  # fmt: skip
    assert response.status_code == 302
    assert Policy.objects.get(name="Mail threats").products == [OFFICE]
    page = admin_client_portal.get(reverse("notifications:policies")).content.decode()
    assert f"products {OFFICE}" in page
    bad = admin_client_portal.post(
        reverse("notifications:policy_create"),
        {"name": "Bad", "products": ["notAProduct"], "channels": [channel.pk],
         "group_by": "alert", "group_wait_seconds": "0", "repeat_interval_seconds": "3600"},
    )  # fmt: skip
    assert bad.status_code == 400 and "Select a valid choice" in bad.content.decode()


def test_the_preview_applies_the_product_matcher(
    customer: Customer, admin_client_portal: Client
) -> None:
    policy = PolicyFactory(products=[OFFICE])
    AlertFactory(customer=customer, title="Phish delivered", service_source=OFFICE,
                 created_at=timezone.now())  # fmt: skip
    AlertFactory(customer=customer, title="PowerShell on a laptop", created_at=timezone.now())
    page = admin_client_portal.get(
        reverse("notifications:policy_preview", args=[policy.pk])
    ).content.decode()
    assert "Phish delivered" in page and "PowerShell on a laptop" not in page
