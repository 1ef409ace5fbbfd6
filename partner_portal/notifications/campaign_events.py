"""Campaigns worth a message: an indicator seen at two or more of a policy's customers
within a week, and each further customer it reaches.

The indicator index (correlation) announces every page it indexed that added sightings
(`correlation.indexed`); `record_indexed` runs in that transaction. For the indicators
those alerts carry (observables only: a MITRE technique as one detector reports it is
a detection's pattern, not an attacker's trace) it reads their sightings of the last
`WINDOW_DAYS` days and, for each policy that asks for campaigns (`Policy.campaign_events`),
keeps only the sightings whose alert the policy's matchers take — its customers and
tags, and its alert conditions. Indicators that occur in the same alerts form one
cluster, addressed by its lowest indicator ID. A cluster whose indicators are seen at two
or more of the policy's customers makes a notification; the count of those customers is
its round, so a policy hears of a campaign once, and again each time it reaches another
customer (dedup key: policy, channel, cluster, count). The first policy that takes a
sighting decides, as for alerts, unless it says to continue. Indexing transactions take
turns here (an advisory lock held to their commit), so two customers' pages indexed at
the same moment cannot each miss the other's sightings.

The message (`campaign_message`) names the cluster's indicators and the customers, read
again when it is sent and cut to those the policy covers then: a policy for customers
tagged Gold never names another customer, nor counts it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Max
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.correlation.indexed import IndexedAlerts
from partner_portal.correlation.models import Indicator, IndicatorKind, Sighting
from partner_portal.notifications.matching import (
    AlertFacts,
    Route,
    active_routes,
    facts_of,
    matching_routes,
)
from partner_portal.notifications.models import CustomerTag, Notification
from partner_portal.notifications.outbox import store_new

LISTENER = "notifications.campaigns"
GROUP_PREFIX = "campaign:"
WINDOW_DAYS = 7
#: The most recent sightings of the page's indicators read (a bound on the work).
MAX_SIGHTINGS = 5000
#: `Message.event` of a campaign's first message, and of the next ones.
DETECTED = "campaign_detected"
GREW = "campaign_grew"

#: The advisory lock the indexing transactions take turns on ("campaign" in ASCII).
ADVISORY_LOCK = 0x63616D706169676E
Row = tuple[int, int, int]  # indicator, alert, customer


def group_key(key: int) -> str:
    return f"{GROUP_PREFIX}{key}"


def record_indexed(indexed: IndexedAlerts) -> None:
    """The index listener: write the campaign notifications these sightings call for."""
    routes = [route for route in active_routes() if route.campaign_events and route.channel_ids]
    if not routes:
        return
    if connection.vendor == "postgresql":
        # Pages of two customers indexed side by side would each miss the other's
        # uncommitted sightings, and the campaign they make together would go untold:
        # the pages take turns here, the later one reading the earlier one's commit.
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [ADVISORY_LOCK])
    now = timezone.now()
    touched = set(
        Sighting.objects.filter(alert_id__in=indexed.alert_pks)
        .exclude(indicator__kind=IndicatorKind.TECHNIQUE)
        .values_list("indicator_id", flat=True)
    )
    if not touched:
        return
    rows = _window_rows(touched, now)
    facts = _facts(rows)
    made = []
    for route, taken in _taken_by_route(routes, rows, facts).items():
        for key, customers, alert_pks in _clusters(taken):
            made += _notifications(route, key, customers, alert_pks, now)
    store_new(made)


def _window_rows(indicator_ids: set[int], now: datetime) -> list[Row]:
    since = now - timedelta(days=WINDOW_DAYS)
    return list(
        Sighting.objects.filter(indicator_id__in=indicator_ids, seen_at__gte=since)
        .order_by("-seen_at")
        .values_list("indicator_id", "alert_id", "customer_id")[:MAX_SIGHTINGS]
    )


def _facts(rows: list[Row]) -> dict[int, AlertFacts]:
    """What routing looks at, for each alert of the rows (with its customer's tags)."""
    customers = {customer_id for _, _, customer_id in rows}
    tags: defaultdict[int, set[int]] = defaultdict(set)
    for tag_id, customer_id in CustomerTag.customers.through.objects.filter(
        customer_id__in=customers
    ).values_list("customertag_id", "customer_id"):
        tags[customer_id].add(tag_id)
    alerts = Alert.objects.filter(pk__in={alert_pk for _, alert_pk, _ in rows}).only(
        "customer_id", "severity", "category", "mitre_techniques", "title",
        "service_source", "detection_source",
    )  # fmt: skip
    return {alert.pk: facts_of(alert, frozenset(tags[alert.customer_id])) for alert in alerts}


def _taken_by_route(
    routes: list[Route], rows: list[Row], facts: dict[int, AlertFacts]
) -> dict[Route, list[Row]]:
    """Each policy's sightings: those whose alert it takes (first match, or continue)."""
    taken: dict[Route, list[Row]] = defaultdict(list)
    for row in rows:
        alert_facts = facts.get(row[1])
        if alert_facts is None:
            continue
        for route in matching_routes(routes, alert_facts):
            taken[route].append(row)
    return taken


def _clusters(rows: list[Row]) -> list[tuple[int, frozenset[int], tuple[int, ...]]]:
    """(key, customers, alerts) of each cluster seen at two or more customers."""
    parent: dict[int, int] = {}

    def root(node: int) -> int:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    by_alert: defaultdict[int, list[int]] = defaultdict(list)
    customers_of: defaultdict[int, set[int]] = defaultdict(set)
    for indicator_id, alert_pk, customer_id in rows:
        by_alert[alert_pk].append(indicator_id)
        customers_of[indicator_id].add(customer_id)
    shared = {i for i, customers in customers_of.items() if len(customers) >= 2}
    for carried in by_alert.values():
        joined = [i for i in carried if i in shared]
        for other in joined[1:]:
            parent[root(other)] = root(joined[0])
    group_of = {indicator_id: root(indicator_id) for indicator_id in shared}
    members: defaultdict[int, set[int]] = defaultdict(set)
    customers: defaultdict[int, set[int]] = defaultdict(set)
    alerts: defaultdict[int, set[int]] = defaultdict(set)
    for indicator_id, alert_pk, customer_id in rows:
        group = group_of.get(indicator_id)
        if group is not None:
            members[group].add(indicator_id)
            customers[group].add(customer_id)
            alerts[group].add(alert_pk)
    return [
        (min(members[group]), frozenset(customers[group]), tuple(sorted(alerts[group])))
        for group in members
    ]


def _notifications(
    route: Route, key: int, customers: frozenset[int], alert_pks: tuple[int, ...], now: datetime
) -> list[Notification]:
    """One notification per channel of `route` that has not yet been told of this
    cluster at this many customers (or more)."""
    told = dict(
        Notification.objects.filter(
            policy_id=route.policy_id, group_key=group_key(key), is_test=False
        )
        .values("channel_id")
        .annotate(highest=Max("round"))
        .values_list("channel_id", "highest")
    )
    step = len(customers)
    return [
        Notification(
            dedup_key=f"p{route.policy_id}:ch{channel_id}:{group_key(key)}:{step}",
            channel_id=channel_id,
            policy_id=route.policy_id,
            customer=None,
            group_key=group_key(key),
            round=step,
            alert_ids=list(alert_pks),
            not_before=now + timedelta(seconds=route.group_wait_seconds),
            created_at=now,
        )
        for channel_id in route.channel_ids
        if told.get(channel_id, 0) < step
    ]


def campaign_contents(
    notification: Notification, route: Route | None
) -> tuple[list[Indicator], list[Alert], str]:
    """What a campaign message tells, read now: the cluster's indicators, its alerts at
    the customers `route` covers (none without a policy), the event."""
    alerts = list(
        Alert.objects.filter(pk__in=notification.alert_ids)
        .select_related("customer")
        .order_by("-severity_rank", "-created_at")
    )
    if route is None:
        alerts = []
    else:
        tags: defaultdict[int, set[int]] = defaultdict(set)
        for tag_id, customer_id in CustomerTag.customers.through.objects.filter(
            customer_id__in={a.customer_id for a in alerts}
        ).values_list("customertag_id", "customer_id"):
            tags[customer_id].add(tag_id)
        alerts = [a for a in alerts if route.matches(facts_of(a, frozenset(tags[a.customer_id])))]
    seen: defaultdict[int, set[int]] = defaultdict(set)
    for indicator_id, customer_id in (
        Sighting.objects.filter(alert_id__in=[a.pk for a in alerts])
        .exclude(indicator__kind=IndicatorKind.TECHNIQUE)
        .values_list("indicator_id", "customer_id")
    ):
        seen[indicator_id].add(customer_id)
    shared = [i for i, customers in seen.items() if len(customers) >= 2]
    indicators = sorted(Indicator.objects.filter(pk__in=shared), key=lambda i: (i.kind, i.value))
    earlier = Notification.objects.filter(
        policy=notification.policy,
        channel_id=notification.channel_id,
        group_key=notification.group_key,
        round__lt=notification.round,
    ).exists()
    return indicators, alerts, GREW if earlier else DETECTED


def campaign_path(notification: Notification) -> str:
    key = int(notification.group_key.removeprefix(GROUP_PREFIX))
    return reverse("correlation:campaign", args=[key]) + f"?days={WINDOW_DAYS}"
