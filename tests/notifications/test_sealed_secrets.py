"""Channel URLs and signing secrets are stored sealed: the database holds only tokens,
the model gives the values back, keys rotate, and a channel whose secret no key opens
fails its deliveries in words and says on its pages to re-enter it."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.db import connection
from django.test import Client
from django.urls import reverse

from partner_portal.core.access import Role
from partner_portal.notifications import formats
from partner_portal.notifications.models import Channel, ChannelKind, NotificationStatus
from tests.factories import UserFactory
from tests.notifications.conftest import webhook_added_on_page
from tests.notifications.factories import ChannelFactory
from tests.notifications.receivers import HttpReceiver

URL_PATH = "/hooks/T0AAA/B0BBB/Sealed-Path-4d9e"
SIGNING_SECRET = "sealed-signing-secret-Qw7rT2"
OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def raw_columns(channel: Channel) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT url, signing_secret FROM notifications_channel WHERE id = %s", [channel.pk]
        )
        url, secret = cursor.fetchone()
    return url, secret


def admin_client() -> Client:
    client = Client()
    client.force_login(UserFactory(roles=[Role.ADMIN]))
    return client


@pytest.mark.django_db
def test_the_database_holds_only_tokens_and_the_channel_still_sends_signed(
    receiver: HttpReceiver, settings: Any
) -> None:
    settings.FIELD_ENCRYPTION_KEY = [OLD_KEY]
    admin = admin_client()
    url = receiver.url(URL_PATH)
    channel = webhook_added_on_page(admin, name="SIEM", url=url, signing_secret=SIGNING_SECRET)

    raw_url, raw_secret = raw_columns(channel)
    assert raw_url and raw_secret
    for raw in (raw_url, raw_secret):
        assert "Sealed-Path" not in raw and "127.0.0.1" not in raw and SIGNING_SECRET not in raw
    assert Fernet(OLD_KEY).decrypt(raw_url.encode()).decode() == url
    assert (channel.url, channel.signing_secret) == (url, SIGNING_SECRET)

    sent = admin.post(reverse("notifications:channel_test", args=[channel.pk]), follow=True)
    assert "The test message was delivered." in sent.content.decode()
    (request,) = receiver.accepted(URL_PATH)
    timestamp = request.headers[formats.TIMESTAMP_HEADER]
    expected = formats.signature(SIGNING_SECRET, timestamp=timestamp, body=request.body)
    assert request.headers[formats.SIGNATURE_HEADER] == expected


@pytest.mark.django_db
def test_after_a_key_rotation_old_values_open_and_new_saves_use_the_new_key(
    settings: Any,
) -> None:
    settings.FIELD_ENCRYPTION_KEY = [OLD_KEY]
    channel = ChannelFactory(url="https://hooks.example.com/old", signing_secret="s" * 20)
    old_raw_url, _ = raw_columns(channel)

    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY, OLD_KEY]
    reread = Channel.objects.get(pk=channel.pk)
    assert reread.url == "https://hooks.example.com/old"
    assert reread.unopened_secrets() == ""
    reread.save()  # saving seals again with the first key

    new_raw_url, new_raw_secret = raw_columns(channel)
    assert new_raw_url != old_raw_url
    assert Fernet(NEW_KEY).decrypt(new_raw_url.encode()) == b"https://hooks.example.com/old"
    assert Fernet(NEW_KEY).decrypt(new_raw_secret.encode()) == b"s" * 20
    with pytest.raises(InvalidToken):
        Fernet(OLD_KEY).decrypt(new_raw_url.encode())

    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY]  # the old key retired
    assert Channel.objects.get(pk=channel.pk).url == "https://hooks.example.com/old"


@pytest.mark.django_db
def test_a_channel_no_key_opens_fails_in_words_and_asks_to_reenter_its_secrets(
    receiver: HttpReceiver, settings: Any
) -> None:
    settings.FIELD_ENCRYPTION_KEY = [OLD_KEY]
    url = receiver.url(URL_PATH)
    channel = ChannelFactory(name="Lost key", url=url, signing_secret=SIGNING_SECRET)
    stored = raw_columns(channel)

    settings.FIELD_ENCRYPTION_KEY = [NEW_KEY]
    admin = admin_client()
    sent = admin.post(reverse("notifications:channel_test", args=[channel.pk]), follow=True)
    assert sent.status_code == 200
    page = sent.content.decode()
    assert "The test message was not delivered: The portal cannot decrypt" in page
    assert "re-enter the URL and the signing secret" in page
    assert receiver.requests == []
    notification = channel.notifications.get()
    assert notification.status == NotificationStatus.FAILED
    assert notification.error_code == "channel_secret_unreadable"

    for name in ("channels", "channel_detail", "channel_edit"):
        args = [] if name == "channels" else [channel.pk]
        response = admin.get(reverse(f"notifications:{name}", args=args))
        assert response.status_code == 200
        assert "re-enter the URL" in response.content.decode().replace("Re-enter", "re-enter")

    # An edit that does not re-enter them is refused; the stored tokens are kept as they are.
    form = {"name": "Lost key", "kind": ChannelKind.WEBHOOK, "enabled": "on"}
    refused = admin.post(reverse("notifications:channel_edit", args=[channel.pk]), form)
    assert refused.status_code == 400
    assert "Enter the webhook URL." in refused.content.decode()
    reloaded = Channel.objects.get(pk=channel.pk)
    reloaded.enabled = False
    reloaded.save()
    assert raw_columns(channel) == stored

    new_url = receiver.url("/hooks/re-entered")
    form.update(url=new_url, signing_secret="a-new-signing-secret-123")
    assert (
        admin.post(reverse("notifications:channel_edit", args=[channel.pk]), form).status_code
        == 302
    )
    again = admin.post(reverse("notifications:channel_test", args=[channel.pk]), follow=True)
    assert "The test message was delivered." in again.content.decode()
    assert len(receiver.accepted("/hooks/re-entered")) == 1
