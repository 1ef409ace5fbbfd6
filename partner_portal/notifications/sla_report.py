"""The monthly SLA report: per customer the reader may see, how the alerts Defender
created in a month (UTC) fared against their goals.

For each clock (acknowledge, resolve) an alert with a goal for it counts once: in time
(the clock stopped by its due time), breached (stopped late, or still running past it),
or still running (not yet due). The share in time is of the alerts decided either way.

The due times depend on each goal's calendar and the customer's time zone, which SQL
cannot count (business hours, holidays, clock changes), so the figures are worked out
here; but SQL narrows the read to the month's alerts of the customers in scope with a
severity that has a goal, reads only the fields the timers need, and brings each
alert's recorded acknowledgement along in the same query (one query, streamed).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from django.db.models import OuterRef, Q, Subquery
from django.utils import timezone

from partner_portal.alerts.visibility import visible_alerts
from partner_portal.notifications import sla
from partner_portal.notifications.models import AlertAcknowledgement
from partner_portal.notifications.sla_pages import TIMER_FIELDS
from tenants import scoping
from tenants.models import Customer

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

CHUNK = 2000


@dataclass
class ClockTally:
    in_time: int = 0
    breached: int = 0
    running: int = 0

    @property
    def due(self) -> int:
        return self.in_time + self.breached + self.running

    @property
    def percent_in_time(self) -> float | None:
        """Of the alerts decided (in time or breached); None when none is."""
        decided = self.in_time + self.breached
        return round(100 * self.in_time / decided, 1) if decided else None

    def count(self, timer: sla.Timer, now: datetime) -> None:
        if timer.breached(now):
            self.breached += 1
        elif timer.done_at is not None:
            self.in_time += 1
        else:
            self.running += 1


@dataclass
class CustomerMonth:
    customer: Customer
    alerts: int = 0  # alerts of the month with at least one clock
    acknowledge: ClockTally = field(default_factory=ClockTally)
    resolve: ClockTally = field(default_factory=ClockTally)


@dataclass(frozen=True)
class MonthReport:
    month: date
    rows: list[CustomerMonth]


def month_bounds(month: date) -> tuple[datetime, datetime]:
    start = datetime(month.year, month.month, 1, tzinfo=UTC)
    end = datetime(month.year + (month.month == 12), month.month % 12 + 1, 1, tzinfo=UTC)
    return start, end


def month_report(*, user: User | AnonymousUser, month: date) -> MonthReport:
    """The month's figures for every customer in `user`'s scope (those without goals
    show zeros)."""
    now = timezone.now()
    customers = list(scoping.visible_customers(user=user).order_by("display_name", "pk"))
    goals = sla.goals_for(c.pk for c in customers)
    rows = {c.pk: CustomerMonth(c) for c in customers}
    condition = Q(pk__in=[])
    for customer_id, severities in goals.items():
        if severities:
            condition |= Q(customer_id=customer_id, severity__in=list(severities))
    start, end = month_bounds(month)
    recorded = AlertAcknowledgement.objects.filter(
        customer_id=OuterRef("customer_id"), alert_id=OuterRef("alert_id")
    ).values("acknowledged_at")[:1]
    alerts = (
        visible_alerts(user=user)
        .filter(condition, created_at__gte=start, created_at__lt=end)
        .only(*TIMER_FIELDS)
        .annotate(recorded_ack=Subquery(recorded))
        .order_by()
    )
    for alert in alerts.iterator(chunk_size=CHUNK):
        row = rows[alert.customer_id]
        timers = sla.timers(
            alert,
            goals[alert.customer_id].get(alert.severity),
            getattr(alert, "recorded_ack", None),
        )
        if not timers:
            continue
        row.alerts += 1
        for timer in timers:
            tally = row.acknowledge if timer.kind == sla.ACKNOWLEDGE else row.resolve
            tally.count(timer, now)
    return MonthReport(month, list(rows.values()))


EXPORT_NAMES = (
    "month", "customer", "alerts_with_goal",
    "acknowledge_due", "acknowledged_in_time", "acknowledge_breached", "acknowledge_running",
    "acknowledged_in_time_percent",
    "resolve_due", "resolved_in_time", "resolve_breached", "resolve_running",
    "resolved_in_time_percent",
)  # fmt: skip


def export_rows(report: MonthReport) -> Iterator[tuple[Any, ...]]:
    """The report's rows lined up with `EXPORT_NAMES`."""
    label = report.month.strftime("%Y-%m")
    for row in report.rows:
        ack, res = row.acknowledge, row.resolve
        yield (
            label, row.customer.display_name, row.alerts,
            ack.due, ack.in_time, ack.breached, ack.running, ack.percent_in_time,
            res.due, res.in_time, res.breached, res.running, res.percent_in_time,
        )  # fmt: skip
