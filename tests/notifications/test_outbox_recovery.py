"""What happens to a notification whose task was lost, or that two workers are handed at
once: the beat sweep finds the first, the row lock lets only one worker send the second."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from partner_portal.notifications import delivery, tasks
from partner_portal.notifications.models import Notification, NotificationStatus
from tests.notifications.factories import ChannelFactory
from tests.notifications.receivers import HttpReceiver


@pytest.mark.django_db
def test_the_sweep_queues_due_notifications_whose_task_was_lost(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.NOTIFY_SWEEP_GRACE_SECONDS = 60
    channel = ChannelFactory()
    now = timezone.now()
    lost = Notification.objects.create(
        dedup_key="lost", channel=channel, not_before=now - timedelta(minutes=5)
    )
    Notification.objects.create(dedup_key="just-queued", channel=channel, not_before=now)
    Notification.objects.create(
        dedup_key="later", channel=channel, not_before=now + timedelta(minutes=5)
    )
    Notification.objects.create(
        dedup_key="done", channel=channel, not_before=now - timedelta(minutes=5),
        status=NotificationStatus.DELIVERED,
    )  # fmt: skip
    assert delivery.due_notification_ids() == [lost.pk]
    queued: list[int] = []
    monkeypatch.setattr(tasks.deliver_notification, "delay", queued.append)
    assert tasks.deliver_due() == 1
    assert queued == [lost.pk]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_notification_locked_by_one_worker_is_not_sent_by_another(
    receiver: HttpReceiver,
) -> None:
    notification = Notification.objects.create(
        dedup_key="shared", channel=ChannelFactory(url=receiver.url("/hook"))
    )
    locked, release = threading.Event(), threading.Event()

    def first_worker() -> None:
        try:
            with transaction.atomic():
                Notification.objects.select_for_update().get(pk=notification.pk)
                locked.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=first_worker)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        assert delivery.deliver(notification_id=notification.pk) == delivery.NOTHING_TO_DO
    finally:
        release.set()
        holder.join(timeout=30)
    assert receiver.requests == []
    assert delivery.deliver(notification_id=notification.pk).status == "delivered"
    assert len(receiver.accepted()) == 1
