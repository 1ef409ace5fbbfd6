"""Delivery that loses nothing and sends nothing twice, against real receivers: an SMTP
server and HTTP servers on loopback standing in for Teams, Slack and a webhook."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.notifications.models import (
    ChannelKind,
    DeliveryAttempt,
    GroupBy,
    Notification,
    NotificationStatus,
)
from tenants.models import Customer, CustomerStatus
from tests.alerts.factories import CustomerFactory
from tests.notifications.conftest import drain
from tests.notifications.factories import ChannelFactory, CustomerTagFactory, PolicyFactory
from tests.notifications.receivers import HttpReceiver, SmtpReceiver

pytestmark = pytest.mark.django_db

SECRET = "whsec-Nq4yTt0pVb7cXr2LmZk9"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "notifications.md"


def every_channel(receiver: HttpReceiver) -> list[Any]:
    return [
        ChannelFactory(kind=ChannelKind.EMAIL, url="", recipients="soc@partner.example"),
        ChannelFactory(kind=ChannelKind.TEAMS, url=receiver.url("/teams/s3cr3t-teams")),
        ChannelFactory(kind=ChannelKind.SLACK, url=receiver.url("/slack/T0/B0/s3cr3t")),
        ChannelFactory(kind=ChannelKind.WEBHOOK, url=receiver.url("/hook"), signing_secret=SECRET),
    ]


def test_one_high_alert_is_delivered_once_to_each_matching_channel(
    customer: Customer, receiver: HttpReceiver, smtp: SmtpReceiver, make_alert: Callable[..., Any]
) -> None:
    channels = every_channel(receiver)
    PolicyFactory(name="High", severities=["High"], channels=channels)
    quiet = ChannelFactory(name="Low only", url=receiver.url("/low"))
    PolicyFactory(name="Low", severities=["Low"], channels=[quiet])

    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-high-1")])

    assert drain() == ["delivered"] * 4
    assert drain() == []
    assert sorted(r.path for r in receiver.requests) == [
        "/hook",
        "/slack/T0/B0/s3cr3t",
        "/teams/s3cr3t-teams",
    ]
    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    assert mail["To"] == "soc@partner.example"
    assert "[Contoso] High: Suspicious PowerShell da-high-1" in mail["Subject"]
    text = mail.get_payload(decode=True).decode()  # type: ignore[union-attr]
    assert "/alerts/" in text and "security.microsoft.com/alerts/da-high-1?tid=11111111" in text

    teams = json.loads(receiver.accepted("/teams/s3cr3t-teams")[0].body)
    card = teams["attachments"][0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    assert card["content"]["type"] == "AdaptiveCard"
    urls = [action["url"] for action in card["content"]["actions"]]
    assert any("/alerts/" in url and url.startswith("http://127.0.0.1:8000") for url in urls)
    assert any("security.microsoft.com/alerts/da-high-1" in url for url in urls)
    slack = json.loads(receiver.accepted("/slack/T0/B0/s3cr3t")[0].body)
    assert slack["text"].startswith("[Contoso] High") and slack["blocks"]
    assert Notification.objects.filter(status=NotificationStatus.DELIVERED).count() == 4
    assert not receiver.accepted("/low")


def test_a_receiver_answering_500_then_200_gets_the_message_once(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    hook = ChannelFactory(url=receiver.url("/flaky"), signing_secret=SECRET)
    PolicyFactory(channels=[hook])
    receiver.answers.extend([500, 200])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-flaky")])

    assert drain() == ["retrying"]
    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.PENDING
    assert "answered 500" in notification.error_message
    assert drain() == ["delivered"]
    assert drain() == []

    assert [r.answered for r in receiver.requests] == [500, 200]
    assert len(receiver.accepted()) == 1
    attempts = list(DeliveryAttempt.objects.order_by("at", "pk"))
    assert [(a.succeeded, a.status_code) for a in attempts] == [(False, 500), (True, 200)]
    assert attempts[0].error_code == "receiver_error"


def test_the_same_alert_synced_again_or_changed_is_not_sent_again(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    hook = ChannelFactory(url=receiver.url("/hook"), signing_secret=SECRET)
    PolicyFactory(channels=[hook])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-once")])
    assert drain() == ["delivered"]

    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-once")])
    changed = make_alert("da-once", updated=timezone.now().isoformat(), status="InProgress")
    result = alerts_upsert(customer_id=customer.pk, records=[changed])
    assert result.changed_ids == ("da-once",)

    assert drain() == []
    assert Notification.objects.count() == 1
    assert len(receiver.requests) == 1


def test_a_failing_receiver_is_given_up_after_the_last_attempt_with_words(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    PolicyFactory(channels=[ChannelFactory(url=receiver.url("/down"))])
    receiver.answers.extend([503, 503, 503, 200])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-down")])
    assert [drain(), drain(), drain(), drain()] == [["retrying"], ["retrying"], ["failed"], []]
    notification = Notification.objects.get()
    assert notification.status == NotificationStatus.FAILED
    assert notification.error_message == "127.0.0.1 answered 503; it is tried again."
    assert notification.attempts == 3


def test_the_webhook_signature_verifies_with_the_documented_algorithm(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    PolicyFactory(channels=[ChannelFactory(url=receiver.url("/hook"), signing_secret=SECRET)])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-signed")])
    assert drain() == ["delivered"]
    request = receiver.accepted("/hook")[0]

    # The receiver example of the documentation, run as written.
    example = re.search(r"```python\n(.*?)```", DOCS.read_text(), re.S)
    assert example is not None
    namespace: dict[str, Any] = {}
    exec(example.group(1), namespace)  # noqa: S102 - our own documentation
    verify = namespace["verify"]
    timestamp = request.headers["X-Partner-Portal-Timestamp"]
    signature = request.headers["X-Partner-Portal-Signature"]
    assert verify(SECRET, timestamp, signature, request.body)
    assert not verify("another-secret-entirely", timestamp, signature, request.body)
    assert not verify(SECRET, timestamp, signature, request.body.replace(b"High", b"Low!"))
    assert not verify(SECRET, timestamp, signature, request.body, now=int(timestamp) + 301)

    body = json.loads(request.body)
    assert body["version"] == "1" and body["type"] == "alerts"
    assert body["id"] == request.headers["X-Partner-Portal-Delivery"]
    assert [a["alert_id"] for a in body["alerts"]] == ["da-signed"]
    assert body["alerts"][0]["defender_url"].startswith("https://security.microsoft.com/alerts/")


def test_a_gold_policy_covers_a_customer_tagged_gold_after_it_was_made(
    receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    gold = CustomerTagFactory(name="Gold")
    PolicyFactory(
        name="High, Gold", severities=["High"], tags=[gold],
        channels=[ChannelFactory(url=receiver.url("/gold"))],
    )  # fmt: skip
    newcomer = CustomerFactory(display_name="Fabrikam", status=CustomerStatus.ACTIVE)
    untagged = CustomerFactory(display_name="Northwind", status=CustomerStatus.ACTIVE)
    gold.customers.add(newcomer)

    alerts_upsert(customer_id=newcomer.pk, records=[make_alert("da-gold")])
    alerts_upsert(customer_id=untagged.pk, records=[make_alert("da-plain")])
    alerts_upsert(customer_id=newcomer.pk, records=[make_alert("da-gold-low", severity="Low")])
    assert drain() == ["delivered"]
    sent = json.loads(receiver.accepted("/gold")[0].body)
    assert sent["customer"] == "Fabrikam"


def test_first_match_wins_unless_the_policy_continues(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    first = ChannelFactory(url=receiver.url("/first"))
    second = ChannelFactory(url=receiver.url("/second"))
    third = ChannelFactory(url=receiver.url("/third"))
    PolicyFactory(
        position=10, title_contains="powershell", channels=[first], continue_matching=True
    )
    PolicyFactory(position=20, mitre_techniques=["T1059"], channels=[second])
    PolicyFactory(position=30, channels=[third])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-order")])
    assert drain() == ["delivered", "delivered"]
    assert sorted(r.path for r in receiver.accepted()) == ["/first", "/second"]


def test_alerts_of_one_incident_are_grouped_and_a_later_one_waits_for_the_repeat_interval(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    PolicyFactory(
        group_by=GroupBy.INCIDENT, repeat_interval_seconds=600,
        channels=[ChannelFactory(url=receiver.url("/grouped"))],
    )  # fmt: skip
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-g1"), make_alert("da-g2")])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-g3")])  # joins while waiting
    assert drain() == ["delivered"]
    body = json.loads(receiver.accepted()[0].body)
    assert sorted(a["alert_id"] for a in body["alerts"]) == ["da-g1", "da-g2", "da-g3"]
    assert body["incident"]["id"] == 41

    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-g4")])
    later = Notification.objects.get(round=2)
    assert later.alert_ids == ["da-g4"]
    first = Notification.objects.get(round=1)
    assert first.delivered_at is not None
    assert (later.not_before - first.delivered_at).total_seconds() >= 600
    assert drain() == ["waiting"]
    assert len(receiver.requests) == 1


def test_alerts_microsoft_last_changed_long_ago_are_not_notified(
    customer: Customer, receiver: HttpReceiver, make_alert: Callable[..., Any], settings: Any
) -> None:
    """A new customer's first sync brings weeks of history: none of it pages anyone."""
    settings.NOTIFY_MAX_ALERT_AGE_HOURS = 24
    PolicyFactory(channels=[ChannelFactory(url=receiver.url("/hook"))])
    old = (timezone.now() - timedelta(days=3)).isoformat()
    page = [make_alert("da-history", updated=old), make_alert("da-today")]
    assert alerts_upsert(customer_id=customer.pk, records=page).created == 2
    assert drain() == ["delivered"]
    assert [json.loads(r.body)["alerts"][0]["alert_id"] for r in receiver.accepted()] == [
        "da-today"
    ]
