"""A burst of 1,000 alerts notifies as the policies say, no alert missed and none twice:
one message per customer when a policy groups by customer, one per incident when it
groups by incident. Checked at the receivers (messages, the alerts they name and count)
and on the outbox's rows (the alerts each message stands for). Stored through the sync's
upsert path in pages, and synced from the sandbox by a real worker."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.notifications.messages import MAX_ALERTS
from partner_portal.notifications.models import (
    CUSTOMER_GROUP_KEY,
    Channel,
    GroupBy,
    Notification,
    NotificationStatus,
)
from tests.alerts.conftest import bind_customers, cluster_for, private_redis  # noqa: F401
from tests.alerts.factories import CustomerFactory
from tests.alerts.worker_support import WORKER_TEST_MARKS, Cluster
from tests.notifications.conftest import drain
from tests.notifications.factories import ChannelFactory, PolicyFactory
from tests.notifications.receivers import HttpReceiver
from tests.waiting import wait_until

SECRET = "whsec-burst-5Rk2"
BURST = 1000


def bodies(receiver: HttpReceiver, path: str) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in receiver.accepted(path)]


def two_policies(receiver: HttpReceiver, *, group_wait: int) -> tuple[Channel, Channel]:
    """A policy grouping by customer and, after it, one grouping by incident."""
    by_customer = ChannelFactory(url=receiver.url("/customer"), signing_secret=SECRET)
    by_incident = ChannelFactory(url=receiver.url("/incident"), signing_secret=SECRET)
    PolicyFactory(
        name="Digest per customer", channels=[by_customer], group_by=GroupBy.CUSTOMER,
        group_wait_seconds=group_wait, continue_matching=True,
    )  # fmt: skip
    PolicyFactory(
        name="Per incident", channels=[by_incident], group_by=GroupBy.INCIDENT,
        group_wait_seconds=group_wait,
    )  # fmt: skip
    return by_customer, by_incident


def outbox_alerts(channel: Channel) -> Counter[tuple[int | None, str]]:
    """(customer, alert) of every alert the channel's notifications stand for, counted."""
    counted: Counter[tuple[int | None, str]] = Counter()
    for customer_id, alert_ids in Notification.objects.filter(channel=channel).values_list(
        "customer_id", "alert_ids"
    ):
        counted.update((customer_id, alert_id) for alert_id in alert_ids)
    return counted


def check_received(
    receiver: HttpReceiver,
    *,
    by_customer: Channel,
    by_incident: Channel,
    alerts: dict[str, tuple[str, int]],
) -> None:
    """`alerts`: alert ID -> (customer name, incident ID) of every alert of the burst."""
    customers = Counter(name for name, _ in alerts.values())
    incidents = Counter(alerts.values())

    digests = bodies(receiver, "/customer")
    assert sorted(d["customer"] for d in digests) == sorted(customers)  # one per customer
    for digest in digests:
        listed = [a["alert_id"] for a in digest["alerts"]]
        assert len(listed) == MAX_ALERTS
        assert len(listed) + digest["more_alerts"] == customers[digest["customer"]]
        assert all(alerts[i][0] == digest["customer"] for i in listed)
        assert digest["subject"].startswith(f"[{digest['customer']}] New alerts: ")

    per_incident = bodies(receiver, "/incident")
    assert sorted((m["customer"], m["incident"]["id"]) for m in per_incident) == sorted(incidents)
    for message in per_incident:
        key = (message["customer"], message["incident"]["id"])
        listed = [a["alert_id"] for a in message["alerts"]]
        assert len(listed) + message["more_alerts"] == incidents[key]
        assert all(alerts[i] == key for i in listed)
    every_id = [r.headers["X-Partner-Portal-Delivery"] for r in receiver.accepted()]
    assert len(every_id) == len(set(every_id)) == len(customers) + len(incidents)

    # What each message stands for: every alert of the burst, each exactly once.
    for channel in (by_customer, by_incident):
        counted = outbox_alerts(channel)
        assert set(counted.values()) == {1}
        assert {alert_id for _, alert_id in counted} == set(alerts)
        rows = Notification.objects.filter(channel=channel)
        assert not rows.exclude(status=NotificationStatus.DELIVERED).exists()


@pytest.mark.django_db
def test_a_burst_stored_in_pages_sends_one_message_per_customer_and_per_incident(
    receiver: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    by_customer, by_incident = two_policies(receiver, group_wait=30)
    contoso = CustomerFactory(display_name="Contoso")
    fabrikam = CustomerFactory(display_name="Fabrikam")
    alerts: dict[str, tuple[str, int]] = {}
    records: dict[int, list[Any]] = {contoso.pk: [], fabrikam.pk: []}
    for n in range(BURST):
        customer = contoso if n % 5 < 3 else fabrikam  # 600 and 400
        alert_id = f"burst-{n:04d}"
        incident = 7000 + n % 23
        alerts[alert_id] = (customer.display_name, incident)
        records[customer.pk].append(make_alert(alert_id, incidentId=incident))

    def store(page_size: int) -> None:
        for customer_id, batch in records.items():
            for start in range(0, len(batch), page_size):
                alerts_upsert(customer_id=customer_id, records=batch[start : start + page_size])

    store(page_size=150)
    assert Alert.objects.count() == BURST
    # Within the group wait nothing goes; every page joined its group's waiting message.
    assert set(drain()) == {"waiting"}
    assert Notification.objects.count() == 2 + 2 * 23
    Notification.objects.update(not_before=timezone.now())  # the group wait is over
    assert set(drain()) == {"delivered"}
    check_received(receiver, by_customer=by_customer, by_incident=by_incident, alerts=alerts)

    # The same burst synced again, and changed by Microsoft since: nothing more is sent.
    later = (timezone.now() + timedelta(seconds=1)).isoformat()
    for customer_id, batch in records.items():
        changed = [make_alert(r.id, updated=later, incidentId=r.incident_id) for r in batch]
        alerts_upsert(customer_id=customer_id, records=changed)
    store(page_size=500)
    assert drain() == []
    assert len(receiver.accepted()) == 2 + 2 * 23


def worker_test(test: Callable[..., None]) -> Callable[..., None]:
    for mark in (*WORKER_TEST_MARKS, pytest.mark.sandbox):
        test = mark(test)
    return test


@worker_test
def test_a_burst_synced_from_the_sandbox_by_a_worker_is_grouped_as_the_policies_say(
    private_redis: Any,  # noqa: F811
    sandbox_factory: Any,
    bind_customers: Any,  # noqa: F811
    cluster_for: Any,  # noqa: F811
    receiver: HttpReceiver,
) -> None:
    sandbox = sandbox_factory(tenants=2, consented=2, alerts_per_tenant=5, seed=61)
    contoso, fabrikam = bind_customers(sandbox, collect_incidents=False, sync_interval_seconds=3)
    cluster: Cluster = cluster_for(sandbox)
    # The worker opens the channels' sealed URLs with this process's key.
    key = django_settings.SECRET_KEY
    cluster.start_worker(concurrency=2, SYNC_EVIDENCE_SEVERITIES="", SECRET_KEY=key)
    cluster.start_beat(SECRET_KEY=key)
    wait_until(lambda: Alert.objects.count() == 10, timeout=120, message=cluster.logs)
    # The policies come after the first passes, whose history is not news.
    by_customer, by_incident = two_policies(receiver, group_wait=45)

    created: dict[str, str] = {}
    for customer, count in ((contoso, 700), (fabrikam, BURST - 700)):
        answer = sandbox.control(
            "POST", f"/_sandbox/tenants/{customer.tenant_id}/alerts", json={"count": count}
        )
        answer.raise_for_status()
        created.update(dict.fromkeys(answer.json()["ids"], customer.display_name))
    assert len(created) == BURST

    def all_sent() -> bool:
        waiting = Notification.objects.filter(status=NotificationStatus.PENDING).exists()
        stored = Alert.objects.filter(alert_id__in=created).count() == BURST
        return stored and not waiting and len(receiver.accepted("/customer")) >= 2

    wait_until(all_sent, timeout=300, every=1, message=cluster.logs)
    incident_of = dict(
        Alert.objects.filter(alert_id__in=created).values_list("alert_id", "incident_id")
    )
    alerts = {i: (name, incident_of[i]) for i, name in created.items()}
    check_received(receiver, by_customer=by_customer, by_incident=by_incident, alerts=alerts)
    assert set(Notification.objects.filter(channel=by_customer).values_list(
        "group_key", flat=True)) == {CUSTOMER_GROUP_KEY}  # fmt: skip
