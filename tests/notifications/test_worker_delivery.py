"""A real Celery worker delivers what the sync's transaction recorded: the task is queued
on commit through Redis, the worker sends to a receiver on loopback, retries a 500, and
a re-synced alert adds nothing to send."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.notifications.models import Notification, NotificationStatus
from tenants.models import CustomerStatus
from tests.alerts.factories import CustomerFactory
from tests.alerts.worker_support import database_url_for_workers
from tests.notifications.factories import ChannelFactory, PolicyFactory
from tests.notifications.receivers import HttpReceiver
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update(
        DJANGO_SETTINGS_MODULE="partner_portal.settings",
        DATABASE_URL=database_url_for_workers(),
        SECRET_KEY="notify-worker-test-" + "x" * 40,
        PORTAL_DATA_DIR=str(tmp_path),
        DEBUG="false",
        NOTIFY_RETRY_BASE_SECONDS="1",
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "partner_portal", "worker",
         "--hostname", f"notify-{os.getpid()}@localhost", "--concurrency", "1",
         "--pool", "solo", "--without-mingle", "--without-gossip", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    yield process
    process.terminate()
    process.communicate(timeout=30)


def test_a_worker_delivers_once_retries_a_500_and_ignores_a_resync(
    worker: subprocess.Popen[str], receiver: HttpReceiver, make_alert: Callable[..., Any]
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
