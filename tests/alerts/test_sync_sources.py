"""Data sources: the registry keeps today's stored names, and a source is a module plus a
registration. A fake third source, with a fake client, is dispatched, paged, stored,
failed and reported by the unchanged dispatcher, pass and progress reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from io import StringIO
from typing import Any, TypeVar

import pytest
from django.core.management import call_command
from django.utils import timezone

from partner_portal.alerts import models
from partner_portal.alerts.models import Alert, SyncRun, SyncState, SyncStatus
from partner_portal.alerts.sync import dispatch, passes, sources
from partner_portal.alerts.sync.progress import customer_sync_overview
from partner_portal.alerts.sync.upsert import UpsertResult, alerts_upsert
from partner_portal.celery import app
from partner_portal.defender import (
    ALERT_READ,
    GRAPH_SECURITY_LIMITS,
    INCIDENT_READ,
    MDE_ALERT_LIMITS,
    XDR_INCIDENT_LIMITS,
    AlertRecord,
    ClientStats,
    Forbidden,
    parse_alert,
)
from tenants.models import Customer, CustomerStatus
from tests.alerts.factories import CustomerFactory

pytestmark = pytest.mark.django_db

FAKE_PERMISSION = "Fake.Read.All"


def alert(alert_id: str, updated: str = "2026-01-02T10:00:00Z") -> AlertRecord:
    return parse_alert(
        {"id": alert_id, "title": f"Fake {alert_id}", "severity": "High", "status": "New",
         "alertCreationTime": "2026-01-01T09:00:00Z", "lastUpdateTime": updated}
    )  # fmt: skip


class FakeClient:
    """Hands out the pages it was given, counting one call per page, then raises `fail`."""

    def __init__(self, pages: list[list[AlertRecord]], fail: Exception | None) -> None:
        self.stats = ClientStats()
        self._pages = pages
        self._fail = fail

    def changed_since(self, since: datetime) -> Iterator[list[AlertRecord]]:
        for page in self._pages:
            self.stats.api_calls += 1
            yield page
        if self._fail is not None:
            raise self._fail


class FakeAlerts(sources.Source[FakeClient, AlertRecord]):
    """A third source, declared the way the real ones are."""

    name = "fake_alerts"
    label = "Fake alerts"
    permission = FAKE_PERMISSION
    limits = ((10, 60.0),)
    model = Alert

    def __init__(self) -> None:
        self.served: list[list[AlertRecord]] = []
        self.fail: Exception | None = None
        self.asked_since: list[datetime] = []
        self.enriched: list[tuple[str, ...]] = []

    def wanted_by(self, customer: Customer) -> bool:
        return True

    def client(self, customer: Customer, *, token_sources: list[str]) -> FakeClient:
        token_sources.append("identity_provider")
        return FakeClient(self.served, self.fail)

    def pages(self, client: FakeClient, *, since: datetime) -> Iterator[list[AlertRecord]]:
        self.asked_since.append(since)
        return client.changed_since(since)

    def store(self, *, customer_id: int, page: Sequence[AlertRecord]) -> UpsertResult:
        return alerts_upsert(customer_id=customer_id, records=page)

    def enrich(
        self,
        client: FakeClient,
        *,
        customer_id: int,
        page: Sequence[AlertRecord],
        result: UpsertResult,
    ) -> None:
        self.enriched.append(tuple(sorted(result.new_ids)))


SourceT = TypeVar("SourceT", bound=sources.Source[Any, Any])


@contextmanager
def registered(source: SourceT) -> Iterator[SourceT]:
    """`source` registered for the block, the way an app registers its own."""
    sources.register(source)
    try:
        yield source
    finally:
        sources.unregister(source.name)


@pytest.fixture
def fake() -> Iterator[FakeAlerts]:
    with registered(FakeAlerts()) as source:
        yield source


@pytest.fixture
def customer() -> Customer:
    # Collects neither real source, so whatever is dispatched is the fake's.
    return CustomerFactory(
        display_name="Contoso", tenant_id="11111111-1111-1111-1111-111111111111",
        status=CustomerStatus.ACTIVE, collect_alerts=False, collect_incidents=False,
    )  # fmt: skip


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Queued tasks run at once, in this process (what a worker would do)."""
    app.conf.task_always_eager = True
    try:
        yield
    finally:
        app.conf.task_always_eager = False


def test_the_real_sources_keep_their_stored_names_permissions_and_limits() -> None:
    assert sources.names() == [s.value for s in models.Source]
    assert sources.names() == ["alerts", "incidents", "graph_alerts", "graph_incidents"]
    alerts, incidents, graph_alerts, graph_incidents = sources.all_sources()
    assert (alerts.permission, alerts.limits, alerts.model, alerts.on_graph) == (
        ALERT_READ, MDE_ALERT_LIMITS, Alert, False
    )  # fmt: skip
    assert (incidents.permission, incidents.limits, incidents.model, incidents.on_graph) == (
        INCIDENT_READ, XDR_INCIDENT_LIMITS, models.Incident, False
    )  # fmt: skip
    assert (graph_alerts.permission, graph_alerts.limits, graph_alerts.model) == (
        "SecurityAlert.Read.All", GRAPH_SECURITY_LIMITS, Alert
    )  # fmt: skip
    assert (graph_incidents.permission, graph_incidents.limits, graph_incidents.model) == (
        "SecurityIncident.Read.All", GRAPH_SECURITY_LIMITS, models.Incident
    )  # fmt: skip
    assert graph_alerts.on_graph and graph_incidents.on_graph
    assert sources.find("nothing") is None
    with pytest.raises(ValueError, match="registered already"):
        sources.register(alerts)


def test_a_registered_source_is_dispatched_paged_stored_and_reported(
    fake: FakeAlerts, customer: Customer, eager_tasks: None, settings: Any
) -> None:
    fake.served = [[alert("a1"), alert("a2")], [alert("a3")]]
    before = timezone.now()
    assert dispatch.dispatch_due_syncs() == [(customer.pk, "fake_alerts")]

    run = SyncRun.objects.get(customer=customer)
    assert run.source == "fake_alerts" and run.status == SyncStatus.SUCCEEDED
    assert run.backfill and (run.pages, run.fetched, run.created, run.updated) == (2, 3, 3, 0)
    assert (run.api_calls, run.token_source) == (2, "identity_provider")
    assert fake.enriched == [("a1", "a2"), ("a3",)]
    stored = Alert.objects.filter(customer=customer).values_list("alert_id", flat=True)
    assert sorted(stored) == ["a1", "a2", "a3"]
    state = SyncState.objects.get(customer=customer, source="fake_alerts")
    assert state.watermark == run.started_at and state.last_run == run
    backfill_from = fake.asked_since[0] - (before - timedelta(days=settings.SYNC_BACKFILL_DAYS))
    assert timedelta(0) <= backfill_from < timedelta(minutes=1)
    # Claimed for one interval: dispatching again queues nothing.
    assert dispatch.dispatch_due_syncs() == []

    # The next pass starts from the watermark less the overlap; a newer copy updates.
    fake.served = [[alert("a2", updated="2026-01-03T10:00:00Z")]]
    again = passes.sync_source(customer_id=customer.pk, source="fake_alerts")
    assert again is not None and not again.backfill
    assert (again.created, again.updated) == (0, 1)
    overlap = timedelta(seconds=settings.SYNC_OVERLAP_SECONDS)
    assert fake.asked_since[1] == state.watermark - overlap

    overview = customer_sync_overview(customer=customer)
    listed = {s["source"]: s for s in overview["sources"]}
    assert list(listed) == ["alerts", "incidents", "fake_alerts"]
    mine = listed["fake_alerts"]
    assert (mine["label"], mine["enabled"], mine["healthy"], mine["stored"]) == (
        "Fake alerts", True, True, 3
    )  # fmt: skip
    assert mine["backfill"]["phase"] == "done" and mine["last_run"]["id"] == again.pk
    assert not listed["alerts"]["enabled"] and not listed["incidents"]["enabled"]


def test_sync_now_runs_a_registered_source_by_name(fake: FakeAlerts, customer: Customer) -> None:
    fake.served = [[alert("a1")]]
    out = StringIO()
    call_command("sync_now", "--customer", str(customer.pk), "--source", "fake_alerts", stdout=out)
    assert f"{customer} / fake_alerts backfill succeeded" in out.getvalue()
    assert "1 page(s), 1 read, 1 new, 0 changed, 1 API call(s)" in out.getvalue()


def test_a_403_names_the_sources_permission_and_stops_dispatching_it(
    fake: FakeAlerts, customer: Customer, eager_tasks: None
) -> None:
    fake.served = [[alert("a1")]]
    fake.fail = Forbidden(403, "Forbidden", "Missing application roles: Fake.Read.All")
    dispatch.dispatch_due_syncs()

    run = SyncRun.objects.get(customer=customer, source="fake_alerts")
    assert run.status == SyncStatus.FAILED and run.error_code == "Forbidden 403"
    # The page that arrived before the failure is committed; the watermark stays put.
    assert Alert.objects.filter(customer=customer, alert_id="a1").exists()
    state = SyncState.objects.get(customer=customer, source="fake_alerts")
    assert state.watermark is None and state.consecutive_failures == 1
    assert state.next_due_at > timezone.now()
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.MISSING_PERMISSIONS
    assert customer.missing_roles == [FAKE_PERMISSION]
    assert not fake.enabled_for(customer)
    later = timezone.now() + timedelta(days=1)
    assert dispatch.dispatch_due_syncs(now=later) == []
    assert passes.sync_source(customer_id=customer.pk, source="fake_alerts") is None


def _queued_on(queue: str) -> list[list[object]]:
    """The [customer ID, source] of each sync pass waiting on `queue` in this run's
    broker (other tasks the run queued there are taken off and left out)."""
    waiting = []
    with app.connection_for_read() as connection, connection.SimpleQueue(queue) as simple:
        while True:
            try:
                message = simple.get(timeout=0.5)
            except simple.Empty:
                return waiting
            if message.headers.get("task") == "alerts.sync_customer":
                customer_id, names = message.payload[0]
                waiting += [[customer_id, name] for name in names]
            message.ack()


def test_a_first_pass_waits_on_the_backfill_queue_and_later_passes_on_the_default_one(
    fake: FakeAlerts, customer: Customer, settings: Any
) -> None:
    for queue in (settings.SYNC_QUEUE, settings.SYNC_BACKFILL_QUEUE):
        with app.connection_for_write() as connection, connection.SimpleQueue(queue) as simple:
            simple.clear()  # nothing left over from other tests (or other runs)

    assert dispatch.dispatch_due_syncs() == [(customer.pk, "fake_alerts")]
    assert _queued_on(settings.SYNC_BACKFILL_QUEUE) == [[customer.pk, "fake_alerts"]]
    assert _queued_on(settings.SYNC_QUEUE) == []

    # Once a pass has set the watermark (and ended), the next one is an increment.
    SyncState.objects.filter(customer=customer).update(watermark=timezone.now(), queued_at=None)
    later = timezone.now() + timedelta(seconds=settings.SYNC_DEFAULT_INTERVAL_SECONDS + 1)
    assert dispatch.dispatch_due_syncs(now=later) == [(customer.pk, "fake_alerts")]
    assert _queued_on(settings.SYNC_QUEUE) == [[customer.pk, "fake_alerts"]]
    assert _queued_on(settings.SYNC_BACKFILL_QUEUE) == []

    # A history import staff asked for reads months back too: the backfill queue again.
    SyncState.objects.filter(customer=customer).update(
        history_since=timezone.now() - timedelta(days=90), next_due_at=timezone.now(),
        queued_at=None,
    )  # fmt: skip
    assert dispatch.dispatch_due_syncs(now=later) == [(customer.pk, "fake_alerts")]
    assert _queued_on(settings.SYNC_BACKFILL_QUEUE) == [[customer.pk, "fake_alerts"]]
    assert _queued_on(settings.SYNC_QUEUE) == []


def test_a_pass_still_waiting_in_the_queue_is_not_queued_again_until_it_ends(
    fake: FakeAlerts, customer: Customer, settings: Any
) -> None:
    interval = timedelta(seconds=settings.SYNC_DEFAULT_INTERVAL_SECONDS + 1)
    start = timezone.now()
    assert dispatch.dispatch_due_syncs(now=start) == [(customer.pk, "fake_alerts")]
    # The workers are behind: an interval on, the pass has not run; no second copy.
    assert dispatch.dispatch_due_syncs(now=start + interval) == []
    assert dispatch.dispatch_due_syncs(now=start + 2 * interval) == []
    # The pass starts (and ends); when due again it is queued again.
    passes.sync_source(customer_id=customer.pk, source="fake_alerts")
    state = SyncState.objects.get(customer=customer)
    assert state.queued_at is None
    SyncState.objects.filter(pk=state.pk).update(next_due_at=start)
    assert dispatch.dispatch_due_syncs(now=start + 3 * interval) == [(customer.pk, "fake_alerts")]


def test_a_pass_queued_too_long_ago_counts_as_lost_and_is_queued_again(
    fake: FakeAlerts, customer: Customer, settings: Any
) -> None:
    start = timezone.now()
    assert dispatch.dispatch_due_syncs(now=start) == [(customer.pk, "fake_alerts")]
    lost = start + timedelta(seconds=settings.SYNC_REQUEUE_AFTER_SECONDS + 1)
    assert dispatch.dispatch_due_syncs(now=lost) == [(customer.pk, "fake_alerts")]


def test_a_worker_started_without_q_consumes_both_queues() -> None:
    names = {queue.name for queue in app.amqp.queues.consume_from.values()}
    assert names >= {"celery", "backfill"}
