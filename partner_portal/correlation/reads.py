"""What the index tells a person, counted only over the customers they may see.

Every read starts from the sightings of the customers in the person's scope
(`tenants.scoping.restrict`): an analyst learns nothing about other customers — not a
count, not a cluster, not that they exist. A sighting outside the scope is simply never
read.

- `alert_indicators_seen`: for each indicator of an alert, at how many *other* of the
  person's customers it was seen in the last 30 days.
- `campaigns`: indicators seen at two or more of the person's customers within a window,
  clustered: indicators that occur in the same alerts form one cluster. MITRE technique ·
  detector pairs are patterns of a detection rather than things an attacker carries, so
  each forms a cluster of its own and never joins observables into one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import Count, Q, QuerySet
from django.utils import timezone

from partner_portal.alerts.models import Alert, Incident
from partner_portal.alerts.reads.alert_list import OPEN_STATUSES
from partner_portal.correlation.models import Indicator, IndicatorKind, Sighting
from tenants.models import Customer
from tenants.scoping import restrict

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

ALSO_SEEN_DAYS = 30
#: The windows campaigns are read in: (days, label).
WINDOWS = [(1, "Last 24 hours"), (7, "Last 7 days"), (30, "Last 30 days")]
#: The most recent shared indicators a campaigns page clusters (a bound on its work).
MAX_SHARED = 2000


def _visible_sightings(user: User | AnonymousUser) -> QuerySet[Sighting]:
    return restrict(Sighting.objects.all(), user)


@dataclass(frozen=True)
class IndicatorSeen:
    indicator: Indicator
    other_customers: int
    other_alerts: int


def alert_indicators_seen(
    *, user: User | AnonymousUser, alert: Alert, now: datetime | None = None
) -> list[IndicatorSeen]:
    """The alert's indicators, those seen at most other customers first."""
    return indicators_seen(user=user, alert_ids=[alert.pk], customer_id=alert.customer_id, now=now)


def incident_indicators_seen(
    *, user: User | AnonymousUser, incident: Incident, now: datetime | None = None
) -> list[IndicatorSeen]:
    """The indicators of the incident's alerts (Defender links them on either side)."""
    alert_ids = Alert.objects.filter(customer_id=incident.customer_id).filter(
        Q(incident_id=incident.incident_id) | Q(alert_id__in=list(incident.alert_ids))
    )
    return indicators_seen(
        user=user, alert_ids=list(alert_ids.values_list("pk", flat=True)),
        customer_id=incident.customer_id, now=now,
    )  # fmt: skip


def indicators_seen(
    *,
    user: User | AnonymousUser,
    alert_ids: list[int],
    customer_id: int,
    now: datetime | None = None,
) -> list[IndicatorSeen]:
    """The indicators of these alerts (of one customer), each with the number of *other*
    customers in `user`'s scope where it was seen in the last 30 days; most first."""
    since = (now or timezone.now()) - timedelta(days=ALSO_SEEN_DAYS)
    indicators = list(
        Indicator.objects.filter(sightings__alert_id__in=alert_ids)
        .order_by("kind", "value")
        .distinct()
    )
    counts = {
        row["indicator_id"]: row
        for row in _visible_sightings(user)
        .filter(indicator__in=indicators, seen_at__gte=since)
        .exclude(customer_id=customer_id)
        .values("indicator_id")
        .annotate(customers=Count("customer_id", distinct=True), alerts=Count("alert_id"))
    }
    seen = [
        IndicatorSeen(
            indicator,
            counts.get(indicator.pk, {}).get("customers", 0),
            counts.get(indicator.pk, {}).get("alerts", 0),
        )
        for indicator in indicators
    ]
    return sorted(seen, key=lambda s: -s.other_customers)


@dataclass
class Campaign:
    """Shared indicators that occur together, and the alerts and customers they tie."""

    indicators: list[Indicator] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)
    first_seen: datetime | None = None
    last_seen: datetime | None = None

    @property
    def key(self) -> int:
        """The campaign's address: its first indicator (the page re-clusters from it)."""
        return min(indicator.pk for indicator in self.indicators)

    @property
    def open_alerts(self) -> int:
        return sum(1 for alert in self.alerts if alert.status in OPEN_STATUSES)

    @property
    def detector_pattern(self) -> bool:
        return all(i.kind == IndicatorKind.TECHNIQUE for i in self.indicators)


def campaigns(
    *, user: User | AnonymousUser, days: int = 7, now: datetime | None = None
) -> list[Campaign]:
    """The person's campaigns of the last `days` days, the most recently seen first."""
    since = (now or timezone.now()) - timedelta(days=days)
    window = _visible_sightings(user).filter(seen_at__gte=since)
    shared = list(
        window.values("indicator_id")
        .annotate(customers=Count("customer_id", distinct=True))
        .filter(customers__gte=2)
        .order_by("-indicator_id")
        .values_list("indicator_id", flat=True)[:MAX_SHARED]
    )
    if not shared:
        return []
    rows = list(
        window.filter(indicator_id__in=shared).values_list(
            "indicator_id", "alert_id", "customer_id", "seen_at"
        )
    )
    indicators = Indicator.objects.in_bulk(shared)
    groups = _cluster(rows, indicators)
    alert_ids = {alert_id for _, alert_id, _, _ in rows}
    alerts = Alert.objects.in_bulk(alert_ids)
    customers = Customer.objects.in_bulk({customer_id for _, _, customer_id, _ in rows})
    group_of = {member: index for index, members in enumerate(groups) for member in members}
    rows_of: dict[int, list[tuple[int, int, int, datetime]]] = defaultdict(list)
    for row in rows:
        rows_of[group_of[row[0]]].append(row)
    found = []
    for index, members in enumerate(groups):
        mine = rows_of[index]
        found.append(
            Campaign(
                indicators=sorted(
                    (indicators[i] for i in members), key=lambda i: (i.kind, i.value)
                ),
                customers=sorted(
                    {customers[row[2]] for row in mine}, key=lambda c: (c.display_name, c.pk)
                ),
                alerts=sorted(
                    {alerts[row[1]] for row in mine},
                    key=lambda a: (a.created_at or a.synced_at, a.pk),
                ),
                first_seen=min(row[3] for row in mine),
                last_seen=max(row[3] for row in mine),
            )
        )
    return sorted(found, key=lambda c: (c.last_seen, c.key), reverse=True)


def _cluster(
    rows: list[tuple[int, int, int, datetime]], indicators: dict[int, Indicator]
) -> list[set[int]]:
    """Indicators joined when they occur in the same alert (technique pairs stay alone)."""
    parent = {indicator_id: indicator_id for indicator_id in indicators}

    def root(node: int) -> int:
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    by_alert: dict[int, list[int]] = defaultdict(list)
    for indicator_id, alert_id, _, _ in rows:
        if indicators[indicator_id].kind != IndicatorKind.TECHNIQUE:
            by_alert[alert_id].append(indicator_id)
    for members in by_alert.values():
        for other in members[1:]:
            parent[root(other)] = root(members[0])
    groups: dict[int, set[int]] = defaultdict(set)
    for indicator_id in indicators:
        groups[root(indicator_id)].add(indicator_id)
    return list(groups.values())


def campaign(
    *, user: User | AnonymousUser, key: int, days: int = 7, now: datetime | None = None
) -> Campaign | None:
    """The person's campaign that holds indicator `key`, or None (not shared in scope)."""
    for found in campaigns(user=user, days=days, now=now):
        if any(indicator.pk == key for indicator in found.indicators):
            return found
    return None
