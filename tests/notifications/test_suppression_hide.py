"""The "hide from the queue" action: an alert a hide rule catches notifies nobody, is
marked with the rule on its row, and is left out of the alert list, its counts, its live
updates and the overview, until the filter asks to show hidden alerts; it then shows a
badge naming the rule, on the list and on its page. Ending the rule brings it back."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.notifications.models import SuppressionAction, SuppressionHit
from tenants.models import Customer
from tests.notifications.conftest import drain
from tests.notifications.factories import ChannelFactory, PolicyFactory, SuppressionRuleFactory
from tests.notifications.receivers import HttpReceiver

pytestmark = pytest.mark.django_db


def listed(client: Client, query: str = "") -> list[int]:
    html = client.get(f"{reverse('alerts:list')}{query}").content.decode()
    return [int(pk) for pk in re.findall(r'<tr data-alert-id="(\d+)"', html)]


def total_counted(client: Client, query: str = "") -> int:
    html = client.get(f"{reverse('alerts:counts')}{query}").content.decode()
    match = re.search(r"(\d+) alerts? match", html)
    assert match, html
    return int(match.group(1))


@pytest.fixture
def synced(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> dict[str, Any]:
    PolicyFactory(name="Everything", channels=[ChannelFactory(url=receiver.url("/hook"))])
    rule = SuppressionRuleFactory(
        reason="Vulnerability scanner", action=SuppressionAction.HIDE,
        customers=[customer], ip_addresses=["10.9.9.9"],
    )  # fmt: skip
    scanner = [{"entityType": "Ip", "ipAddress": "10.9.9.9"}]
    alerts_upsert(
        customer_id=customer.pk,
        records=[
            make_alert("da-scan", title="Port scan from scanner", evidence=scanner),
            make_alert("da-real", title="Credential theft"),
        ],
    )
    hidden = Alert.objects.get(alert_id="da-scan")
    shown = Alert.objects.get(alert_id="da-real")
    return {"rule": rule, "hidden": hidden, "shown": shown, "receiver": receiver}


def test_a_hidden_alert_notifies_nobody_and_its_row_names_the_rule(
    synced: dict[str, Any],
) -> None:
    assert drain() == ["delivered"]
    assert b"da-scan" not in b"".join(r.body for r in synced["receiver"].accepted("/hook"))
    hidden, rule = synced["hidden"], synced["rule"]
    assert hidden.hidden_by_rule == rule.pk
    assert hidden.hidden_because == f"Suppression rule #{rule.pk}: Vulnerability scanner"
    assert SuppressionHit.objects.get().alert_id == "da-scan"
    assert synced["shown"].hidden_by_rule is None


def test_the_queue_counts_and_live_updates_leave_hidden_alerts_out(
    synced: dict[str, Any], admin_client_portal: Client
) -> None:
    shown = synced["shown"]
    assert listed(admin_client_portal) == [shown.pk]
    assert total_counted(admin_client_portal) == 1
    live = admin_client_portal.get(f"{reverse('alerts:live')}?since_id=0").json()
    assert live["count"] == 1
    assert f'data-alert-id="{synced["hidden"].pk}"' not in live["rows_html"]
    overview = admin_client_portal.get(reverse("alerts:overview")).context["o"]
    assert overview.open_alerts.count == len(listed(admin_client_portal, "?status=New")) == 1


def test_the_filter_shows_hidden_alerts_with_a_badge_and_search_finds_them(
    synced: dict[str, Any], admin_client_portal: Client
) -> None:
    hidden, rule = synced["hidden"], synced["rule"]
    assert set(listed(admin_client_portal, "?suppressed=show")) == {hidden.pk, synced["shown"].pk}
    assert total_counted(admin_client_portal, "?suppressed=show") == 2
    assert listed(admin_client_portal, "?suppressed=show&q=scanner") == [hidden.pk]
    assert listed(admin_client_portal, "?q=scanner") == []
    page = admin_client_portal.get(f"{reverse('alerts:list')}?suppressed=show").content.decode()
    assert f"Hidden from the queue · Suppression rule #{rule.pk}: Vulnerability scanner" in page
    assert '<option value="show" selected>' in page

    detail = admin_client_portal.get(reverse("alerts:detail", args=[hidden.pk])).content.decode()
    assert 'id="hidden-by-rule"' in detail
    assert reverse("notifications:suppression_detail", args=[rule.pk]) in detail


def test_a_bad_suppressed_value_is_refused_in_words(admin_client_portal: Client) -> None:
    response = admin_client_portal.get(f"{reverse('alerts:counts')}?suppressed=maybe")
    assert response.status_code == 400
    assert "suppressed" in response.json()["errors"]


def test_ending_the_rule_brings_its_alerts_back_to_the_queue(
    synced: dict[str, Any], admin_client_portal: Client
) -> None:
    rule = synced["rule"]
    response = admin_client_portal.post(reverse("notifications:suppression_end", args=[rule.pk]))
    assert response.status_code == 302
    assert set(listed(admin_client_portal)) == {synced["hidden"].pk, synced["shown"].pk}


def test_a_mute_rule_hides_nothing(
    customer: Customer, make_alert: Callable[..., Any], admin_client_portal: Client
) -> None:
    SuppressionRuleFactory(customers=[customer])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-muted")])
    assert SuppressionHit.objects.count() == 1
    assert len(listed(admin_client_portal)) == 1


def test_an_old_alert_defender_changes_is_hidden_but_mute_rules_leave_it_be(
    customer: Customer, make_alert: Callable[..., Any]
) -> None:
    SuppressionRuleFactory(customers=[customer], reason="Old noise")
    hider = SuppressionRuleFactory(
        customers=[customer], action=SuppressionAction.HIDE, title_contains="old"
    )
    long_ago = (timezone.now() - timedelta(days=30)).isoformat()
    alerts_upsert(
        customer_id=customer.pk,
        records=[make_alert("da-old", updated=long_ago, title="An old one")],
    )
    assert Alert.objects.get(alert_id="da-old").hidden_by_rule == hider.pk
    assert list(SuppressionHit.objects.values_list("rule_id", flat=True)) == [hider.pk]
