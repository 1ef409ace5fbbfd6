"""The SLA timer in the alert list: under an open alert's status, the running clock due
first, as "SLA: due in 12 min" or "SLA: breached 5 min ago".

The list's rows carry no update times, so an acknowledged alert (assigned, no longer
New, or recorded) counts its acknowledge clock as stopped, which is all the list needs:
it shows running clocks only. Goals, zones, tags and recorded acknowledgements are read
once for the page's rows (a few queries per page, whatever its length; none when no goal
exists).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from django.utils import timezone

from partner_portal.alerts.list_notes import RowNote
from partner_portal.alerts.models import Alert
from partner_portal.alerts.reads.keyset import Row
from partner_portal.notifications import sla
from partner_portal.notifications.models import SlaGoal
from partner_portal.notifications.templatetags.sla import sla_state

NAME = "notifications.sla"


def _alert(row: Row) -> Alert:
    """The timer fields of a list row as an (unsaved) alert; an acknowledged alert's
    last update stands in as its creation time, marking the clock stopped."""
    return Alert(
        customer_id=row["customer_id"], alert_id=row["alert_id"], severity=row["severity"],
        status=row["status"], assigned_to=row["assigned_to"], created_at=row["created_at"],
        last_updated_at=row["created_at"],
    )  # fmt: skip


def sla_notes(rows: Sequence[Row]) -> Mapping[int, RowNote]:
    open_rows = [r for r in rows if str(r["status"]).casefold() != sla.RESOLVED]
    if not open_rows or not SlaGoal.objects.exists():
        return {}
    now = timezone.now()
    alerts = {int(r["pk"]): _alert(r) for r in open_rows}
    goals = sla.goals_for({a.customer_id for a in alerts.values()})
    waiting = [a for a in alerts.values() if a.status.casefold() == sla.NEW and not a.assigned_to]
    recorded = sla.recorded_acknowledgements(waiting) if waiting else {}
    notes = {}
    for pk, alert in alerts.items():
        goal = goals.get(alert.customer_id, {}).get(alert.severity)
        ack = recorded.get((alert.customer_id, alert.alert_id))
        running = [t for t in sla.timers(alert, goal, ack) if t.done_at is None]
        if not running:
            continue
        first = min(running, key=lambda t: t.due_at)
        breached = first.breached(now)
        notes[pk] = RowNote(
            text=f"SLA: {sla_state(first, now)}",
            css_class="sla-timer sla-breached" if breached else "sla-timer",
            data={"sla": first.kind, "breached": "yes" if breached else "no"},
        )
    return notes
