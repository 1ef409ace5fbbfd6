"""SLA timers: how long an alert may wait to be acknowledged and to be resolved.

Goals are set per severity for customers carrying a tag, or for all customers
(`SlaGoal`); a customer is held to the strictest goal any of its tags sets, else to the
one for all customers. Both clocks start when Defender created the alert.

- Time to acknowledge ends when the alert was first assigned or left New. Defender keeps
  no history of that, so the store listener (`observe`) writes down, the first time a
  stored version shows it, Defender's last update time of that version
  (`AlertAcknowledgement`). An alert already acknowledged before the portal kept these
  falls back on its last update time.
- Time to resolve ends at Defender's resolved time (else the last update of the resolved
  alert).

Alerts have no status that waits on the customer, so the clocks never pause.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q

from partner_portal.alerts.models import Alert
from partner_portal.notifications.models import AlertAcknowledgement, CustomerTag, SlaGoal

NEW = "new"
RESOLVED = "resolved"


@dataclass(frozen=True)
class Goal:
    acknowledge: timedelta | None
    resolve: timedelta | None


@dataclass(frozen=True)
class Timer:
    """One clock of one alert: due at `due_at`; `done_at` once it stopped."""

    kind: str  # "acknowledge" or "resolve"
    due_at: datetime
    done_at: datetime | None

    def breached(self, now: datetime) -> bool:
        return (self.done_at or now) > self.due_at

    def seconds_left(self, now: datetime) -> float:
        """Before the due time (negative: how long ago it was breached)."""
        return (self.due_at - now).total_seconds()


# --- recording acknowledgements ------------------------------------------------------------------
def observe(*, customer_id: int, alert_ids: Iterable[str]) -> None:
    """Write down when stored alerts were first seen acknowledged (inside the storing
    transaction; called by the outbox's listener)."""
    acknowledged = (
        Alert.objects.filter(customer_id=customer_id, alert_id__in=list(alert_ids))
        .filter(~Q(status__iexact=NEW) | ~Q(assigned_to=""))
        .exclude(
            alert_id__in=AlertAcknowledgement.objects.filter(customer_id=customer_id).values(
                "alert_id"
            )
        )
        .values_list("alert_id", "last_updated_at", "synced_at")
    )
    rows = [
        AlertAcknowledgement(
            customer_id=customer_id, alert_id=alert_id, acknowledged_at=updated or synced
        )
        for alert_id, updated, synced in acknowledged
    ]
    if rows:
        AlertAcknowledgement.objects.bulk_create(rows, ignore_conflicts=True)


# --- goals and timers ----------------------------------------------------------------------------
def _minutes(value: int | None) -> timedelta | None:
    return timedelta(minutes=value) if value else None


def _stricter(a: timedelta | None, b: timedelta | None) -> timedelta | None:
    return min(x for x in (a, b) if x is not None) if a or b else None


def goals_for(customer_ids: Iterable[int]) -> dict[int, dict[str, Goal]]:
    """Each customer's goal per severity (severities without a goal are left out)."""
    ids = list(customer_ids)
    goals = list(SlaGoal.objects.select_related("tag"))
    default = {g.severity: g for g in goals if g.tag_id is None}
    tags: defaultdict[int, set[int]] = defaultdict(set)
    for customer_id, tag_id in CustomerTag.customers.through.objects.filter(
        customer_id__in=ids
    ).values_list("customer_id", "customertag_id"):
        tags[customer_id].add(tag_id)
    result: dict[int, dict[str, Goal]] = {}
    for customer_id in ids:
        mine: dict[str, Goal] = {}
        tagged = [g for g in goals if g.tag_id is not None and g.tag_id in tags[customer_id]]
        for severity in {g.severity for g in tagged} | set(default):
            chosen = [g for g in tagged if g.severity == severity] or [default[severity]]
            ack: timedelta | None = None
            res: timedelta | None = None
            for goal in chosen:
                ack = _stricter(ack, _minutes(goal.acknowledge_minutes))
                res = _stricter(res, _minutes(goal.resolve_minutes))
            mine[severity] = Goal(ack, res)
        result[customer_id] = mine
    return result


def acknowledged_at(alert: Alert, recorded: datetime | None) -> datetime | None:
    if recorded is not None:
        return recorded
    if alert.status.casefold() != NEW or alert.assigned_to:
        return alert.last_updated_at or alert.synced_at
    return None


def resolved_at(alert: Alert) -> datetime | None:
    if alert.status.casefold() != RESOLVED:
        return None
    return alert.resolved_at or alert.last_updated_at or alert.synced_at


def timers(alert: Alert, goal: Goal | None, recorded_ack: datetime | None) -> list[Timer]:
    """The alert's clocks under `goal` (none without a goal or a creation time)."""
    if goal is None or alert.created_at is None:
        return []
    made = []
    if goal.acknowledge is not None:
        made.append(
            Timer(
                "acknowledge",
                alert.created_at + goal.acknowledge,
                acknowledged_at(alert, recorded_ack),
            )
        )
    if goal.resolve is not None:
        made.append(Timer("resolve", alert.created_at + goal.resolve, resolved_at(alert)))
    return made


def recorded_acknowledgements(alerts: Iterable[Alert]) -> dict[tuple[int, str], datetime]:
    """The recorded acknowledgement times of these alerts, by (customer, alert ID)."""
    by_customer: defaultdict[int, list[str]] = defaultdict(list)
    for alert in alerts:
        by_customer[alert.customer_id].append(alert.alert_id)
    condition = Q(pk__in=[])
    for customer_id, alert_ids in by_customer.items():
        condition |= Q(customer_id=customer_id, alert_id__in=alert_ids)
    rows = AlertAcknowledgement.objects.filter(condition).values_list(
        "customer_id", "alert_id", "acknowledged_at"
    )
    return {(customer_id, alert_id): at for customer_id, alert_id, at in rows}


def alert_timers(alert: Alert) -> list[Timer]:
    """The clocks of one alert, as its page shows them."""
    goal = goals_for([alert.customer_id])[alert.customer_id].get(alert.severity)
    recorded = recorded_acknowledgements([alert]).get((alert.customer_id, alert.alert_id))
    return timers(alert, goal, recorded)
