"""Mute windows: weekly times when a policy's notifications wait for the window's end."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.core.access import Role
from partner_portal.notifications import delivery
from partner_portal.notifications.models import Notification, NotificationStatus, Policy
from partner_portal.notifications.mute import BadWindow, muted_until, parse_window, parse_windows
from tests.factories import UserFactory
from tests.notifications.factories import ChannelFactory, PolicyFactory
from tests.notifications.receivers import HttpReceiver

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=AMSTERDAM)  # type: ignore[misc]


NIGHTS = parse_windows("Mon-Fri 18:00-08:00 Europe/Amsterdam")


@pytest.mark.parametrize(
    ("at", "until"),
    [
        (local(2026, 12, 1, 19, 30), local(2026, 12, 2, 8, 0)),  # Tuesday evening
        (local(2026, 12, 2, 7, 59), local(2026, 12, 2, 8, 0)),  # Wednesday before eight
        (local(2026, 12, 2, 8, 0), None),  # the window has ended
        (local(2026, 12, 2, 12, 0), None),  # working hours
        (local(2026, 12, 5, 12, 0), None),  # Saturday: not a listed day
        (local(2026, 12, 5, 7, 0), local(2026, 12, 5, 8, 0)),  # Friday's night runs on
    ],
)
def test_a_night_window_holds_until_the_morning_in_its_time_zone(
    at: datetime, until: datetime | None
) -> None:
    assert muted_until(NIGHTS, at.astimezone(UTC)) == until


def test_windows_that_touch_are_followed_to_the_last_end() -> None:
    windows = parse_windows("Sat 00:00-24:00\nSun 00:00-24:00\nMon 00:00-06:00")
    saturday = datetime(2026, 12, 5, 10, 0, tzinfo=UTC)
    assert muted_until(windows, saturday) == datetime(2026, 12, 7, 6, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ("Mon-Fri", "write days, times and an optional zone"),
        ("Someday 10:00-11:00", "is not a day or range of days"),
        ("Mon 25:00-26:00", "is not a time of day"),
        ("Mon 9-10", "is not a time like 18:00"),
        ("Mon 10:00-10:00", "starts and ends at the same time"),
        ("Mon 10:00-11:00 Mars/Olympus", "is not a time zone"),
    ],
)
def test_a_window_that_cannot_be_read_is_refused_in_words(line: str, words: str) -> None:
    with pytest.raises(BadWindow, match=words):
        parse_window(line)


@pytest.mark.django_db
def test_a_notification_due_in_a_mute_window_waits_for_its_end_and_a_test_does_not(
    receiver: HttpReceiver,
) -> None:
    now = timezone.now().astimezone(UTC)
    today = parse_windows(f"{now:%a} 00:00-24:00 UTC")
    channel = ChannelFactory(url=receiver.url("/hook"))
    policy = PolicyFactory(channels=[channel], mute_windows=[w.as_json() for w in today])
    held = Notification.objects.create(dedup_key="held", channel=channel, policy=policy)
    outcome = delivery.deliver(notification_id=held.pk)
    held.refresh_from_db()
    assert outcome.status == "muted" and held.status == NotificationStatus.PENDING
    midnight = datetime(now.year, now.month, now.day, tzinfo=UTC) + timedelta(days=1)
    assert held.not_before == midnight
    assert outcome.retry_in == pytest.approx((midnight - now).total_seconds(), abs=5)
    assert receiver.requests == []

    test = Notification.objects.create(dedup_key="t", channel=channel, policy=policy, is_test=True)
    assert delivery.deliver(notification_id=test.pk).status == "delivered"


@pytest.mark.django_db
def test_the_policy_form_reads_and_shows_mute_windows() -> None:
    admin = Client()
    admin.force_login(UserFactory(roles=[Role.ADMIN]))
    channel = ChannelFactory()
    form: dict[str, Any] = {
        "name": "Nights", "channels": [channel.pk], "group_by": "alert",
        "group_wait_seconds": "0", "repeat_interval_seconds": "3600",
    }  # fmt: skip
    bad = admin.post(reverse("notifications:policy_create"), {**form, "mute_text": "Mon 9-5"})
    assert bad.status_code == 400 and "is not a time like 18:00" in bad.content.decode()
    good = admin.post(
        reverse("notifications:policy_create"),
        {**form, "mute_text": "Mon-Fri 18:00-08:00 Europe/Amsterdam"},
    )
    assert good.status_code == 302
    policy = Policy.objects.get(name="Nights")
    assert policy.mute_windows == [
        {"days": [0, 1, 2, 3, 4], "start": "18:00", "end": "08:00", "tz": "Europe/Amsterdam"}
    ]
    edit = admin.get(reverse("notifications:policy_edit", args=[policy.pk])).content.decode()
    assert "Mon,Tue,Wed,Thu,Fri 18:00-08:00 Europe/Amsterdam" in edit
