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

Alerts have no status that waits on the customer, so the clocks never pause; but a
goal may count business hours only (`business_time`), in the customer's time zone, in
which case an alert due in 8 hours on Friday at 16:00 is due on Monday. A goal may also
ask for a warning once a share of its time has passed (`warn_fraction`): the timer's
`warn_at`, which the warning sweep (`sla_warnings`) acts on.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import Q

from partner_portal.alerts.models import Alert
from partner_portal.notifications import business_time
from partner_portal.notifications.business_time import ALWAYS, Calendar
from partner_portal.notifications.models import AlertAcknowledgement, CustomerTag, SlaGoal
from tenants.models import Customer

NEW = "new"
RESOLVED = "resolved"


UTC_ZONE = ZoneInfo("UTC")
ACKNOWLEDGE = "acknowledge"
RESOLVE = "resolve"


@dataclass(frozen=True)
class Goal:
    """One customer's goal for one severity: each clock's time, the calendar it counts
    in (that of the goal that set the time) and its warning share."""

    acknowledge: timedelta | None
    resolve: timedelta | None
    acknowledge_calendar: Calendar = ALWAYS
    resolve_calendar: Calendar = ALWAYS
    acknowledge_warn: float | None = None
    resolve_warn: float | None = None
    zone: ZoneInfo = UTC_ZONE


@dataclass(frozen=True)
class Timer:
    """One clock of one alert: due at `due_at`; `done_at` once it stopped; a warning
    due at `warn_at` when the goal asks for one."""

    kind: str  # "acknowledge" or "resolve"
    due_at: datetime
    done_at: datetime | None
    warn_at: datetime | None = None

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


def calendar_of(goal: SlaGoal) -> Calendar:
    """The calendar a stored goal counts in (holidays that do not read as dates are
    left out; the form lets none in)."""
    if not goal.business_days:
        return ALWAYS
    holidays = set()
    for text in goal.holidays or ():
        try:
            holidays.add(date.fromisoformat(str(text)))
        except ValueError:
            continue
    return Calendar(
        weekdays=frozenset(int(d) for d in goal.business_days),
        start_hour=goal.start_hour,
        end_hour=goal.end_hour,
        holidays=frozenset(holidays),
    )


def _strictest(chosen: list[SlaGoal], field: str) -> SlaGoal | None:
    """Of several goals, the one with the shortest time on `field` (None: none sets it)."""
    setting = [g for g in chosen if getattr(g, field)]
    return min(setting, key=lambda g: (getattr(g, field), g.pk)) if setting else None


def _goal(chosen: list[SlaGoal], zone: ZoneInfo) -> Goal:
    ack = _strictest(chosen, "acknowledge_minutes")
    res = _strictest(chosen, "resolve_minutes")
    return Goal(
        acknowledge=_minutes(ack.acknowledge_minutes) if ack else None,
        resolve=_minutes(res.resolve_minutes) if res else None,
        acknowledge_calendar=calendar_of(ack) if ack else ALWAYS,
        resolve_calendar=calendar_of(res) if res else ALWAYS,
        acknowledge_warn=ack.warn_fraction if ack else None,
        resolve_warn=res.warn_fraction if res else None,
        zone=zone,
    )


def zone_named(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ValueError, KeyError):  # a zone this machine's tzdata no longer knows
        return UTC_ZONE


def goals_for(customer_ids: Iterable[int]) -> dict[int, dict[str, Goal]]:
    """Each customer's goal per severity (severities without a goal are left out)."""
    ids = list(customer_ids)
    goals = list(SlaGoal.objects.select_related("tag"))
    if not goals:
        return {customer_id: {} for customer_id in ids}
    zones = dict(Customer.objects.filter(pk__in=ids).values_list("pk", "time_zone"))
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
            mine[severity] = _goal(chosen, zone_named(zones.get(customer_id, "UTC")))
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
            _timer(
                ACKNOWLEDGE,
                alert.created_at,
                goal.acknowledge,
                goal.acknowledge_calendar,
                goal.acknowledge_warn,
                goal.zone,
                acknowledged_at(alert, recorded_ack),
            )
        )
    if goal.resolve is not None:
        made.append(
            _timer(
                RESOLVE,
                alert.created_at,
                goal.resolve,
                goal.resolve_calendar,
                goal.resolve_warn,
                goal.zone,
                resolved_at(alert),
            )
        )
    return made


def _timer(
    kind: str,
    start: datetime,
    limit: timedelta,
    calendar: Calendar,
    warn: float | None,
    zone: ZoneInfo,
    done_at: datetime | None,
) -> Timer:
    due = business_time.add(start, limit, calendar=calendar, zone=zone)
    warn_at = None
    if warn is not None and 0 < warn < 1:
        warn_at = business_time.add(start, limit * warn, calendar=calendar, zone=zone)
    return Timer(kind, due, done_at, warn_at)


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
