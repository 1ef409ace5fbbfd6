"""The SLA page's reads and the goals' changes: per customer the reader may see, its open
alerts with the time left or how long ago they breached (most urgent first), and how
many of its alerts of the last 30 days breached a goal. Goals are set by portal admins,
each change audited."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.visibility import visible_alerts
from partner_portal.notifications import sla, sla_watch
from partner_portal.notifications.models import CustomerTag, SlaGoal
from tenants import scoping
from tenants.audit import audit_record
from tenants.models import Customer

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

BREACH_DAYS = 30
OPEN_SHOWN = 25
#: Alerts read at most for each part of the page; the page says when there were more.
SCAN = 20000
#: What the timers and the page read of an alert (not its raw JSON).
TIMER_FIELDS = (
    "customer_id", "alert_id", "title", "severity", "status", "assigned_to", "created_at",
    "last_updated_at", "resolved_at", "synced_at",
)  # fmt: skip


@dataclass
class OpenAlert:
    alert: Alert
    timers: list[sla.Timer]

    @property
    def next_due(self) -> sla.Timer:
        return min(self.timers, key=lambda t: t.due_at)


@dataclass
class CustomerSla:
    customer: Customer
    goals: dict[str, sla.Goal]
    open: list[OpenAlert] = field(default_factory=list)
    open_count: int = 0
    open_breached: int = 0
    breached_30d: int = 0
    alerts_30d: int = 0


@dataclass(frozen=True)
class Overview:
    customers: list[CustomerSla]
    now: datetime
    truncated: bool


def sla_overview(*, user: User | AnonymousUser) -> Overview:
    now = timezone.now()
    customers = list(scoping.visible_customers(user=user).order_by("display_name"))
    goals = sla.goals_for(c.pk for c in customers)
    rows = {c.pk: CustomerSla(c, goals.get(c.pk, {})) for c in customers}
    alerts = (
        visible_alerts(user=user)
        .filter(customer_id__in=[c.pk for c in customers if goals[c.pk]])
        .only(*TIMER_FIELDS)
    )
    still_open = list(
        alerts.exclude(status__iexact=sla.RESOLVED).order_by("created_at", "pk")[: SCAN + 1]
    )
    since = now - timedelta(days=BREACH_DAYS)
    recent = list(alerts.filter(created_at__gte=since).order_by("-created_at", "-pk")[: SCAN + 1])
    truncated = len(still_open) > SCAN or len(recent) > SCAN
    recorded = sla.recorded_acknowledgements([*still_open[:SCAN], *recent[:SCAN]])
    for alert in still_open[:SCAN]:
        row = rows[alert.customer_id]
        running = [
            t
            for t in sla.timers(alert, row.goals.get(alert.severity), recorded.get(_key(alert)))
            if t.done_at is None
        ]
        if running:
            row.open_count += 1
            row.open_breached += any(t.breached(now) for t in running)
            row.open.append(OpenAlert(alert, running))
    for alert in recent[:SCAN]:
        row = rows[alert.customer_id]
        clocks = sla.timers(alert, row.goals.get(alert.severity), recorded.get(_key(alert)))
        if clocks:
            row.alerts_30d += 1
            row.breached_30d += any(t.breached(now) for t in clocks)
    for row in rows.values():
        row.open.sort(key=lambda item: item.next_due.due_at)
        row.open = row.open[:OPEN_SHOWN]
    return Overview(list(rows.values()), now, truncated)


def _watch_open(severity: str) -> None:
    from partner_portal.notifications import tasks

    tasks.sla_watch_open.delay(severity)


def _key(alert: Alert) -> tuple[int, str]:
    return (alert.customer_id, alert.alert_id)


def goal_list() -> list[SlaGoal]:
    return list(SlaGoal.objects.select_related("tag").order_by("tag__name", "severity"))


@transaction.atomic
def sla_goal_save(
    *,
    tag: CustomerTag | None,
    severity: str,
    acknowledge_minutes: int | None,
    resolve_minutes: int | None,
    business_days: list[int] | None = None,
    start_hour: int = 9,
    end_hour: int = 17,
    holidays: list[str] | None = None,
    warn_percent: int | None = None,
    actor: User,
) -> SlaGoal:
    """Set the goal of one tag (None: all customers) and severity, replacing any. Open
    alerts' warnings are looked at again under the new goal."""
    goal = SlaGoal.objects.filter(tag=tag, severity=severity).first() or SlaGoal(
        tag=tag, severity=severity
    )
    goal.acknowledge_minutes = acknowledge_minutes
    goal.resolve_minutes = resolve_minutes
    goal.business_days = sorted(set(business_days or []))
    goal.start_hour, goal.end_hour = start_hour, end_hour
    goal.holidays = list(holidays or []) if goal.business_days else []
    goal.warn_fraction = warn_percent / 100 if warn_percent else None
    goal.changed_at = timezone.now()
    goal.save()
    sla_watch.look_again()
    transaction.on_commit(lambda: _watch_open(severity))
    audit_record(
        action="notifications.sla_goal_set",
        customer=None,
        actor=actor,
        summary=f"SLA for {tag.name if tag else 'all customers'}, {severity}: acknowledge "
        f"within {acknowledge_minutes or '-'} min, resolve within {resolve_minutes or '-'} min",
        details={
            "goal_id": goal.pk,
            "tag": tag.name if tag else None,
            "severity": severity,
            "acknowledge_minutes": acknowledge_minutes,
            "resolve_minutes": resolve_minutes,
            "calendar": sla.calendar_of(goal).describe(),
            "warn_percent": warn_percent,
        },
    )
    return goal


@transaction.atomic
def sla_goal_delete(*, goal: SlaGoal, actor: User) -> None:
    audit_record(
        action="notifications.sla_goal_removed",
        customer=None,
        actor=actor,
        summary=f"Removed the SLA for {goal.tag or 'all customers'}, {goal.severity}",
        details={"goal_id": goal.pk},
    )
    goal.delete()
