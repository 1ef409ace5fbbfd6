"""The outbox: notifications recorded in the transaction that stored their alerts.

The sync announces each stored page (`alerts.sync.stored`); `record_stored` routes the
page's new and changed alerts through the policies and writes one `Notification` per
policy, channel, customer and group (the alert; its incident, when the policy groups by
incident; or all the customer's alerts, when it groups by customer). Nothing is sent
here: once the page commits, a task per notification is queued, and a beat task picks up
anything a lost task left behind.

Nothing is sent twice. A group's alerts are remembered on its rows, so an alert synced
again, or changed, joins no new notification. An alert new to a group joins the group's
notification while it still waits (group wait); once that was sent, it starts the next
round, sent no sooner than the policy's repeat interval after the last one. Each round
has its own dedup key, unique in the table, so two writers cannot make the same one.

Incidents new to the portal, or whose severity rose, are told of by the policies that
ask for it (`incident_events`). An alert that an unexpired suppression rule matches is
not routed: the rule records a hit instead (`suppression`), which says why nothing was
sent. The SLA's acknowledgements are written down here too (`sla.observe`), and the
open alerts whose SLA warnings are to be looked at (`sla_watch`).

Only alerts Microsoft changed within `NOTIFY_MAX_ALERT_AGE_HOURS` are routed: a new
customer's first sync brings weeks of history, which is for the console, not for a pager.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.stored import StoredChanges
from partner_portal.notifications import incident_events, sla, sla_watch, suppression
from partner_portal.notifications.evidence_values import NO_EVIDENCE, evidence_values
from partner_portal.notifications.matching import AlertFacts, Route, active_routes, matching_routes
from partner_portal.notifications.models import (
    CUSTOMER_GROUP_KEY,
    CustomerTag,
    GroupBy,
    Notification,
    NotificationStatus,
)

LISTENER = "notifications.outbox"


@dataclass
class _Group:
    route: Route
    channel_id: int
    group_key: str
    alert_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Round:
    """One notification a group has already: its round, alerts and when it was sent."""

    number: int
    alert_ids: frozenset[str]
    delivered_at: datetime | None


def dedup_key(
    *, policy_id: int, channel_id: int, customer_id: int, group_key: str, round: int
) -> str:
    return f"p{policy_id}:ch{channel_id}:c{customer_id}:{group_key}:{round}"


def record_stored(changes: StoredChanges) -> None:
    """The store listener: route the page's alerts and incidents and write their
    notifications."""
    alert_ids = (*changes.new_alert_ids, *changes.changed_alert_ids)
    incident_ids = (*changes.new_incident_ids, *changes.changed_incident_ids)
    if not alert_ids and not incident_ids:
        return
    if alert_ids:
        sla.observe(customer_id=changes.customer_id, alert_ids=alert_ids)
        sla_watch.watch_stored(customer_id=changes.customer_id, alert_ids=alert_ids)
    now = timezone.now()
    routes = active_routes()
    snoozes = suppression.active_snoozes(now=now)
    if not routes and not snoozes:
        return
    customer_id = changes.customer_id
    tag_ids = frozenset(
        CustomerTag.objects.filter(customers=customer_id).values_list("pk", flat=True)
    )
    recent = now - timedelta(hours=settings.NOTIFY_MAX_ALERT_AGE_HOURS)
    if alert_ids:
        _record_alerts(customer_id, tag_ids, alert_ids, routes, snoozes, now, recent)
    events = incident_events.incident_notifications(
        customer_id=customer_id, tag_ids=tag_ids, incident_ids=incident_ids,
        routes=routes, now=now, recent=recent, snoozes=snoozes,
    )  # fmt: skip
    store_new(events)


def _record_alerts(
    customer_id: int,
    tag_ids: frozenset[int],
    alert_ids: tuple[str, ...],
    routes: list[Route],
    snoozes: list[suppression.Snooze],
    now: datetime,
    recent: datetime,
) -> None:
    groups: dict[tuple[int, int, str], _Group] = {}
    caught: list[suppression.Caught] = []
    # Only recent alerts are routed and judged by rules, so a backfill's old alerts are not
    # read; but while a hide rule stands, an old alert Defender changed is read too, for
    # the hide rules alone (it must leave the queue). The evidence JSON is read only for
    # rules that need it.
    hiders = [snooze for snooze in snoozes if snooze.hides]
    evidence = any(snooze.needs_evidence for snooze in snoozes)
    columns = ["alert_id", "incident_id", "severity", "category", "mitre_techniques", "title",
               "service_source", "detection_source", "last_updated_at"]  # fmt: skip
    if evidence:
        columns += ["raw", "machine_id", "computer_dns_name", "related_user"]
    alerts = Alert.objects.filter(customer_id=customer_id, alert_id__in=alert_ids)
    if not hiders:
        alerts = alerts.filter(Q(last_updated_at__gte=recent) | Q(last_updated_at__isnull=True))
    for row in alerts.values(*columns):
        updated = row["last_updated_at"]
        old = updated is not None and updated < recent
        facts = AlertFacts(
            customer_id, tag_ids, row["severity"], row["category"],
            tuple(row["mitre_techniques"] or ()), row["title"], row["service_source"],
            row["detection_source"],
            evidence_values(
                row["raw"], machine_id=row["machine_id"],
                computer_dns_name=row["computer_dns_name"], related_user=row["related_user"],
            ) if evidence else NO_EVIDENCE,
        )  # fmt: skip
        alert_id, incident_id = row["alert_id"], row["incident_id"]
        quieted = suppression.caught_by(hiders if old else snoozes, facts)
        if quieted:
            caught.append(suppression.Caught(alert_id, row["title"], quieted))
            continue
        if old:
            continue
        for route in matching_routes(routes, facts):
            group_key = _group_key(route, alert_id, incident_id)
            for channel_id in route.channel_ids:
                group = groups.setdefault(
                    (route.policy_id, channel_id, group_key),
                    _Group(route, channel_id, group_key),
                )
                group.alert_ids.append(alert_id)
    if caught:
        suppression.record_hits(customer_id=customer_id, caught=caught, now=now)
    if groups:
        written = _write_groups(customer_id, list(groups.values()), now)
        _enqueue_on_commit(written)


def _group_key(route: Route, alert_id: str, incident_id: int | None) -> str:
    """The group an alert joins under a policy: itself, its incident (an alert without
    one goes alone), or its customer (whose rows carry the customer already)."""
    if route.group_by == GroupBy.CUSTOMER:
        return CUSTOMER_GROUP_KEY
    if route.group_by == GroupBy.INCIDENT and incident_id is not None:
        return f"incident:{incident_id}"
    return f"alert:{alert_id}"


def _write_groups(
    customer_id: int, groups: list[_Group], now: datetime
) -> list[tuple[int, datetime]]:
    """Write the groups' notifications; (id, not_before) of each row written or joined."""
    seen: defaultdict[tuple[int, int, str], list[_Round]] = defaultdict(list)
    rows = Notification.objects.filter(
        customer_id=customer_id, group_key__in={g.group_key for g in groups}, is_test=False
    ).values_list("policy_id", "channel_id", "group_key", "round", "alert_ids", "delivered_at")
    for policy_id, channel_id, group_key, round_, alert_ids, delivered_at in rows:
        seen[(policy_id, channel_id, group_key)].append(
            _Round(round_, frozenset(alert_ids), delivered_at)
        )
    first_rounds = []
    touched: list[tuple[int, datetime]] = []
    for group in groups:
        history = seen.get((group.route.policy_id, group.channel_id, group.group_key))
        if not history:
            first_rounds.append(_row(customer_id, group, group.alert_ids, 1, now, None))
            continue
        joined = _join_group(customer_id, group, history, now)
        if joined is not None:
            touched.append(joined)
    if first_rounds:
        Notification.objects.bulk_create(first_rounds, ignore_conflicts=True)
        touched.extend(
            Notification.objects.filter(
                dedup_key__in=[row.dedup_key for row in first_rounds],
                status=NotificationStatus.PENDING,
            ).values_list("pk", "not_before")
        )
    return touched


def _row(
    customer_id: int,
    group: _Group,
    alert_ids: list[str],
    round_: int,
    now: datetime,
    last_delivered: datetime | None,
) -> Notification:
    route = group.route
    not_before = now + timedelta(seconds=route.group_wait_seconds)
    if last_delivered is not None:
        not_before = max(
            not_before, last_delivered + timedelta(seconds=route.repeat_interval_seconds)
        )
    key = dedup_key(
        policy_id=route.policy_id,
        channel_id=group.channel_id,
        customer_id=customer_id,
        group_key=group.group_key,
        round=round_,
    )
    return Notification(
        dedup_key=key,
        channel_id=group.channel_id,
        policy_id=route.policy_id,
        customer_id=customer_id,
        group_key=group.group_key,
        round=round_,
        alert_ids=list(dict.fromkeys(alert_ids)),
        not_before=not_before,
        created_at=now,
    )


def _join_group(
    customer_id: int,
    group: _Group,
    history: list[_Round],
    now: datetime,
) -> tuple[int, datetime] | None:
    """Add the alerts new to a group that has notifications already: to its waiting
    round, or as the next round. Alerts the group has seen are left out."""
    known = frozenset().union(*(r.alert_ids for r in history))
    fresh = [alert_id for alert_id in dict.fromkeys(group.alert_ids) if alert_id not in known]
    if not fresh:
        return None
    last_round = max(r.number for r in history)
    waiting = (
        Notification.objects.select_for_update(skip_locked=True)
        .filter(
            policy_id=group.route.policy_id,
            channel_id=group.channel_id,
            customer_id=customer_id,
            group_key=group.group_key,
            round=last_round,
            status=NotificationStatus.PENDING,
        )
        .first()
    )
    if waiting is not None:
        waiting.alert_ids = [*waiting.alert_ids, *fresh]
        waiting.save(update_fields=["alert_ids"])
        return waiting.pk, waiting.not_before
    delivered = [r.delivered_at for r in history if r.delivered_at is not None]
    row = _row(customer_id, group, fresh, last_round + 1, now, max(delivered, default=None))
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        return None  # another writer made this round in the meantime
    return row.pk, row.not_before


def store_new(rows: list[Notification], *, made_at: datetime | None = None) -> int:
    """Write notifications made elsewhere (incident, campaign, SLA events) into the
    outbox, each dedup key once, and send the pending ones after commit; `made_at`
    counts only rows created at that moment (not one already there). Returns how many."""
    if not rows:
        return 0
    Notification.objects.bulk_create(rows, ignore_conflicts=True)
    pending = Notification.objects.filter(
        dedup_key__in=[row.dedup_key for row in rows], status=NotificationStatus.PENDING
    )
    if made_at is not None:
        pending = pending.filter(created_at=made_at)
    found = list(pending.values_list("pk", "not_before"))
    _enqueue_on_commit(found)
    return len(found)


def _enqueue_on_commit(rows: list[tuple[int, datetime]]) -> None:
    if not rows:
        return
    from partner_portal.notifications import tasks

    def enqueue() -> None:
        now = timezone.now()
        for pk, not_before in rows:
            tasks.deliver_notification.apply_async(
                (pk,), countdown=max(0.0, (not_before - now).total_seconds())
            )

    transaction.on_commit(enqueue)
