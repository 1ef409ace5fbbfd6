"""SLA timers in any page: `{% load sla %}{% sla_timers alert %}` shows an alert's clocks
(the alert detail page includes it), and `{{ seconds|sla_words }}` says a duration."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.notifications import sla
from partner_portal.notifications.models import SlaGoal

register = template.Library()


@register.inclusion_tag("notifications/_sla_timers.html")
def sla_timers(alert: Alert) -> dict[str, Any]:
    now = timezone.now()
    return {"timers": sla.alert_timers(alert), "now": now}


@register.filter
def sla_calendar(goal: SlaGoal) -> str:
    """ "24x7", or "Mon, Tue, Wed, Thu, Fri 09:00-17:00, 2 holiday(s)"."""
    return sla.calendar_of(goal).describe()


@register.simple_tag
def sla_state(timer: sla.Timer, now: Any) -> str:
    """ "due in 12 min", "breached 5 min ago", "met", "breached: 2 h 5 min late"."""
    if timer.done_at is not None:
        if timer.breached(now):
            late = (timer.done_at - timer.due_at).total_seconds()
            return f"breached: {duration_words(late)} late"
        return "met"
    left = timer.seconds_left(now)
    if left >= 0:
        return f"due in {duration_words(left, round_up=True)}"
    return f"breached {duration_words(-left)} ago"


def duration_words(seconds: float, *, round_up: bool = False) -> str:
    """ "2 d 3 h 5 min"; whole minutes, rounded down (or up: time left is never
    understated)."""
    minutes = int(-(-seconds // 60) if round_up else seconds // 60)
    if minutes < 1:
        return "less than a minute"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [
        f"{days} d" if days else "",
        f"{hours} h" if hours else "",
        f"{minutes} min" if minutes else "",
    ]
    return " ".join(p for p in parts if p)
