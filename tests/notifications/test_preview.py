"""A policy's preview lists the last seven days' alerts its conditions match, among the
customers the reader may see, with the same matching that delivery uses."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.core.access import Role
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.factories import UserFactory
from tests.notifications.factories import ChannelFactory, CustomerTagFactory, PolicyFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_preview_shows_the_last_weeks_alerts_the_policy_matches() -> None:
    now = timezone.now()
    gold = CustomerTagFactory(name="Gold")
    alpha = CustomerFactory(display_name="Alpha Gold")
    bravo = CustomerFactory(display_name="Bravo Gold")
    plain = CustomerFactory(display_name="Charlie Plain")
    gold.customers.add(alpha, bravo)
    policy = PolicyFactory(
        name="High gold execution", severities=["High"], tags=[gold],
        mitre_techniques=["T1059"], channels=[ChannelFactory()],
    )  # fmt: skip

    def alert(customer: Any, alert_id: str, days: float, **fields: Any) -> Any:
        defaults = {"severity": "High", "mitre_techniques": ["T1059.001"]}
        return AlertFactory(
            customer=customer, alert_id=alert_id, title=f"Alert {alert_id}",
            created_at=now - timedelta(days=days), **{**defaults, **fields},
        )  # fmt: skip

    alert(alpha, "hit-alpha", 3)
    alert(bravo, "hit-bravo", 1)
    alert(alpha, "too-old", 8)
    alert(alpha, "low", 1, severity="Low")
    alert(alpha, "other-technique", 1, mitre_techniques=["T1003"])
    alert(plain, "untagged", 1)

    admin = client_for(UserFactory(roles=[Role.ADMIN]))
    url = reverse("notifications:policy_preview", args=[policy.pk])
    page = admin.get(url).content.decode()
    shown = {a for a in ("hit-alpha", "hit-bravo", "too-old", "low", "other-technique",
                         "untagged") if f'data-alert-id="{a}"' in page}  # fmt: skip
    assert shown == {"hit-alpha", "hit-bravo"}
    assert '<span id="preview-count">2</span>' in page

    analyst = UserFactory(roles=[Role.ANALYST])
    AnalystScopeFactory(user=analyst, customer=alpha)
    scoped = client_for(analyst).get(url).content.decode()
    assert 'data-alert-id="hit-alpha"' in scoped
    assert "hit-bravo" not in scoped and "Bravo Gold" not in scoped
    assert '<span id="preview-count">1</span>' in scoped
