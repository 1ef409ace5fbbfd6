"""The dispatcher: which customers' sources are due, and one queued pass for each.

Beat runs it every SYNC_DISPATCH_SECONDS. Every collecting customer has a `SyncState`
per enabled source; a row whose `next_due_at` has passed is claimed by moving that time
one interval (the customer's, else SYNC_DEFAULT_INTERVAL_SECONDS) on, and a pass is
queued, and the row marked `queued_at` until a pass of it starts. A pair whose pass
still waits in the queue is not queued again when it falls due, so workers that fall
behind do not fill the queue with copies of the same passes; one queued more than
SYNC_REQUEUE_AFTER_SECONDS ago and never started counts as lost (a Redis restart without
persistence loses what was queued) and is queued again. A pass a killed worker left is
queued again when next due, as before. A failed pass sets `next_due_at`
itself, further out (its backoff). Each pass's lock keeps two passes of one pair apart
should they ever meet.

A cycle's work is bounded: it claims at most SYNC_DISPATCH_BATCH due rows, those due
longest first (with their customers' other sources due within half an interval, so that
a customer's sources stay due together), and the rest stay due (unclaimed) for the next
cycle a few seconds later.
After a wave of backfills thousands of pairs fall due together; one cycle that queued
them all ran past its time limit, and the pairs it had claimed but not yet queued were
lost until SYNC_REQUEUE_AFTER_SECONDS. The claims are committed before anything is
published, and the cycle's passes go out through one producer (one broker connection);
should publishing fail part way (the broker gone, the task's soft time limit), the
claims not yet queued are given back, due again at once and still first in line. Only a
dispatcher killed outright (the hard time limit) leaves claims to SYNC_REQUEUE_AFTER_SECONDS.

Two cycles may overlap (beat fires again while a slow one still runs). They never queue
one pair twice: a cycle claims its rows under row locks that the other skips
(PostgreSQL's SKIP LOCKED; SQLite serialises writers), and once it commits a claimed row
is neither due nor unqueued, which the other's claim checks again on the row it locks.

Every due pair is queued in the cycle that claims it; a customer's due pairs go out as
one task, which runs their passes one after the other, so the passes of many customers
spread over as many workers as there are while a task, a message and the customer's row
are paid for once a customer. Quiet customers, whose sources' last passes were idle (most
of a fleet), go SYNC_QUIET_BATCH to a task, which runs them in turn; a customer whose
last pass stored something or failed keeps a task of its own, so that a busy or failing
customer holds up nobody else. A pair with no watermark yet is due for its first pass,
the backfill, which may read months of alerts (so may a pair whose history staff asked
to import): it goes, as a task of its own, to the backfill queue (SYNC_BACKFILL_QUEUE),
so that a deployment can give backfills workers of their own and a big new customer
does not hold up everyone else's fresh alerts. A worker started without `-Q` consumes
both queues, as `make run`'s does.

A cycle must stay cheap with thousands of customers, as beat runs it every few seconds:
the due rows are found through the index on `next_due_at`, and only their customers are
read. Making the state rows of new customers (or newly collected sources) needs every
customer, so that is done only when the collecting customers (their number, their last
change) or the registered sources differ from the last time it was done, and at least
once per default interval; a row due for a customer that no longer collects it is moved
an interval on, so that it is not read again every cycle.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Case, Count, DateTimeField, Max, Q, QuerySet, Value, When
from django.utils import timezone

from partner_portal.alerts.apps import DISPATCHER
from partner_portal.alerts.models import SyncState
from partner_portal.alerts.sync import sources
from partner_portal.core import health
from tenants.models import Customer

logger = logging.getLogger(__name__)

# The cache key of what the state rows were last made for.
STATES_MADE_FOR = "sync:dispatch:states-made-for"


@dataclass(frozen=True)
class Claim:
    """A due row a cycle claimed: its pair, whether its pass is a backfill, whether the
    pair's last pass was idle (found nothing new, did not fail), and when it fell due
    (what it is given back should its pass not be queued)."""

    pk: int
    pair: tuple[int, str]
    backfill: bool
    due_at: datetime
    quiet: bool = False


@dataclass
class Outgoing:
    """One task to publish: its customers in turn, each with its claims, and whether it
    is a backfill (one pair, on the backfill queue)."""

    backfill: bool
    customers: list[tuple[int, list[Claim]]]

    @property
    def claims(self) -> list[Claim]:
        return [claim for _, group in self.customers for claim in group]


def dispatch_due_syncs(*, now: datetime | None = None) -> list[tuple[int, str]]:
    """Queue one pass for each collecting customer and enabled source that is due, at
    most SYNC_DISPATCH_BATCH of them (those due longest; with their customers' other
    sources due within half an interval, which may add as many again), as one task per
    customer, and return the (customer ID, source name) pairs queued. Should publishing
    fail, what was claimed and not queued is given back before the error is raised."""
    now = now or timezone.now()
    ensure_states(now=now)
    claims = _claim_due(now, limit=settings.SYNC_DISPATCH_BATCH)
    if claims:
        _publish(claims, now=now)
    health.duty_done(DISPATCHER)
    return [claim.pair for claim in claims]


def _publish(claims: Sequence[Claim], *, now: datetime) -> None:
    """One task per customer's claims (per claim for backfills; quiet customers a few to
    a task), all through one producer; the claims whose task was not published are given
    back, whatever stopped it."""
    from partner_portal.alerts.tasks import sync_customer, sync_customers

    outgoing = _tasks(claims)
    sent = 0
    try:
        with sync_customer.app.producer_or_acquire() as producer:
            for task in outgoing:
                queue = settings.SYNC_BACKFILL_QUEUE if task.backfill else settings.SYNC_QUEUE
                batch = [
                    (customer_id, [claim.pair[1] for claim in group])
                    for customer_id, group in task.customers
                ]
                if len(batch) == 1:
                    sync_customer.apply_async(args=batch[0], queue=queue, producer=producer)
                else:
                    sync_customers.apply_async(args=(batch,), queue=queue, producer=producer)
                sent += 1
    except BaseException:
        release([claim for task in outgoing[sent:] for claim in task.claims], now=now)
        raise


def _tasks(claims: Sequence[Claim]) -> list[Outgoing]:
    """The claims as tasks, in the order claimed: a customer's incremental passes
    together, and each backfill on its own (a backfill may read for minutes, and two of
    one customer run side by side on the backfill workers). Quiet customers, all of whose
    claimed sources were idle at their last pass, go SYNC_QUIET_BATCH to a task; one
    whose last pass stored something or failed, which may take longer, keeps its own."""
    tasks: list[Outgoing] = []
    together: dict[int, Outgoing] = {}
    for claim in claims:
        customer_id = claim.pair[0]
        if claim.backfill:
            tasks.append(Outgoing(backfill=True, customers=[(customer_id, [claim])]))
        elif customer_id in together:
            together[customer_id].customers[0][1].append(claim)
        else:
            together[customer_id] = Outgoing(backfill=False, customers=[(customer_id, [claim])])
            tasks.append(together[customer_id])
    batched: list[Outgoing] = []
    open_batch: Outgoing | None = None
    for task in tasks:
        if task.backfill or not all(claim.quiet for claim in task.claims):
            batched.append(task)
        elif open_batch is not None and len(open_batch.customers) < settings.SYNC_QUIET_BATCH:
            open_batch.customers += task.customers
        else:
            open_batch = task
            batched.append(task)
    return batched


def release(claims: Sequence[Claim], *, now: datetime) -> int:
    """Give back the claims a cycle made at `now` whose pass was not queued: due again
    at once, at the time they first fell due (so still first in line), and not marked
    queued. A row a pass has started on since (`queued_at` cleared) is left to it."""
    if not claims:
        return 0
    due_again = Case(
        *(When(pk=claim.pk, then=Value(claim.due_at)) for claim in claims),
        output_field=DateTimeField(),
    )
    released = SyncState.objects.filter(pk__in=[c.pk for c in claims], queued_at=now).update(
        next_due_at=due_again, queued_at=None
    )
    logger.warning("Dispatch stopped with %s pass(es) not queued; given back", released)
    return released


def _collecting() -> QuerySet[Customer]:
    return Customer.objects.filter(status__in=sources.COLLECTING, tenant_id__isnull=False)


def ensure_states(*, now: datetime, force: bool = False) -> None:
    """Give every collecting customer a state row per enabled source (due now), unless
    nothing that decides them has changed since the last time."""
    collecting = _collecting()
    seen = collecting.aggregate(n=Count("id"), changed=Max("updated_at"))
    fingerprint = (
        seen["n"],
        seen["changed"].isoformat() if seen["changed"] else "",
        SyncState.objects.count(),
        tuple(sources.names()),
    )
    if not force and cache.get(STATES_MADE_FOR) == fingerprint:
        return
    wanted = {
        (c.pk, source.name)
        for c in collecting.only(*sources.customer_fields())
        for source in sources.all_sources()
        if source.enabled_for(c)
    }
    known = set(SyncState.objects.values_list("customer_id", "source"))
    missing = [
        SyncState(customer_id=cid, source=source, next_due_at=now)
        for (cid, source) in wanted
        if (cid, source) not in known
    ]
    SyncState.objects.bulk_create(missing, ignore_conflicts=True)
    if missing:  # the count of rows is part of the fingerprint
        fingerprint = (*fingerprint[:2], SyncState.objects.count(), fingerprint[3])
    cache.set(STATES_MADE_FOR, fingerprint, timeout=settings.SYNC_DEFAULT_INTERVAL_SECONDS)


@transaction.atomic
def _claim_due(now: datetime, *, limit: int) -> list[Claim]:
    """Claim at most `limit` due rows, those due longest first, and with them the other
    sources of their customers that would fall due within half an interval: move each
    one's `next_due_at` an interval on and return those of collecting customers, marked
    `queued_at` (with whether their pass is a backfill: no watermark yet, or a history
    import asked for).

    Taking a customer's nearly due sources along keeps its sources due together, so that
    they go out as one task: a failure's backoff, or a batch's bound falling between
    them, would otherwise leave them apart for good. One of them is read up to half an
    interval early, once.

    Rows another dispatcher is claiming at this moment are skipped (PostgreSQL's SKIP
    LOCKED; SQLite serialises writers), so a sync is queued once per interval; one
    UPDATE per distinct interval keeps a cycle over thousands of customers cheap.
    """
    # A pass still waiting in the queue (or running) is not queued again: when the
    # workers fall behind, the queue would otherwise fill with copies of the same passes.
    # One queued longer than SYNC_REQUEUE_AFTER_SECONDS counts as lost and is queued again.
    stale = now - timedelta(seconds=settings.SYNC_REQUEUE_AFTER_SECONDS)
    fields = (
        "pk", "customer_id", "source", "watermark", "history_since", "next_due_at", "idle_passes"
    )  # fmt: skip
    claimable = SyncState.objects.select_for_update(skip_locked=True).filter(
        Q(queued_at__isnull=True) | Q(queued_at__lt=stale)
    )
    due = list(
        claimable.filter(next_due_at__lte=now)
        .order_by("next_due_at", "customer_id", "pk")
        .values_list(*fields)[:limit]
    )
    if not due:
        return []
    customers = {
        c.pk: c
        for c in _collecting()
        .filter(pk__in={row[1] for row in due})
        .only(*sources.customer_fields())
    }
    due += _nearly_due(claimable, due, customers, now=now, fields=fields)
    by_interval: dict[int, list[int]] = {}
    claims: list[Claim] = []
    for pk, customer_id, name, watermark, history_since, due_at, idle_passes in due:
        customer = customers.get(customer_id)
        source = sources.find(name)
        if customer is None or source is None or not source.enabled_for(customer):
            # Not collected now: looked at again an interval on, not every cycle.
            by_interval.setdefault(settings.SYNC_DEFAULT_INTERVAL_SECONDS, []).append(pk)
            continue
        by_interval.setdefault(_interval(customer), []).append(pk)
        backfill = watermark is None or history_since is not None
        quiet = not backfill and idle_passes > 0
        claims.append(
            Claim(pk=pk, pair=(customer_id, name), backfill=backfill, due_at=due_at, quiet=quiet)
        )
    for interval, pks in by_interval.items():
        SyncState.objects.filter(pk__in=pks).update(next_due_at=now + timedelta(seconds=interval))
    SyncState.objects.filter(pk__in=[claim.pk for claim in claims]).update(queued_at=now)
    return claims


def _nearly_due(
    claimable: QuerySet[SyncState],
    due: list[tuple[Any, ...]],
    customers: dict[int, Customer],
    *,
    now: datetime,
    fields: tuple[str, ...],
) -> list[tuple[Any, ...]]:
    """The rows of the due customers' other sources that fall due within half of their
    customer's interval (and are not queued, nor being claimed elsewhere)."""
    taken = {row[0] for row in due}
    horizon = max((_interval(c) for c in customers.values()), default=0)
    if not horizon:
        return []
    rows = claimable.filter(
        customer_id__in=list(customers), next_due_at__lte=now + timedelta(seconds=horizon / 2)
    ).values_list(*fields)
    nearly = []
    for row in rows:
        half = _interval(customers[row[1]]) / 2
        if row[0] not in taken and row[5] <= now + timedelta(seconds=half):
            nearly.append(row)
    return nearly


def _interval(customer: Customer) -> int:
    """Seconds between a customer's passes: its own interval, else the default."""
    return customer.sync_interval_seconds or settings.SYNC_DEFAULT_INTERVAL_SECONDS
