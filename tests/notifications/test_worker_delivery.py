"""A real Celery worker delivers what the sync's transaction recorded: the task is queued
on commit through Redis, the worker sends to a receiver on loopback, retries a 500, and
a re-synced alert adds nothing to send."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.utils import timezone

from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.notifications import delivery, tasks
from partner_portal.notifications.models import Notification, NotificationStatus
from tenants.models import CustomerStatus
from tests.alerts.factories import CustomerFactory
from tests.alerts.worker_support import ROOT, WORKER_TEST_MARKS, database_url_for_workers
from tests.notifications.factories import ChannelFactory, PolicyFactory
from tests.notifications.receivers import HttpReceiver
from tests.waiting import wait_until

pytestmark = WORKER_TEST_MARKS


def start_worker(tmp_path: Path, name: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="partner_portal.settings",
        DATABASE_URL=database_url_for_workers(),
        # The worker opens the channel secrets this process sealed: the same key.
        SECRET_KEY=settings.SECRET_KEY,
        PORTAL_DATA_DIR=str(tmp_path),
        DEBUG="false",
        NOTIFY_RETRY_BASE_SECONDS="1",
    )
    log = open(tmp_path / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "partner_portal", "worker",
         "--hostname", f"{name}-{os.getpid()}@localhost", "--concurrency", "1",
         "--pool", "solo", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a kill takes every child
    )  # fmt: skip
    log.close()
    return process


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(tmp_path, "notify")
    yield process
    stop(process)


def test_a_worker_delivers_once_retries_a_500_and_ignores_a_resync(
    worker: subprocess.Popen[bytes], receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    customer = CustomerFactory(display_name="Contoso", status=CustomerStatus.ACTIVE)
    PolicyFactory(channels=[ChannelFactory(url=receiver.url("/hook"))], severities=["High"])

    def delivered(count: int) -> bool:
        assert worker.poll() is None, "the worker exited early"
        return len(receiver.accepted()) >= count

    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-w1")])
    wait_until(lambda: delivered(1), timeout=90, every=0.2, message=lambda: "nothing arrived")

    receiver.answers.append(500)
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-w2")])
    wait_until(lambda: delivered(2), timeout=60, every=0.2, message=lambda: "no retry arrived")

    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-w1")])
    alerts_upsert(
        customer_id=customer.pk, records=[make_alert("da-w2", updated=timezone.now().isoformat())]
    )
    assert not Notification.objects.exclude(status=NotificationStatus.DELIVERED).exists()
    assert Notification.objects.count() == 2

    sent = [json.loads(r.body)["alerts"][0]["alert_id"] for r in receiver.accepted()]
    assert sent == ["da-w1", "da-w2"]
    assert [r.answered for r in receiver.requests] == [200, 500, 200]


def test_a_worker_killed_while_sending_leaves_the_notification_to_be_sent_once(
    tmp_path: Path, receiver: HttpReceiver, make_alert: Callable[..., Any], settings: Any
) -> None:
    """SIGKILL between commit and a recorded send: the row's transaction dies with the
    worker, so the notification is still waiting; the beat sweep queues it again and the
    next worker delivers it, once."""
    settings.NOTIFY_SWEEP_GRACE_SECONDS = 0
    customer = CustomerFactory(display_name="Contoso", status=CustomerStatus.ACTIVE)
    PolicyFactory(channels=[ChannelFactory(url=receiver.url("/hook"))])
    receiver.hold_next = 1
    first = start_worker(tmp_path, "doomed")
    try:
        alerts_upsert(customer_id=customer.pk, records=[make_alert("da-kill")])
        wait_until(lambda: receiver.held, timeout=90, every=0.2, message=lambda: "never sent")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    finally:
        stop(first)
    receiver.release.set()
    notification = Notification.objects.get()
    wait_until(
        lambda: delivery.due_notification_ids() == [notification.pk], timeout=30, every=0.2,
        message=lambda: "the killed worker's lock was not released",
    )  # fmt: skip
    assert Notification.objects.get().status == NotificationStatus.PENDING

    second = start_worker(tmp_path, "survivor")
    try:
        assert tasks.deliver_due.apply().get() == 1  # what beat does every few seconds
        wait_until(lambda: receiver.accepted(), timeout=90, every=0.2, message=lambda: "lost")
        wait_until(
            lambda: Notification.objects.get().status == NotificationStatus.DELIVERED,
            timeout=30, every=0.2,
        )  # fmt: skip
    finally:
        stop(second)
    assert len(receiver.accepted()) == 1 and len(receiver.held) == 1
    assert Notification.objects.get().attempts == 1
