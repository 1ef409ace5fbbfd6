"""Fixtures for notification tests: real receivers on loopback, and the outbox drained
the way the worker drains it (`delivery.deliver` by ID)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.defender import AlertRecord, parse_alert
from partner_portal.notifications import delivery
from partner_portal.notifications.models import (
    Channel,
    ChannelKind,
    Notification,
    NotificationStatus,
)
from tests.notifications.receivers import HttpReceiver, SmtpReceiver


@pytest.fixture
def receiver() -> Iterator[HttpReceiver]:
    with HttpReceiver() as server:
        yield server


@pytest.fixture
def smtp(settings: Any) -> Iterator[SmtpReceiver]:
    with SmtpReceiver() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield server


@pytest.fixture(autouse=True)
def quick_retries(settings: Any) -> None:
    settings.NOTIFY_RETRY_BASE_SECONDS = 0
    settings.NOTIFY_MAX_ATTEMPTS = 3


def webhook_added_on_page(client: Client, *, name: str, url: str, signing_secret: str) -> Channel:
    """A webhook channel added the way an admin adds one: through its form."""
    response = client.post(
        reverse("notifications:channel_create"),
        {"name": name, "kind": ChannelKind.WEBHOOK, "enabled": "on",
         "url": url, "signing_secret": signing_secret},
    )  # fmt: skip
    assert response.status_code == 302
    return Channel.objects.get(name=name)


def drain() -> list[str]:
    """Deliver every waiting notification that is due, once; the outcomes."""
    pending = Notification.objects.filter(status=NotificationStatus.PENDING).order_by("pk")
    return [
        delivery.deliver(notification_id=pk).status for pk in pending.values_list("pk", flat=True)
    ]


@pytest.fixture
def make_alert() -> Callable[..., AlertRecord]:
    def make(alert_id: str, updated: str | None = None, **fields: Any) -> AlertRecord:
        """An alert Microsoft changed a minute ago, unless `updated` says otherwise."""
        now = timezone.now()
        data: dict[str, Any] = {
            "id": alert_id,
            "title": f"Suspicious PowerShell {alert_id}",
            "severity": "High",
            "status": "New",
            "incidentId": 41,
            "category": "Execution",
            "detectionSource": "WindowsDefenderAtp",
            "alertCreationTime": (now - timedelta(minutes=2)).isoformat(),
            "lastUpdateTime": updated or (now - timedelta(minutes=1)).isoformat(),
            "mitreTechniques": ["T1059.001"],
            "evidence": [],
            **fields,
        }
        return parse_alert(data)

    return make
