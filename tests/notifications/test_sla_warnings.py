"""SLA warnings and breaches against a real receiver: a policy that asks for SLA events
is told once when an open alert passes the goal's warning share and once when it passes
the due time, however often the sweep runs; an acknowledged or resolved alert tells of
nothing more; policies that do not ask stay silent; and the sweep reads due checks only."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.defender import parse_alert
from partner_portal.notifications import sla_watch, tasks
from partner_portal.notifications.models import Notification, SlaWatch
from tenants.models import Customer
from tests.notifications.conftest import drain
from tests.notifications.factories import ChannelFactory, PolicyFactory, SlaGoalFactory
from tests.notifications.receivers import HttpReceiver

pytestmark = pytest.mark.django_db

SECRET = "whsec-sla-warnings-0123456"


def stored(customer: Customer, alert_id: str, *, created_minutes_ago: float, **fields: Any) -> None:
    now = timezone.now()
    record = parse_alert(
        {"id": alert_id, "title": f"Credential theft {alert_id}", "severity": "High",
         "status": "New", "category": "CredentialAccess",
         "alertCreationTime": (now - timedelta(minutes=created_minutes_ago)).isoformat(),
         "lastUpdateTime": (now - timedelta(seconds=30)).isoformat(), **fields}
    )  # fmt: skip
    alerts_upsert(customer_id=customer.pk, records=[record])


def time_passes(customer: Customer, alert_id: str, minutes: float) -> None:
    """The alert is `minutes` older, and its check is due (as it would be by then)."""
    alert = Alert.objects.get(customer=customer, alert_id=alert_id)
    assert alert.created_at is not None
    Alert.objects.filter(pk=alert.pk).update(
        created_at=alert.created_at - timedelta(minutes=minutes)
    )
    SlaWatch.objects.filter(customer=customer, alert_id=alert_id).update(
        next_check_at=timezone.now()
    )


def bodies(receiver: HttpReceiver, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.accepted(path)]


def test_a_warning_and_a_breach_are_each_told_once(
    customer: Customer, receiver: HttpReceiver
) -> None:
    SlaGoalFactory(severity="High", acknowledge_minutes=15, resolve_minutes=None, warn_fraction=0.8)
    PolicyFactory(
        name="SLA pager", sla_events=True,
        channels=[ChannelFactory(url=receiver.url("/sla"), signing_secret=SECRET)],
    )  # fmt: skip
    PolicyFactory(
        name="Alerts only", position=5, severities=["Low"],
        channels=[ChannelFactory(name="quiet", url=receiver.url("/quiet"), signing_secret=SECRET)],
    )  # fmt: skip
    stored(customer, "da-sla-1", created_minutes_ago=5)
    drain()  # the policy also routes the alert itself
    assert sla_watch.sweep() == 0  # 5 of 15 minutes: nothing yet
    watch = SlaWatch.objects.get(alert_id="da-sla-1")
    assert watch.next_check_at is not None and watch.next_check_at > timezone.now()

    time_passes(customer, "da-sla-1", 8)  # 13 of 15 minutes: past the 80 % share
    assert sla_watch.sweep() == 1
    assert sla_watch.sweep() == 0
    time_passes(customer, "da-sla-1", 0)
    assert sla_watch.sweep() == 0  # checked again: the warning is not repeated
    assert drain() == ["delivered"]

    time_passes(customer, "da-sla-1", 5)  # 18 of 15 minutes: breached
    assert sla_watch.sweep() == 1
    time_passes(customer, "da-sla-1", 1)
    assert sla_watch.sweep() == 0
    assert drain() == ["delivered"]
    assert SlaWatch.objects.get(alert_id="da-sla-1").next_check_at is None

    warning, breach = [b for b in bodies(receiver, "/sla") if b["type"] == "sla"]
    assert (warning["type"], warning["event"]) == ("sla", "sla_warning")
    assert warning["sla"]["stage"] == "warning" and warning["sla"]["clock"] == "acknowledge"
    assert (
        warning["subject"] == "[Contoso] SLA warning (acknowledge), High: Credential theft da-sla-1"
    )
    assert [a["alert_id"] for a in warning["alerts"]] == ["da-sla-1"]
    assert (breach["event"], breach["sla"]["stage"]) == ("sla_breach", "breach")
    assert datetime.fromisoformat(breach["sla"]["due_at"]) < timezone.now()
    assert receiver.accepted("/quiet") == []


def test_an_acknowledged_or_resolved_alert_tells_of_nothing_more(
    customer: Customer, receiver: HttpReceiver
) -> None:
    SlaGoalFactory(severity="High", acknowledge_minutes=15, resolve_minutes=60, warn_fraction=0.5)
    PolicyFactory(
        sla_events=True, channels=[ChannelFactory(url=receiver.url("/sla"), signing_secret=SECRET)]
    )
    stored(customer, "da-sla-2", created_minutes_ago=1)
    stored(customer, "da-sla-2", created_minutes_ago=1, status="InProgress", assignedTo="sam")
    drain()
    time_passes(customer, "da-sla-2", 20)  # acknowledged in time; resolve clock at 21 of 60
    assert sla_watch.sweep() == 0
    time_passes(customer, "da-sla-2", 10)  # 31 of 60: the resolve clock's warning
    assert sla_watch.sweep() == 1
    assert drain() == ["delivered"]
    (told,) = [b for b in bodies(receiver, "/sla") if b["type"] == "sla"]
    assert told["sla"]["clock"] == "resolve"

    stored(customer, "da-sla-2", created_minutes_ago=90, status="Resolved")
    assert not SlaWatch.objects.filter(alert_id="da-sla-2").exists()
    assert sla_watch.sweep() == 0


def test_a_policy_that_does_not_ask_is_not_told(customer: Customer, receiver: HttpReceiver) -> None:
    SlaGoalFactory(severity="High", acknowledge_minutes=15, resolve_minutes=None)
    PolicyFactory(channels=[ChannelFactory(url=receiver.url("/hook"), signing_secret=SECRET)])
    stored(customer, "da-sla-3", created_minutes_ago=30)
    drain()  # the alert's own notification
    assert sla_watch.sweep() == 0
    assert not Notification.objects.filter(group_key__startswith="sla:").exists()


def test_a_changed_goal_makes_every_watched_alert_due_again(customer: Customer) -> None:
    goal = SlaGoalFactory(severity="High", acknowledge_minutes=600, resolve_minutes=None)
    stored(customer, "da-sla-4", created_minutes_ago=1)
    sla_watch.sweep()
    later = SlaWatch.objects.get(alert_id="da-sla-4").next_check_at
    assert later is not None and later > timezone.now() + timedelta(hours=9)
    goal.acknowledge_minutes = 5
    goal.save()
    sla_watch.look_again()
    assert SlaWatch.objects.get(alert_id="da-sla-4").next_check_at <= timezone.now()


def test_a_sweep_with_nothing_due_reads_nothing_else(
    customer: Customer, django_assert_max_num_queries: Any
) -> None:
    SlaGoalFactory(severity="High", acknowledge_minutes=15, resolve_minutes=None)
    for n in range(30):
        stored(customer, f"da-sla-many-{n}", created_minutes_ago=1)
    sla_watch.sweep()
    with django_assert_max_num_queries(4):
        assert sla_watch.sweep() == 0  # nothing due: one read of the index, nothing else


def test_a_new_goal_watches_the_open_alerts_stored_before_it(
    customer: Customer, admin_client_portal: Client, django_capture_on_commit_callbacks: Any
) -> None:
    stored(customer, "da-sla-old", created_minutes_ago=30)
    stored(customer, "da-sla-low", created_minutes_ago=30, severity="Low")
    stored(customer, "da-sla-closed", created_minutes_ago=30, status="Resolved")
    assert not SlaWatch.objects.exists()  # no goal yet: nothing to watch
    form = {"severity": "High", "acknowledge_minutes": "15"}
    with django_capture_on_commit_callbacks() as queued:
        assert admin_client_portal.post(reverse("notifications:sla_goal_save"), form).status_code
    assert queued, "saving a goal queues the task that watches its open alerts"
    assert tasks.sla_watch_open.apply(args=("High",)).get() == 1  # what the worker runs
    assert list(SlaWatch.objects.values_list("alert_id", flat=True)) == ["da-sla-old"]
    assert tasks.sla_watch_open.apply(args=("High",)).get() == 0


def test_a_customers_new_time_zone_makes_its_alerts_due_again(
    customer: Customer, staff_client: Client
) -> None:
    SlaGoalFactory(severity="High", acknowledge_minutes=600, resolve_minutes=None)
    stored(customer, "da-sla-zone", created_minutes_ago=1)
    sla_watch.sweep()
    assert SlaWatch.objects.get().next_check_at > timezone.now()
    form = {"display_name": "Contoso", "cloud": "commercial", "collect_alerts": "on",
            "sync_interval_seconds": "60", "time_zone": "Asia/Tokyo"}  # fmt: skip
    url = reverse("tenants:customer_edit", args=[customer.pk])
    assert staff_client.post(url, form).status_code == 302
    assert SlaWatch.objects.get().next_check_at <= timezone.now()
