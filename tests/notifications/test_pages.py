"""The notification pages: portal admins change channels, policies and tags; analysts
read them cut to their customers; a channel's secrets never reach a page or a log."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from partner_portal.core.access import Role
from partner_portal.notifications.models import (
    Channel,
    ChannelKind,
    CustomerTag,
    Notification,
    NotificationStatus,
    Policy,
)
from tenants.models import AuditEvent
from tests.alerts.factories import CustomerFactory
from tests.factories import UserFactory
from tests.notifications.conftest import webhook_added_on_page
from tests.notifications.factories import ChannelFactory, CustomerTagFactory, PolicyFactory
from tests.notifications.receivers import HttpReceiver
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

URL_SECRET = "T0AAA/B0BBB/xoxb-Very-Secret-Path-7c1f"
SIGNING_SECRET = "sign-me-Zt8vQ4mW1pRx6Ls2"


def signed_in(*roles: Role) -> tuple[Client, Any]:
    user = UserFactory(roles=list(roles))
    client = Client()
    client.force_login(user)
    return client, user


def pages_of(client: Client, channel: Channel) -> str:
    urls = [
        reverse("notifications:channels"),
        reverse("notifications:channel_detail", args=[channel.pk]),
        reverse("notifications:channel_edit", args=[channel.pk]),
    ]
    return "".join(client.get(url).content.decode() for url in urls)


def test_channel_secrets_are_never_shown_again_nor_logged(
    receiver: HttpReceiver, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    # The settings keep urllib3 at WARNING; even lowered, it must not log a channel's path.
    caplog.set_level(logging.DEBUG, logger="urllib3")
    admin, _ = signed_in(Role.ADMIN)
    url = receiver.url(f"/hooks/{URL_SECRET}")
    channel = webhook_added_on_page(
        admin, name="Partner SIEM", url=url, signing_secret=SIGNING_SECRET
    )
    assert channel.url == url and channel.signing_secret == SIGNING_SECRET

    test = admin.post(reverse("notifications:channel_test", args=[channel.pk]), follow=True)
    assert "The test message was delivered." in test.content.decode()
    assert json.loads(receiver.accepted()[0].body)["type"] == "test"

    broken = ChannelFactory(url=f"http://127.0.0.1:9/hooks/{URL_SECRET}", signing_secret="x" * 20)
    failed = admin.post(reverse("notifications:channel_test", args=[broken.pk]), follow=True)
    assert "Could not connect to 127.0.0.1." in failed.content.decode()

    rendered = test.content.decode() + failed.content.decode()
    rendered += pages_of(admin, channel) + pages_of(admin, broken)
    analyst, _ = signed_in(Role.ANALYST)
    rendered += analyst.get(
        reverse("notifications:channel_detail", args=[channel.pk])
    ).content.decode()
    assert "127.0.0.1" in rendered  # the host is shown; the rest of the URL is not
    for secret in (URL_SECRET, "xoxb-Very-Secret", SIGNING_SECRET):
        assert secret not in rendered
        assert secret not in caplog.text
        assert not AuditEvent.objects.filter(details__icontains=secret).exists()
        assert not Notification.objects.filter(error_message__icontains=secret).exists()
    # urllib3 logged the request (its path hidden), and the failure was logged too.
    assert "(path hidden)" in caplog.text and "receiver_unreachable" in caplog.text


def test_an_edit_keeps_secrets_left_empty_and_replaces_those_typed(receiver: HttpReceiver) -> None:
    admin, _ = signed_in(Role.ADMIN)
    channel = ChannelFactory(name="Hook", url=receiver.url("/old"), signing_secret=SIGNING_SECRET)
    edit = reverse("notifications:channel_edit", args=[channel.pk])
    form = {
        "name": "Hook renamed",
        "kind": ChannelKind.WEBHOOK,
        "enabled": "on",
        "url": "",
        "signing_secret": "",
    }
    assert admin.post(edit, form).status_code == 302
    channel.refresh_from_db()
    assert (channel.name, channel.url, channel.signing_secret) == (
        "Hook renamed", receiver.url("/old"), SIGNING_SECRET,
    )  # fmt: skip
    assert admin.post(edit, {**form, "url": receiver.url("/new")}).status_code == 302
    channel.refresh_from_db()
    assert channel.url == receiver.url("/new") and channel.signing_secret == SIGNING_SECRET


@pytest.mark.parametrize(
    ("form", "words"),
    [
        ({"kind": ChannelKind.WEBHOOK, "url": "http://127.0.0.1:9/h"}, "Enter a signing secret."),
        ({"kind": ChannelKind.WEBHOOK, "url": "http://127.0.0.1:9/h", "signing_secret": "short"},
         "Use at least 16 characters."),
        ({"kind": ChannelKind.SLACK, "url": "ftp://files.example/x"}, "Enter the full https://"),
        ({"kind": ChannelKind.TEAMS}, "Enter the webhook URL."),
        ({"kind": ChannelKind.EMAIL, "recipients": "soc@partner.example, not-an-address"},
         "is not an e-mail address"),
    ],
)  # fmt: skip
def test_a_channel_form_with_bad_input_says_what_is_wrong(form: dict[str, str], words: str) -> None:
    admin, _ = signed_in(Role.ADMIN)
    response = admin.post(reverse("notifications:channel_create"), {"name": "Bad", **form})
    assert response.status_code == 400
    assert words in response.content.decode()
    assert not Channel.objects.exists()


def test_an_admin_tags_customers_and_makes_a_policy_on_a_tag() -> None:
    admin, _ = signed_in(Role.ADMIN)
    customer = CustomerFactory(display_name="Fabrikam")
    channel = ChannelFactory(name="SOC Teams", kind=ChannelKind.TEAMS)
    assert admin.post(reverse("notifications:tag_create"), {"name": "Gold"}).status_code == 302
    gold = CustomerTag.objects.get(name="Gold")
    again = admin.post(reverse("notifications:tag_create"), {"name": "gold"})
    assert again.status_code == 400 and "That tag exists already." in again.content.decode()

    response = admin.post(
        reverse("notifications:policy_create"),
        {"name": "High, Gold", "enabled": "on", "tags": [gold.pk], "severities": ["High"],
         "channels": [channel.pk], "group_by": "incident", "group_wait_seconds": "30",
         "repeat_interval_seconds": "3600", "techniques_text": "t1059, T1003.001",
         "categories_text": "Execution", "campaign_events": "on"},
    )  # fmt: skip
    assert response.status_code == 302
    policy = Policy.objects.get(name="High, Gold")
    assert policy.severities == ["High"] and policy.mitre_techniques == ["T1059", "T1003.001"]
    assert policy.campaign_events and not policy.incident_events
    assert list(policy.tags.all()) == [gold] and list(policy.channels.all()) == [channel]

    tagging = {"customer": customer.pk, "tags": [gold.pk]}
    assert admin.post(reverse("notifications:customer_tags"), tagging).status_code == 302
    assert list(customer.notification_tags.all()) == [gold]  # type: ignore[attr-defined]
    assert AuditEvent.objects.filter(
        action="notifications.customer_tags_set", customer=customer
    ).exists()
    page = admin.get(reverse("notifications:policies")).content.decode()
    assert "High, Gold" in page and "Tagged: Gold" in page and "(and campaigns)" in page


def test_a_policy_form_with_a_bad_technique_or_interval_says_so() -> None:
    admin, _ = signed_in(Role.ADMIN)
    channel = ChannelFactory()
    response = admin.post(
        reverse("notifications:policy_create"),
        {"name": "Bad", "channels": [channel.pk], "group_by": "alert", "group_wait_seconds": "5000",
         "repeat_interval_seconds": "10", "techniques_text": "lateral movement"},
    )  # fmt: skip
    body = response.content.decode()
    assert response.status_code == 400
    assert "is not a MITRE technique ID" in body and "Use 0 to 3600 seconds." in body
    assert "Use 60 to 604800 seconds" in body and not Policy.objects.exists()


def test_analysts_read_only_what_concerns_their_customers() -> None:
    analyst, user = signed_in(Role.ANALYST)
    mine = CustomerFactory(display_name="Alpha Ltd")
    theirs = CustomerFactory(display_name="Bravo Hidden Co")
    AnalystScopeFactory(user=user, customer=mine)
    channel = ChannelFactory(name="Shared hook")
    PolicyFactory(name="Alpha only", customers=[mine], channels=[channel])
    PolicyFactory(name="Bravo only", customers=[theirs], channels=[channel])
    PolicyFactory(name="Both", customers=[mine, theirs], channels=[channel])
    CustomerTagFactory(name="Gold").customers.add(mine, theirs)
    for customer in (mine, theirs):
        Notification.objects.create(
            dedup_key=f"k{customer.pk}", channel=channel, customer=customer,
            group_key=f"alert:{customer.display_name}", status=NotificationStatus.DELIVERED,
        )  # fmt: skip

    policies = analyst.get(reverse("notifications:policies")).content.decode()
    tags = analyst.get(reverse("notifications:tags")).content.decode()
    deliveries = analyst.get(reverse("notifications:channel_detail", args=[channel.pk]))
    assert "Alpha only" in policies and "Both" in policies and "Bravo only" not in policies
    assert "Alpha Ltd" in tags and "Alpha Ltd" in deliveries.content.decode()
    for body in (policies, tags, deliveries.content.decode()):
        assert "Bravo Hidden Co" not in body
    assert analyst.post(reverse("notifications:tag_create"), {"name": "Silver"}).status_code == 403
    tagging = {"customer": mine.pk, "tags": []}
    assert analyst.post(reverse("notifications:customer_tags"), tagging).status_code == 403
    assert "Send a test" not in deliveries.content.decode()
