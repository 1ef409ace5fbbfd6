"""A real Celery worker runs the SLA sweep as beat would: it tells a real receiver of a
warning, then of the breach, once each, however often the sweep comes by."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.notifications import tasks
from partner_portal.notifications.models import SlaWatch
from tenants.models import CustomerStatus
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.alerts.worker_support import WORKER_TEST_MARKS
from tests.notifications.factories import (
    ChannelFactory,
    PolicyFactory,
    SlaGoalFactory,
    SlaWatchFactory,
)
from tests.notifications.receivers import HttpReceiver
from tests.notifications.test_worker_delivery import start_worker, stop
from tests.waiting import wait_until

pytestmark = WORKER_TEST_MARKS


@pytest.fixture
def worker(tmp_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    process = start_worker(tmp_path, "sla")
    yield process
    stop(process)


def test_a_worker_tells_of_a_warning_and_a_breach_once_each(
    worker: subprocess.Popen[bytes], receiver: HttpReceiver
) -> None:
    customer = CustomerFactory(display_name="Contoso", status=CustomerStatus.ACTIVE)
    SlaGoalFactory(severity="High", acknowledge_minutes=15, resolve_minutes=None, warn_fraction=0.8)
    PolicyFactory(sla_events=True, severities=["High"],
                  channels=[ChannelFactory(url=receiver.url("/sla"))])  # fmt: skip
    alert = AlertFactory(customer=customer, severity="High", status="New",
                         created_at=timezone.now() - timedelta(minutes=13))  # fmt: skip
    SlaWatchFactory(customer=customer, alert_id=alert.alert_id)

    def told(count: int) -> list[dict[str, Any]]:
        assert worker.poll() is None, "the worker exited early"
        bodies = [json.loads(r.body) for r in receiver.accepted("/sla")]
        return bodies if len(bodies) >= count else []

    for _ in range(3):
        tasks.sla_sweep.delay()
    wait_until(lambda: told(1), timeout=90, every=0.2, message=lambda: "no warning arrived")

    Alert.objects.filter(pk=alert.pk).update(created_at=timezone.now() - timedelta(minutes=20))
    SlaWatch.objects.update(next_check_at=timezone.now())
    for _ in range(3):
        tasks.sla_sweep.delay()
    wait_until(lambda: told(2), timeout=90, every=0.2, message=lambda: "no breach arrived")
    # The sweeps run in order on the one worker: a marker alert's warning, asked for
    # after them, arrives only once every earlier sweep ran.
    marker = AlertFactory(customer=customer, severity="High", status="New",
                          created_at=timezone.now() - timedelta(minutes=13))  # fmt: skip
    SlaWatchFactory(customer=customer, alert_id=marker.alert_id)
    tasks.sla_sweep.delay()
    wait_until(lambda: told(3), timeout=90, every=0.2, message=lambda: "no marker arrived")
    events = [(b["alerts"][0]["alert_id"], b["event"]) for b in told(3)]
    assert events == [
        (alert.alert_id, "sla_warning"),
        (alert.alert_id, "sla_breach"),
        (marker.alert_id, "sla_warning"),
    ]
