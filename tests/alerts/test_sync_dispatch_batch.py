"""The dispatcher's bounded cycle: at most SYNC_DISPATCH_BATCH sources a cycle, those due
longest first, the rest left due for the next cycle; the passes published through one
producer; what was claimed and not published given back at once when publishing fails
part way; and two cycles that overlap never queue one source twice."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from celery.exceptions import SoftTimeLimitExceeded
from django.db import connection
from django.utils import timezone
from kombu.exceptions import OperationalError

from partner_portal.alerts import tasks
from partner_portal.alerts.models import SyncState
from partner_portal.alerts.sync import dispatch, sources
from tenants.models import Customer, CustomerStatus
from tests.alerts import test_sync_sources
from tests.alerts.factories import CustomerFactory
from tests.alerts.test_sync_sources import FakeAlerts, registered

fake = test_sync_sources.fake

SOURCE = "fake_alerts"


class Published:
    """Stands in for `apply_async` of the pass task: records each task published (its
    customer's pairs, its queue and the producer it went through), or raises `fail` at
    the `fail_at`-th task (from 1)."""

    def __init__(self) -> None:
        self.tasks: list[tuple[int, list[str], str]] = []
        self.producers: list[object] = []
        self.fail: BaseException | None = None
        self.fail_at = 0
        self.lock = threading.Lock()

    @property
    def pairs(self) -> list[tuple[int, str]]:
        return [(customer_id, name) for customer_id, names, _ in self.tasks for name in names]

    def __call__(self, *, args: tuple[int, list[str]], queue: str, producer: object) -> None:
        with self.lock:
            if self.fail is not None and len(self.tasks) + 1 == self.fail_at:
                raise self.fail
            self.tasks.append((args[0], list(args[1]), queue))
            self.producers.append(producer)


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> Published:
    recorder = Published()
    monkeypatch.setattr(tasks.sync_customer, "apply_async", recorder)
    return recorder


def _customers(n: int) -> list[Customer]:
    """`n` customers that collect neither real source: each has one pair, the fake's."""
    return [
        CustomerFactory(
            display_name=f"Customer {i}",
            tenant_id=f"{i + 1:08d}-0000-4000-8000-000000000000",
            status=CustomerStatus.ACTIVE,
            collect_alerts=False,
            collect_incidents=False,
        )
        for i in range(n)
    ]


def _due(customers: list[Customer], *, now: datetime, minutes_ago: list[int]) -> None:
    """Their state rows made, each due the given minutes before `now`."""
    dispatch.ensure_states(now=now, force=True)
    for customer, minutes in zip(customers, minutes_ago, strict=True):
        SyncState.objects.filter(customer=customer, source=SOURCE).update(
            next_due_at=now - timedelta(minutes=minutes), queued_at=None
        )


def _state(customer: Customer) -> SyncState:
    return SyncState.objects.get(customer=customer, source=SOURCE)


@pytest.mark.django_db
def test_a_cycle_queues_at_most_the_batch_those_due_longest_first_through_one_producer(
    fake: FakeAlerts, published: Published, settings: Any
) -> None:
    settings.SYNC_DISPATCH_BATCH = 2
    a, b, c = _customers(3)
    now = timezone.now()
    _due([a, b, c], now=now, minutes_ago=[2, 1, 3])  # c due longest, then a, then b

    assert dispatch.dispatch_due_syncs(now=now) == [(c.pk, SOURCE), (a.pk, SOURCE)]
    assert published.pairs == [(c.pk, SOURCE), (a.pk, SOURCE)]
    assert published.producers[0] is published.producers[1]  # one producer for the cycle
    interval = timedelta(seconds=settings.SYNC_DEFAULT_INTERVAL_SECONDS)
    assert (_state(c).next_due_at, _state(c).queued_at) == (now + interval, now)
    # Beyond the bound: not claimed, still due as it was, first in the next cycle.
    left = _state(b)
    assert (left.next_due_at, left.queued_at) == (now - timedelta(minutes=1), None)

    later = now + timedelta(seconds=5)
    assert dispatch.dispatch_due_syncs(now=later) == [(b.pk, SOURCE)]
    assert dispatch.dispatch_due_syncs(now=later + timedelta(seconds=5)) == []
    assert published.pairs == [(c.pk, SOURCE), (a.pk, SOURCE), (b.pk, SOURCE)]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "failure",
    [OperationalError("Error 111 connecting to the broker"), SoftTimeLimitExceeded()],
    ids=["broker-gone", "soft-time-limit"],
)
def test_publishing_that_stops_part_way_gives_back_what_it_did_not_queue(
    fake: FakeAlerts, published: Published, settings: Any, failure: BaseException
) -> None:
    settings.SYNC_DISPATCH_BATCH = 10
    a, b, c = _customers(3)
    now = timezone.now()
    _due([a, b, c], now=now, minutes_ago=[3, 2, 1])
    published.fail, published.fail_at = failure, 2

    with pytest.raises(type(failure)):
        dispatch.dispatch_due_syncs(now=now)

    # The one published stays claimed: queued, and due an interval on.
    interval = timedelta(seconds=settings.SYNC_DEFAULT_INTERVAL_SECONDS)
    assert published.pairs == [(a.pk, SOURCE)]
    assert (_state(a).next_due_at, _state(a).queued_at) == (now + interval, now)
    # The others are due again at once, at the time they first fell due, not queued.
    for customer, minutes in ((b, 2), (c, 1)):
        state = _state(customer)
        assert (state.next_due_at, state.queued_at) == (now - timedelta(minutes=minutes), None)

    published.fail = None
    later = now + timedelta(seconds=5)  # the next cycle, well before an interval
    assert dispatch.dispatch_due_syncs(now=later) == [(b.pk, SOURCE), (c.pk, SOURCE)]
    assert dispatch.dispatch_due_syncs(now=later + timedelta(seconds=5)) == []
    assert published.pairs == [(a.pk, SOURCE), (b.pk, SOURCE), (c.pk, SOURCE)]


@pytest.fixture
def first_cycle_held(
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[tuple[threading.Event, threading.Event]]:
    """The cycle on the thread named "first" stops inside its claim (its rows locked,
    nothing committed) until released."""
    inside, go_on = threading.Event(), threading.Event()
    find = sources.find

    def held_find(name: str) -> Any:
        if threading.current_thread().name == "first" and not inside.is_set():
            inside.set()
            assert go_on.wait(timeout=60), "the first cycle was never let go on"
        return find(name)

    monkeypatch.setattr(sources, "find", held_find)
    yield inside, go_on
    go_on.set()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_cycles_share_the_due_sources_and_never_queue_one_twice(
    fake: FakeAlerts, published: Published, settings: Any,
    first_cycle_held: tuple[threading.Event, threading.Event],
) -> None:  # fmt: skip
    settings.SYNC_DISPATCH_BATCH = 2
    customers = _customers(5)
    now = timezone.now()
    _due(customers, now=now, minutes_ago=[5, 4, 3, 2, 1])
    inside, go_on = first_cycle_held
    first_queued: list[tuple[int, str]] = []
    failures: list[BaseException] = []

    def first_cycle() -> None:
        try:
            first_queued.extend(dispatch.dispatch_due_syncs())
        except BaseException as exc:  # reported to the test below
            failures.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=first_cycle, name="first")
    first.start()
    try:
        assert inside.wait(timeout=60), "the first cycle never reached its claim"
        # Beat fires again while the first cycle holds the two longest due: the second
        # skips them and takes the next two.
        second_queued = dispatch.dispatch_due_syncs()
    finally:
        go_on.set()
        first.join(timeout=60)
    assert not first.is_alive() and failures == []

    pairs = [(customer.pk, SOURCE) for customer in customers]
    assert first_queued == pairs[:2]
    assert second_queued == pairs[2:4]
    # A third cycle finds only the one left; none of the claimed is due again.
    assert dispatch.dispatch_due_syncs() == pairs[4:]
    assert dispatch.dispatch_due_syncs() == []
    assert sorted(published.pairs) == sorted(pairs)  # each once


class MoreFakeAlerts(FakeAlerts):
    """A second fake source, so that a customer has two pairs."""

    name = "fake_more"
    label = "More fake alerts"


@pytest.fixture
def more() -> Iterator[MoreFakeAlerts]:
    with registered(MoreFakeAlerts()) as source:
        yield source


def _two_customers(now: datetime) -> list[Customer]:
    """Two customers, each with a state row for both fake sources."""
    customers = _customers(2)
    dispatch.ensure_states(now=now, force=True)
    return customers


@pytest.mark.django_db
def test_a_customers_due_sources_go_out_as_one_task_and_each_backfill_as_its_own(
    fake: FakeAlerts, more: MoreFakeAlerts, published: Published, settings: Any
) -> None:
    now = timezone.now()
    a, b = _two_customers(now)
    # a has had its backfills; b has had only its first source's.
    SyncState.objects.filter(customer=a).update(watermark=now, next_due_at=now)
    SyncState.objects.filter(customer=b, source=SOURCE).update(watermark=now, next_due_at=now)
    SyncState.objects.filter(customer=b, source="fake_more").update(next_due_at=now)

    queued = dispatch.dispatch_due_syncs(now=now)

    both = sorted([SOURCE, "fake_more"])
    assert sorted(queued) == sorted(
        [(a.pk, SOURCE), (a.pk, "fake_more"), (b.pk, SOURCE), (b.pk, "fake_more")]
    )
    tasks_sent = sorted((cid, sorted(names), queue) for cid, names, queue in published.tasks)
    assert tasks_sent == sorted([
        (a.pk, both, settings.SYNC_QUEUE),
        (b.pk, [SOURCE], settings.SYNC_QUEUE),
        (b.pk, ["fake_more"], settings.SYNC_BACKFILL_QUEUE),
    ])  # fmt: skip
    assert len(set(map(id, published.producers))) == 1


@pytest.mark.django_db
def test_a_customers_task_that_was_not_published_gives_back_every_source_in_it(
    fake: FakeAlerts, more: MoreFakeAlerts, published: Published, settings: Any
) -> None:
    now = timezone.now()
    a, b = _two_customers(now)
    SyncState.objects.filter(customer=a).update(
        watermark=now, next_due_at=now - timedelta(minutes=2)
    )
    SyncState.objects.filter(customer=b).update(
        watermark=now, next_due_at=now - timedelta(minutes=1)
    )
    published.fail, published.fail_at = OperationalError("Error 111 connecting"), 2

    with pytest.raises(OperationalError):
        dispatch.dispatch_due_syncs(now=now)

    [(customer_id, names, queue)] = published.tasks
    assert (customer_id, sorted(names), queue) == (a.pk, sorted([SOURCE, "fake_more"]), "celery")
    assert set(SyncState.objects.filter(customer=a).values_list("queued_at", flat=True)) == {now}
    given_back = SyncState.objects.filter(customer=b).values_list("next_due_at", "queued_at")
    assert set(given_back) == {(now - timedelta(minutes=1), None)}


@pytest.mark.django_db
def test_a_customers_source_due_within_half_an_interval_is_taken_along_and_stays_with_the_other(
    fake: FakeAlerts, more: MoreFakeAlerts, published: Published, settings: Any
) -> None:
    now = timezone.now()
    a, b = _two_customers(now)
    interval = timedelta(seconds=settings.SYNC_DEFAULT_INTERVAL_SECONDS)
    # Each customer's first source is due; a's other one in a quarter of an interval
    # (apart since a backoff, say), b's in three quarters.
    for customer, later in ((a, interval / 4), (b, interval * 3 / 4)):
        SyncState.objects.filter(customer=customer).update(watermark=now, next_due_at=now)
        SyncState.objects.filter(customer=customer, source="fake_more").update(
            next_due_at=now + later
        )

    queued = dispatch.dispatch_due_syncs(now=now)

    assert sorted(queued) == sorted([(a.pk, SOURCE), (a.pk, "fake_more"), (b.pk, SOURCE)])
    sent = {customer_id: sorted(names) for customer_id, names, _ in published.tasks}
    assert sent == {a.pk: sorted([SOURCE, "fake_more"]), b.pk: [SOURCE]}
    # a's two sources fall due together from now on; b's other one keeps its own time.
    a_due = set(SyncState.objects.filter(customer=a).values_list("next_due_at", flat=True))
    assert a_due == {now + interval}
    b_more = SyncState.objects.get(customer=b, source="fake_more")
    assert (b_more.next_due_at, b_more.queued_at) == (now + interval * 3 / 4, None)


class PublishedBatches:
    """Stands in for `apply_async` of the task of several quiet customers: records each
    batch (its customers' pairs, its queue), or raises `fail` at the first."""

    def __init__(self) -> None:
        self.batches: list[tuple[list[tuple[int, list[str]]], str]] = []
        self.fail: BaseException | None = None

    def __call__(
        self, *, args: tuple[list[tuple[int, list[str]]]], queue: str, producer: object
    ) -> None:
        if self.fail is not None:
            raise self.fail
        self.batches.append(([(cid, list(names)) for cid, names in args[0]], queue))


@pytest.fixture
def batches(monkeypatch: pytest.MonkeyPatch) -> PublishedBatches:
    recorder = PublishedBatches()
    monkeypatch.setattr(tasks.sync_customers, "apply_async", recorder)
    return recorder


def _quiet(customers: list[Customer], *, now: datetime, idle_passes: list[int]) -> None:
    """Each customer's pair due (in the order given) after its backfill, its last
    passes idle (`idle_passes` > 0) or not (0: the last pass stored something or failed)."""
    dispatch.ensure_states(now=now, force=True)
    for order, (customer, idle) in enumerate(zip(customers, idle_passes, strict=True)):
        SyncState.objects.filter(customer=customer, source=SOURCE).update(
            watermark=now - timedelta(minutes=1), idle_passes=idle, queued_at=None,
            next_due_at=now - timedelta(seconds=len(customers) - order),
        )  # fmt: skip


@pytest.mark.django_db
def test_quiet_customers_go_a_few_to_a_task_and_a_busy_one_keeps_its_own(
    fake: FakeAlerts, published: Published, batches: PublishedBatches, settings: Any
) -> None:
    settings.SYNC_QUIET_BATCH = 2
    a, b, busy, c, d, e = _customers(6)
    now = timezone.now()
    _quiet([a, b, busy, c, d, e], now=now, idle_passes=[3, 1, 0, 7, 2, 5])

    queued = dispatch.dispatch_due_syncs(now=now)

    assert len(queued) == 6
    assert [([cid for cid, _ in batch], queue) for batch, queue in batches.batches] == [
        ([a.pk, b.pk], settings.SYNC_QUEUE),
        ([c.pk, d.pk], settings.SYNC_QUEUE),
    ]
    assert all(names == [SOURCE] for batch, _ in batches.batches for _, names in batch)
    # The busy customer alone, and the quiet one left over once the batches were full.
    assert published.tasks == [
        (busy.pk, [SOURCE], settings.SYNC_QUEUE),
        (e.pk, [SOURCE], settings.SYNC_QUEUE),
    ]


@pytest.mark.django_db
def test_with_a_quiet_batch_of_one_every_customer_has_a_task_of_its_own(
    fake: FakeAlerts, published: Published, batches: PublishedBatches, settings: Any
) -> None:
    settings.SYNC_QUIET_BATCH = 1
    customers = _customers(3)
    now = timezone.now()
    _quiet(customers, now=now, idle_passes=[4, 4, 4])

    dispatch.dispatch_due_syncs(now=now)

    assert batches.batches == []
    assert [cid for cid, _, _ in published.tasks] == [c.pk for c in customers]


@pytest.mark.django_db
def test_a_batch_of_quiet_customers_that_was_not_published_gives_back_all_of_them(
    fake: FakeAlerts, published: Published, batches: PublishedBatches, settings: Any
) -> None:
    settings.SYNC_QUIET_BATCH = 4
    customers = _customers(3)
    now = timezone.now()
    _quiet(customers, now=now, idle_passes=[2, 2, 2])
    due_before = {c.pk: _state(c).next_due_at for c in customers}
    batches.fail = OperationalError("Error 111 connecting to the broker")

    with pytest.raises(OperationalError):
        dispatch.dispatch_due_syncs(now=now)

    for customer in customers:  # due again at once, as they were, and not marked queued
        assert (_state(customer).next_due_at, _state(customer).queued_at) == (
            due_before[customer.pk],
            None,
        )
