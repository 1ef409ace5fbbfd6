"""Sending one hunt to every chosen customer at once, and keeping each answer.

`run_hunt` asks each target customer's tenant through Microsoft Graph's
`runHuntingQuery`, HUNT_CONCURRENCY at a time on threads of one worker (the calls wait
on the network, not the processor). Each tenant's hunting quota is kept across every
worker by a limiter of its own (HUNT_CALLS_PER_MINUTE, Microsoft documents 45 a minute
per app and tenant), on top of the client's usual limits and its honouring of 429s.

Every target ends as a row — done with its rows, or failed with the reason in words
(quota, time-out, a missing ThreatHunting.Read.All, a query Microsoft rejects) — as soon
as its answer comes, so the page shows results while others still run. Nothing here
raises: a hunt always finishes.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from partner_portal.core.failures import describe_failure
from partner_portal.defender import GRAPH_HUNTING, InvalidRequest, RetryPolicy
from partner_portal.hunting.models import Hunt, HuntTarget, TargetStatus
from tenants import microsoft
from tenants.models import Customer, CustomerStatus

logger = logging.getLogger(__name__)

# A person is waiting: give up far sooner than a background sync would.
HUNT_RETRY = RetryPolicy(max_attempts=3, max_throttled=3, max_total_wait=30.0)
UNFINISHED = (TargetStatus.QUEUED, TargetStatus.RUNNING)
MISSING_ROLE = (
    f"This customer has not granted the portal {GRAPH_HUNTING}, which hunting needs; "
    "send its admin a new consent link."
)


def run_hunt(*, hunt_id: int) -> None:
    """Ask every queued target of the hunt; returns when all have finished."""
    # Running ones too: a task handed out again after its worker died finishes them.
    targets = list(
        HuntTarget.objects.filter(hunt_id=hunt_id, status__in=UNFINISHED).values_list(
            "pk", flat=True
        )
    )
    workers = max(1, min(settings.HUNT_CONCURRENCY, len(targets)))
    if workers == 1:  # one at a time, on this thread and its connection
        for target_id in targets:
            run_target(target_id=target_id)
    else:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hunt") as pool:
            list(pool.map(_run_target_in_thread, targets))
    Hunt.objects.filter(pk=hunt_id, finished_at__isnull=True).update(finished_at=timezone.now())


def _run_target_in_thread(target_id: int) -> None:
    try:
        run_target(target_id=target_id)
    finally:
        connection.close()  # each thread has its own connection


def _problem(customer: Customer) -> str:
    if customer.status == CustomerStatus.OFFBOARDED:
        return "This customer is offboarded; the portal no longer asks its tenant."
    if customer.status == CustomerStatus.CONSENT_REVOKED:
        return "This customer removed the portal's access; ask for a new consent."
    if GRAPH_HUNTING not in (customer.granted_roles or []):
        return MISSING_ROLE
    return ""


def run_target(*, target_id: int) -> None:
    """Ask one customer; the target ends done or failed, never raising."""
    updated = HuntTarget.objects.filter(pk=target_id, status__in=UNFINISHED).update(
        status=TargetStatus.RUNNING
    )
    if not updated:
        return  # finished meanwhile
    target = HuntTarget.objects.select_related("hunt", "customer").get(pk=target_id)
    problem = _problem(target.customer)
    if problem:
        _finish(target, TargetStatus.FAILED, error_code="missing_permission", error=problem)
        return
    try:
        client = microsoft.graph_client(target.customer)
        client.retry = HUNT_RETRY
        microsoft.hunting_limiter().acquire(f"hunting:{target.customer.tenant_id}")
        result = client.run_hunting_query(target.hunt.query, target.hunt.timespan)
    except InvalidRequest as exc:  # the query itself: Microsoft's words say what is wrong
        words = f"Microsoft rejected the query: {exc.message or exc.explanation}"
        _finish(target, TargetStatus.FAILED, error_code="InvalidRequest 400", error=words)
        return
    except Exception as exc:  # every failure becomes the target's row, in words
        failure = describe_failure(exc)
        logger.info(
            "Hunt %s at customer %s failed: %s", target.hunt_id, target.customer_id, failure.code
        )
        _finish(target, TargetStatus.FAILED, error_code=failure.code, error=failure.words)
        return
    rows = result.results
    _finish(
        target,
        TargetStatus.DONE,
        columns=[column.name for column in result.schema],
        rows=rows[: settings.HUNT_MAX_ROWS],
        row_count=len(rows),
    )


def _finish(target: HuntTarget, status: str, **values: object) -> None:
    """Close the target and give it the next number of its hunt, in one transaction:
    the hunt's row lock makes the numbers follow the order the targets commit in."""
    with transaction.atomic():
        Hunt.objects.filter(pk=target.hunt_id).update(finished_count=F("finished_count") + 1)
        seq = Hunt.objects.filter(pk=target.hunt_id).values_list("finished_count", flat=True)[0]
        closed = HuntTarget.objects.filter(pk=target.pk, finished_seq__isnull=True).update(
            status=status, finished_at=timezone.now(), finished_seq=seq, **values
        )
        if not closed:  # finished by a task handed out twice: keep the first answer
            transaction.set_rollback(True)
