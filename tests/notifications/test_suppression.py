"""Suppression rules against real receivers: a caught alert is delivered nowhere and its
hit says why; an expired rule stops matching; rules are created from an alert's page or
the rules page with a reason and a capped expiry, every change audited, and analysts see
only their customers' rules and hits."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.correlation.index import _queue_indexing
from partner_portal.notifications.models import (
    GroupBy,
    Notification,
    NotificationStatus,
    SuppressionAction,
    SuppressionHit,
    SuppressionRule,
)
from tenants.models import AuditEvent, Customer, CustomerStatus
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.notifications.conftest import drain
from tests.notifications.factories import (
    ChannelFactory,
    CustomerTagFactory,
    PolicyFactory,
    SuppressionHitFactory,
    SuppressionRuleFactory,
)
from tests.notifications.receivers import HttpReceiver
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


def hook_for_everything(receiver: HttpReceiver) -> None:
    PolicyFactory(name="Everything", channels=[ChannelFactory(url=receiver.url("/hook"))])


def delivered_alert_ids(receiver: HttpReceiver) -> list[str]:
    return sorted(
        alert["alert_id"]
        for request in receiver.accepted("/hook")
        for alert in json.loads(request.body)["alerts"]
    )


# --- the outbox ---------------------------------------------------------------------------------
def test_a_suppressed_alert_is_delivered_nowhere_and_its_hit_says_which_rule(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    hook_for_everything(receiver)
    rule = SuppressionRuleFactory(customers=[customer], title_contains="powershell")
    alerts_upsert(
        customer_id=customer.pk,
        records=[make_alert("da-quiet"), make_alert("da-loud", title="Credential theft")],
    )

    assert drain() == ["delivered"]
    assert delivered_alert_ids(receiver) == ["da-loud"]
    hit = SuppressionHit.objects.get()
    assert (hit.rule, hit.customer, hit.alert_id) == (rule, customer, "da-quiet")
    assert hit.title == "Suspicious PowerShell da-quiet"
    assert hit.resolve == ""
    assert not Notification.objects.filter(alert_ids__contains=["da-quiet"]).exists()
    # The alert itself is stored and searchable like any other.
    assert Alert.objects.filter(customer=customer, alert_id="da-quiet").exists()


def test_a_suppressed_alert_synced_again_or_changed_counts_once_and_still_sends_nothing(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    hook_for_everything(receiver)
    SuppressionRuleFactory(severities=["High"])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-again")])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-again")])
    changed = make_alert("da-again", updated=timezone.now().isoformat(), status="InProgress")
    assert alerts_upsert(customer_id=customer.pk, records=[changed]).changed_ids == ("da-again",)

    assert drain() == []
    assert receiver.requests == []
    assert SuppressionHit.objects.count() == 1


def test_an_expired_rule_stops_matching(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    hook_for_everything(receiver)
    rule = SuppressionRuleFactory(customers=[customer])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-before")])
    assert drain() == []

    rule.expires_at = timezone.now() - timedelta(seconds=1)
    rule.save(update_fields=["expires_at"])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-after")])

    assert drain() == ["delivered"]
    assert delivered_alert_ids(receiver) == ["da-after"]
    assert list(SuppressionHit.objects.values_list("alert_id", flat=True)) == ["da-before"]


def test_rules_match_on_tag_product_detector_category_and_technique(
    receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    hook_for_everything(receiver)
    gold = CustomerTagFactory(name="Gold")
    tagged = CustomerFactory(display_name="Fabrikam", status=CustomerStatus.ACTIVE)
    gold.customers.add(tagged)
    other = CustomerFactory(display_name="Northwind", status=CustomerStatus.ACTIVE)
    # A legacy alert names no product: it is Defender for Endpoint's.
    SuppressionRuleFactory(
        tags=[gold], products=["microsoftDefenderForEndpoint"], detectors=["windowsdefenderatp"],
        categories=["execution"], mitre_techniques=["T1059"],
    )  # fmt: skip
    SuppressionRuleFactory(products=["microsoftDefenderForOffice365"])

    alerts_upsert(customer_id=tagged.pk, records=[make_alert("da-gold")])
    alerts_upsert(customer_id=other.pk, records=[make_alert("da-untagged")])
    alerts_upsert(
        customer_id=tagged.pk,
        records=[
            make_alert("da-av", detectionSource="WindowsDefenderAv"),
            make_alert("da-t1003", mitreTechniques=["T1003.001"]),
            make_alert("da-cred", category="CredentialAccess"),
        ],
    )

    assert list(SuppressionHit.objects.values_list("alert_id", flat=True)) == ["da-gold"]
    drain()
    assert delivered_alert_ids(receiver) == ["da-av", "da-cred", "da-t1003", "da-untagged"]


# --- pages ------------------------------------------------------------------------------------
def rule_form(**fields: Any) -> dict[str, Any]:
    return {"reason": "Pen test at Contoso this week", "days": "7", "action": "mute", **fields}


def test_suppress_alerts_like_this_prefills_the_form_from_the_alert(
    customer: Customer, admin_client_portal: Client, portal_admin: Any
) -> None:
    alert = AlertFactory(
        customer=customer, title="Suspicious PowerShell command line", category="Execution",
        detection_source="WindowsDefenderAv", created_at=timezone.now(),
    )  # fmt: skip
    detail = admin_client_portal.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    link = f"{reverse('notifications:suppression_create')}?alert={alert.pk}"
    assert f'href="{link}"' in detail

    page = admin_client_portal.get(link).content.decode()
    assert 'id="prefilled-from"' in page
    assert 'value="Suspicious PowerShell command line"' in page
    assert 'value="WindowsDefenderAv"' in page
    assert f'<option value="{customer.pk}" selected>' in page

    response = admin_client_portal.post(
        link,
        rule_form(
            customers=[customer.pk], title_contains="Suspicious PowerShell command line",
            products=["microsoftDefenderForEndpoint"], detectors_text="WindowsDefenderAv",
        ),
    )  # fmt: skip
    rule = SuppressionRule.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("notifications:suppression_detail", args=[rule.pk])
    assert rule.owner == portal_admin
    assert list(rule.customers.all()) == [customer]
    assert rule.detectors == ["WindowsDefenderAv"]
    assert timedelta(days=7) - (rule.expires_at - timezone.now()) < timedelta(minutes=1)
    event = AuditEvent.objects.get(action="notifications.suppression_created")
    assert event.actor == portal_admin
    assert event.details["conditions"]["detectors"] == ["WindowsDefenderAv"]


def test_an_unknown_or_unseen_alert_leaves_the_form_empty_and_says_so(
    admin_client_portal: Client,
) -> None:
    for value in ("999999", "abc", "-1", "9" * 40):
        url = f"{reverse('notifications:suppression_create')}?alert={value}"
        response = admin_client_portal.get(url)
        assert response.status_code == 200
        assert "That alert was not found" in response.content.decode()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"reason": "  "}, "Say why alerts like these may stay quiet."),
        ({"days": ""}, "This field is required."),
        ({"days": "91"}, "less than or equal to 90"),
        ({"days": "0"}, "greater than or equal to 1"),
        ({"action": "resolve"}, "Choose what Defender is to record."),
    ],
)
def test_a_rule_needs_a_reason_and_an_expiry_of_at_most_the_cap(
    admin_client_portal: Client, fields: dict[str, str], error: str
) -> None:
    response = admin_client_portal.post(
        reverse("notifications:suppression_create"), rule_form(**fields)
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not SuppressionRule.objects.exists()


def test_a_rule_may_last_up_to_90_days_by_default_and_renewing_starts_them_again(
    admin_client_portal: Client,
) -> None:
    response = admin_client_portal.post(
        reverse("notifications:suppression_create"), rule_form(days="90")
    )
    assert response.status_code == 302
    rule = SuppressionRule.objects.get()
    assert timezone.now() + timedelta(days=89) < rule.expires_at
    assert rule.expires_at <= timezone.now() + timedelta(days=90)
    rule.expires_at = timezone.now() + timedelta(days=1)
    rule.save()
    response = admin_client_portal.post(
        reverse("notifications:suppression_edit", args=[rule.pk]), rule_form(days="90")
    )
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.expires_at > timezone.now() + timedelta(days=89)


def test_the_cap_is_a_setting(admin_client_portal: Client, settings: Any) -> None:
    settings.NOTIFY_SUPPRESSION_MAX_DAYS = 30
    response = admin_client_portal.post(
        reverse("notifications:suppression_create"), rule_form(days="31")
    )
    assert response.status_code == 400
    assert "less than or equal to 30" in response.content.decode()
    assert not SuppressionRule.objects.exists()


def test_the_list_shows_hit_counts_last_hit_and_expired_rules(
    customer: Customer, admin_client_portal: Client
) -> None:
    live = SuppressionRuleFactory(reason="Backup agent noise")
    SuppressionHitFactory(rule=live, customer=customer)
    last = SuppressionHitFactory(rule=live, customer=customer)
    old = SuppressionRuleFactory(
        reason="Last month pen test", expires_at=timezone.now() - timedelta(days=2)
    )
    page = admin_client_portal.get(reverse("notifications:suppressions")).content.decode()
    live_row = page[page.index(f'data-rule-id="{live.pk}"') :].split("</tr>")[0]
    old_row = page[page.index(f'data-rule-id="{old.pk}"') :].split("</tr>")[0]
    assert 'data-state="active"' in live_row and '<td class="hit-count">2</td>' in live_row
    assert last.at.isoformat() in live_row
    assert 'data-state="expired"' in old_row and "Expired" in old_row
    assert page.index("Backup agent noise") < page.index("Last month pen test")


def test_ending_and_renewing_a_rule_are_audited(
    customer: Customer, admin_client_portal: Client, receiver: HttpReceiver, make_alert: Any
) -> None:
    hook_for_everything(receiver)
    rule = SuppressionRuleFactory(reason="Noisy scanner")
    response = admin_client_portal.post(reverse("notifications:suppression_end", args=[rule.pk]))
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.is_expired()
    page = admin_client_portal.get(reverse("notifications:suppression_detail", args=[rule.pk]))
    assert 'id="rule-state">Expired' in page.content.decode()
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-after-end")])
    assert drain() == ["delivered"]

    renewed = admin_client_portal.post(
        reverse("notifications:suppression_edit", args=[rule.pk]),
        rule_form(reason="Noisy scanner, still", days="3"),
    )
    assert renewed.status_code == 302
    rule.refresh_from_db()
    assert not rule.is_expired() and rule.reason == "Noisy scanner, still"
    actions = list(
        AuditEvent.objects.filter(action__startswith="notifications.suppression")
        .order_by("pk")
        .values_list("action", flat=True)
    )
    assert actions == ["notifications.suppression_ended", "notifications.suppression_changed"]


def test_analysts_see_only_their_customers_rules_and_hits_and_cannot_change_them(
    customer: Customer, analyst: Any, analyst_client: Client
) -> None:
    AnalystScopeFactory(user=analyst, customer=customer)
    elsewhere = CustomerFactory(display_name="Qz7Hidden")
    theirs = SuppressionRuleFactory(reason="Only Qz7Hidden", customers=[elsewhere])
    shared = SuppressionRuleFactory(reason="Everyone")
    SuppressionHitFactory(rule=shared, customer=customer, title="Mine")
    SuppressionHitFactory(rule=shared, customer=elsewhere, title="Qz7HiddenAlert")

    listing = analyst_client.get(reverse("notifications:suppressions")).content.decode()
    assert "Everyone" in listing and "Qz7Hidden" not in listing
    assert '<td class="hit-count">1</td>' in listing
    detail = analyst_client.get(reverse("notifications:suppression_detail", args=[shared.pk]))
    assert "Mine" in detail.content.decode() and "Qz7Hidden" not in detail.content.decode()
    hidden = reverse("notifications:suppression_detail", args=[theirs.pk])
    assert analyst_client.get(hidden).status_code == 404
    assert (
        analyst_client.post(reverse("notifications:suppression_create"), rule_form()).status_code
        == 403
    )
    assert SuppressionRule.objects.count() == 2


def test_the_resolve_action_is_kept_on_the_hit_and_queued_after_commit(
    customer: Customer,
    make_alert: Callable[..., Any],
    django_capture_on_commit_callbacks: Any,
) -> None:
    SuppressionRuleFactory(action=SuppressionAction.RESOLVE, classification="FalsePositive")
    SuppressionRuleFactory(reason="A second, muting rule")
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        alerts_upsert(customer_id=customer.pk, records=[make_alert("da-resolve-me")])
    states = sorted(SuppressionHit.objects.values_list("resolve", flat=True))
    assert states == ["", "pending"]
    # One resolve queued (besides the indicator index's own, for the stored page).
    assert len([c for c in callbacks if c is not _queue_indexing]) == 1


def test_the_sweep_queues_again_a_resolve_whose_task_was_lost(
    customer: Customer, settings: Any
) -> None:
    from partner_portal.notifications import suppression

    settings.NOTIFY_SWEEP_GRACE_SECONDS = 60
    lost = SuppressionHitFactory(
        customer=customer, resolve=SuppressionHit.Resolve.PENDING,
        at=timezone.now() - timedelta(minutes=5),
    )  # fmt: skip
    SuppressionHitFactory(customer=customer, resolve=SuppressionHit.Resolve.PENDING)
    SuppressionHitFactory(
        customer=customer, resolve=SuppressionHit.Resolve.DONE,
        at=timezone.now() - timedelta(minutes=5),
    )  # fmt: skip
    assert suppression.pending_hit_ids() == [lost.pk]


def test_a_rule_made_while_a_notification_waits_keeps_its_alerts_quiet(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    PolicyFactory(
        group_by=GroupBy.INCIDENT, group_wait_seconds=600,
        channels=[ChannelFactory(url=receiver.url("/hook"))],
    )  # fmt: skip
    alerts_upsert(
        customer_id=customer.pk,
        records=[make_alert("da-wait-quiet", incidentId=7), make_alert("da-wait-loud",
                 incidentId=7, title="Credential theft")],
    )  # fmt: skip
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-alone", incidentId=8)])
    assert drain() == ["waiting", "waiting"]
    rule = SuppressionRuleFactory(title_contains="powershell")
    Notification.objects.update(not_before=timezone.now())

    assert drain() == ["delivered", "suppressed"]
    assert delivered_alert_ids(receiver) == ["da-wait-loud"]
    alone = Notification.objects.get(group_key="incident:8")
    assert alone.status == NotificationStatus.SUPPRESSED
    assert alone.error_message == "A suppression rule made meanwhile matches its alerts."
    assert sorted(SuppressionHit.objects.filter(rule=rule).values_list("alert_id", flat=True)) == [
        "da-alone",
        "da-wait-quiet",
    ]
