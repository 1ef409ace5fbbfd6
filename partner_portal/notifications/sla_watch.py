"""SLA warnings and breaches, told through the routing policies that ask for them.

Looking at every open alert each minute would cost more the more alerts there are, so
the sweep reads only a list of due checks (`SlaWatch`): one row per open alert stored
while goals existed, with the time its next warning or due time comes. The store
listener writes the row (due at once) when a sync stores an open alert and removes it
when one is stored resolved; a changed goal makes every row due again. Beat runs the
sweep, which takes the due rows through a partial index on `next_check_at`, at most
`LIMIT` at a time: for each alert it works out the timers as they stand, tells of each
stage crossed (a warning once the goal's warning share has passed, a breach once the
due time has), and sets the next check, or none when nothing is ahead.

Each event is routed like an incident change: through the policies that ask for SLA
events (`Policy.sla_events`), in order, by the same matchers as the alert. Its
notification's group is `sla:<stage>:<clock>:<alert ID>` and its dedup key is unique,
so each alert, clock and stage is told of once per policy and channel, however often
the sweep comes by. A clock that already stopped tells of nothing; a check that comes
after the due time tells of the breach alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.notifications import sla
from partner_portal.notifications.matching import active_routes, facts_of, matching_routes
from partner_portal.notifications.models import (
    CustomerTag,
    Notification,
    SlaGoal,
    SlaWatch,
)

GROUP_PREFIX = "sla:"
WARNING = "warning"
BREACH = "breach"
#: Due checks read per sweep; the rest wait for the next one.
LIMIT = 500


@dataclass(frozen=True)
class Crossing:
    alert: Alert
    clock: str
    stage: str


def group_key(*, stage: str, clock: str, alert_id: str) -> str:
    return f"{GROUP_PREFIX}{stage}:{clock}:{alert_id}"


def parse_group_key(key: str) -> tuple[str, str, str]:
    """(stage, clock, alert ID) of an SLA notification's group."""
    stage, clock, alert_id = key.removeprefix(GROUP_PREFIX).split(":", 2)
    return stage, clock, alert_id


# --- keeping the list of checks ------------------------------------------------------------------
def watch_stored(*, customer_id: int, alert_ids: Iterable[str]) -> None:
    """The store listener's part: open alerts are checked at once, resolved ones dropped."""
    ids = list(alert_ids)
    if not ids or not SlaGoal.objects.exists():
        return
    stored = dict(
        Alert.objects.filter(customer_id=customer_id, alert_id__in=ids).values_list(
            "alert_id", "status"
        )
    )
    resolved = [a for a, status in stored.items() if status.casefold() == sla.RESOLVED]
    still_open = [a for a, status in stored.items() if status.casefold() != sla.RESOLVED]
    if resolved:
        SlaWatch.objects.filter(customer_id=customer_id, alert_id__in=resolved).delete()
    if still_open:
        now = timezone.now()
        SlaWatch.objects.bulk_create(
            [SlaWatch(customer_id=customer_id, alert_id=a, next_check_at=now) for a in still_open],
            ignore_conflicts=True,
        )
        SlaWatch.objects.filter(customer_id=customer_id, alert_id__in=still_open).update(
            next_check_at=now
        )


def look_again(*, customer_id: int | None = None) -> int:
    """Make every watched alert (of one customer, or of all) due now: after a goal or
    a customer's time zone changed."""
    watches = SlaWatch.objects.all()
    if customer_id is not None:
        watches = watches.filter(customer_id=customer_id)
    return watches.update(next_check_at=timezone.now())


def watch_open_alerts(*, severity: str, chunk: int = 2000) -> int:
    """Watch every open alert of `severity` not watched yet (after a goal for it was
    set: alerts stored before any goal existed have no check). Run by a task, since it
    reads all open alerts of the severity once; the number of checks added."""
    now = timezone.now()
    added = 0
    batch: list[SlaWatch] = []
    watched = SlaWatch.objects.filter(
        customer_id=OuterRef("customer_id"), alert_id=OuterRef("alert_id")
    )
    open_alerts = (
        Alert.objects.filter(severity=severity)
        .exclude(status__iexact=sla.RESOLVED)
        .exclude(Exists(watched))
        .values_list("customer_id", "alert_id")
        .order_by()
    )
    for customer_id, alert_id in open_alerts.iterator(chunk_size=chunk):
        batch.append(SlaWatch(customer_id=customer_id, alert_id=alert_id, next_check_at=now))
        if len(batch) >= chunk:
            added += len(SlaWatch.objects.bulk_create(batch, ignore_conflicts=True))
            batch = []
    if batch:
        added += len(SlaWatch.objects.bulk_create(batch, ignore_conflicts=True))
    return added


# --- the sweep -----------------------------------------------------------------------------------
def _crossings(
    timers: list[sla.Timer], now: datetime
) -> tuple[list[tuple[str, str]], datetime | None]:
    """The (clock, stage) crossed by running timers, and the next crossing ahead."""
    crossed: list[tuple[str, str]] = []
    ahead: list[datetime] = []
    for timer in timers:
        if timer.done_at is not None:
            continue
        if timer.due_at <= now:
            crossed.append((timer.kind, BREACH))
            continue
        ahead.append(timer.due_at)
        if timer.warn_at is not None:
            if timer.warn_at <= now:
                crossed.append((timer.kind, WARNING))
            else:
                ahead.append(timer.warn_at)
    return crossed, min(ahead, default=None)


@transaction.atomic
def sweep(*, limit: int = LIMIT) -> int:
    """Check the due watched alerts; the number of notifications written."""
    now = timezone.now()
    rows = list(
        SlaWatch.objects.select_for_update(skip_locked=True)
        .filter(next_check_at__lte=now)
        .order_by("next_check_at")[:limit]
    )
    if not rows:
        return 0
    condition = Q(pk__in=[])
    by_customer: defaultdict[int, list[str]] = defaultdict(list)
    for row in rows:
        by_customer[row.customer_id].append(row.alert_id)
    for customer_id, alert_ids in by_customer.items():
        condition |= Q(customer_id=customer_id, alert_id__in=alert_ids)
    alerts = {(a.customer_id, a.alert_id): a for a in Alert.objects.filter(condition).defer("raw")}
    goals = sla.goals_for(by_customer)
    recorded = sla.recorded_acknowledgements(alerts.values())
    crossings: list[Crossing] = []
    gone: list[int] = []
    for row in rows:
        alert = alerts.get((row.customer_id, row.alert_id))
        if alert is None or alert.status.casefold() == sla.RESOLVED:
            gone.append(row.pk)
            continue
        goal = goals.get(alert.customer_id, {}).get(alert.severity)
        timers = sla.timers(alert, goal, recorded.get((alert.customer_id, alert.alert_id)))
        crossed, row.next_check_at = _crossings(timers, now)
        crossings += [Crossing(alert, clock, stage) for clock, stage in crossed]
    SlaWatch.objects.filter(pk__in=gone).delete()
    SlaWatch.objects.bulk_update([r for r in rows if r.pk not in gone], ["next_check_at"])
    return _notify(crossings, now)


def _notify(crossings: list[Crossing], now: datetime) -> int:
    routes = [route for route in active_routes() if route.sla_events]
    if not crossings or not routes:
        return 0
    tags: defaultdict[int, set[int]] = defaultdict(set)
    for customer_id, tag_id in CustomerTag.customers.through.objects.filter(
        customer_id__in={c.alert.customer_id for c in crossings}
    ).values_list("customer_id", "customertag_id"):
        tags[customer_id].add(tag_id)
    made = []
    for crossing in crossings:
        alert = crossing.alert
        facts = facts_of(alert, frozenset(tags[alert.customer_id]))
        key = group_key(stage=crossing.stage, clock=crossing.clock, alert_id=alert.alert_id)
        for route in matching_routes(routes, facts):
            made += [
                Notification(
                    dedup_key=f"p{route.policy_id}:ch{channel_id}:c{alert.customer_id}:{key}:1",
                    channel_id=channel_id,
                    policy_id=route.policy_id,
                    customer_id=alert.customer_id,
                    group_key=key,
                    alert_ids=[alert.alert_id],
                    not_before=now,
                    created_at=now,
                )
                for channel_id in route.channel_ids
            ]
    # The outbox imports this module; asked here, when a sweep runs.
    from partner_portal.notifications.outbox import store_new

    return store_new(made, made_at=now)
