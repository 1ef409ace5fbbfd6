"""The dispatcher: which customers' sources are due, and one queued pass for each.

Beat runs it every SYNC_DISPATCH_SECONDS. Every collecting customer has a `SyncState`
per enabled source; a row whose `next_due_at` has passed is claimed by moving that time
one interval (the customer's, else SYNC_DEFAULT_INTERVAL_SECONDS) on, and a pass is
queued. Claiming before the pass runs means a slow or lost task is not queued again
within the interval; a failed pass sets `next_due_at` itself, further out (its backoff).
Each pass's lock keeps two passes of one pair apart should they ever meet.

Every due pair is queued in the cycle that finds it, as a task of its own, so the passes
of many customers spread over as many workers as there are. A pair with no watermark yet
is due for its first pass, the backfill, which may read months of alerts: it goes to the
backfill queue (SYNC_BACKFILL_QUEUE), so that a deployment can give backfills workers of
their own and a big new customer does not hold up everyone else's fresh alerts. A worker
started without `-Q` consumes both queues, as `make run`'s does.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from partner_portal.alerts.models import SyncState
from partner_portal.alerts.sync import sources
from tenants.models import Customer


def dispatch_due_syncs(*, now: datetime | None = None) -> list[tuple[int, str]]:
    """Queue one pass for every collecting customer and enabled source that is due, and
    return the (customer ID, source name) pairs queued."""
    now = now or timezone.now()
    customers = list(
        Customer.objects.filter(status__in=sources.COLLECTING, tenant_id__isnull=False).only(
            *sources.customer_fields()
        )
    )
    wanted: dict[tuple[int, str], Customer] = {
        (c.pk, source.name): c
        for c in customers
        for source in sources.all_sources()
        if source.enabled_for(c)
    }
    known = set(SyncState.objects.values_list("customer_id", "source"))
    SyncState.objects.bulk_create(
        [
            SyncState(customer_id=cid, source=source, next_due_at=now)
            for (cid, source) in wanted
            if (cid, source) not in known
        ],
        ignore_conflicts=True,
    )
    queued, backfills = _claim_due(wanted, now)
    if queued:
        from partner_portal.alerts.tasks import sync_customer_source

        for pair in queued:
            queue = settings.SYNC_BACKFILL_QUEUE if pair in backfills else settings.SYNC_QUEUE
            sync_customer_source.apply_async(args=pair, queue=queue)
    return queued


@transaction.atomic
def _claim_due(
    wanted: dict[tuple[int, str], Customer], now: datetime
) -> tuple[list[tuple[int, str]], set[tuple[int, str]]]:
    """Move `next_due_at` of every due source one interval on, and return them with
    those of them that have no watermark yet (their pass is a backfill).

    Rows another dispatcher is claiming at this moment are skipped (PostgreSQL's SKIP
    LOCKED; SQLite serialises writers), so a sync is queued once per interval; one
    UPDATE per distinct interval keeps a cycle over thousands of customers cheap.
    """
    due = (
        SyncState.objects.select_for_update(skip_locked=True)
        .filter(next_due_at__lte=now, customer_id__in={cid for cid, _ in wanted})
        .values_list("pk", "customer_id", "source", "watermark")
    )
    by_interval: dict[int, list[int]] = {}
    queued: list[tuple[int, str]] = []
    backfills: set[tuple[int, str]] = set()
    for pk, customer_id, source, watermark in due:
        customer = wanted.get((customer_id, source))
        if customer is None:
            continue
        interval = customer.sync_interval_seconds or settings.SYNC_DEFAULT_INTERVAL_SECONDS
        by_interval.setdefault(interval, []).append(pk)
        queued.append((customer_id, source))
        if watermark is None:
            backfills.add((customer_id, source))
    for interval, pks in by_interval.items():
        SyncState.objects.filter(pk__in=pks).update(next_due_at=now + timedelta(seconds=interval))
    return queued, backfills
