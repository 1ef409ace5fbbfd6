"""What a notification says, before any channel's format: the customer, the alerts (at
most `MAX_ALERTS` listed), the portal link and the Defender deep link of each.

Only what an analyst reads goes in: no token, no secret, no tenant credential. The
Defender link names the customer's tenant ID, as every Defender link does.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from partner_portal.alerts.models import Alert, Incident
from partner_portal.alerts.reads.defender_links import defender_alert_url, defender_incident_url
from partner_portal.notifications import campaign_events, incident_events, sla, sla_watch
from partner_portal.notifications.matching import route_of
from partner_portal.notifications.models import CUSTOMER_GROUP_KEY, Notification
from tenants.models import Customer

MAX_ALERTS = 20


@dataclass(frozen=True)
class AlertLine:
    alert_id: str
    title: str
    severity: str
    category: str
    status: str
    created_at: str
    portal_url: str
    defender_url: str
    #: The alert's customer (a campaign's alerts are of several).
    customer: str = ""


@dataclass(frozen=True)
class Message:
    """One notification's content, shared by every channel format."""

    id: str
    subject: str
    customer: str
    policy: str
    alerts: tuple[AlertLine, ...]
    more: int  # alerts of the group not listed
    incident_id: int | None = None
    incident_url: str = ""
    test: bool = False
    #: "" for alerts; for an incident's change, `incident_events.CREATED` or
    #: `incident_events.SEVERITY_RAISED`; for an SLA event, "sla_warning" or "sla_breach";
    #: for a campaign, `campaign_events.DETECTED` or `campaign_events.GREW`.
    event: str = ""
    sla: SlaNote | None = None
    #: A campaign's indicators, (kind, value), and the customers it was seen at (only
    #: those the policy covers); its page in the portal.
    indicators: tuple[tuple[str, str], ...] = ()
    customers: tuple[str, ...] = ()
    campaign_url: str = ""


@dataclass(frozen=True)
class SlaNote:
    """What an SLA event tells: the stage ("warning", "breach"), the clock
    ("acknowledge", "resolve") and when the alert is (or was) due."""

    stage: str
    clock: str
    due_at: str


def portal_url(path: str) -> str:
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def _line(alert: Alert) -> AlertLine:
    return AlertLine(
        alert_id=alert.alert_id,
        title=alert.title or "(untitled alert)",
        severity=alert.severity,
        category=alert.category,
        status=alert.status,
        created_at=alert.created_at.isoformat() if alert.created_at else "",
        portal_url=portal_url(reverse("alerts:detail", args=[alert.pk])),
        defender_url=defender_alert_url(alert),
        customer=alert.customer.display_name,
    )


def compose(notification: Notification) -> Message:
    """The message of a stored notification, read from the alerts as they are now."""
    if notification.group_key.startswith(campaign_events.GROUP_PREFIX):
        return _campaign_message(notification)
    if notification.is_test or notification.customer is None:
        return Message(
            id=notification.dedup_key,
            subject=f"Test from {settings.PARTNER_NAME}: the channel works",
            customer="",
            policy="",
            alerts=(),
            more=0,
            test=True,
        )
    customer = notification.customer
    alerts = list(
        Alert.objects.filter(customer=customer, alert_id__in=notification.alert_ids)
        .select_related("customer")
        .order_by("-severity_rank", "-created_at")[:MAX_ALERTS]
    )
    lines = tuple(_line(alert) for alert in alerts)
    incident_id = None
    incident_url = ""
    if notification.group_key.startswith("incident:"):
        incident_id = int(notification.group_key.removeprefix("incident:"))
        incident = (
            Incident.objects.filter(customer=customer, incident_id=incident_id)
            .select_related("customer")
            .first()
        )
        if incident is not None:
            incident_url = defender_incident_url(incident)
    if notification.group_key.startswith(incident_events.GROUP_PREFIX):
        return _incident_message(notification, customer, lines)
    if notification.group_key.startswith(sla_watch.GROUP_PREFIX):
        return _sla_message(notification, customer, lines, alerts)
    top = lines[0] if lines else None
    count = len(notification.alert_ids)
    if incident_id is not None or notification.group_key == CUSTOMER_GROUP_KEY:
        what = f"Incident {incident_id}" if incident_id is not None else "New alerts"
        subject = f"[{customer.display_name}] {what}: {count} alert(s)"
        if top:
            subject += f", {top.severity}: {top.title}"
    else:
        subject = f"[{customer.display_name}] {top.severity}: {top.title}" if top else ""
    return Message(
        id=notification.dedup_key,
        subject=subject[:250] or f"[{customer.display_name}] Defender alert",
        customer=customer.display_name,
        policy=notification.policy.name if notification.policy else "",
        alerts=lines,
        more=max(0, count - len(lines)),
        incident_id=incident_id,
        incident_url=incident_url,
    )


def _incident_message(
    notification: Notification, customer: Customer, lines: tuple[AlertLine, ...]
) -> Message:
    """A new incident, or an incident whose severity rose, with its alerts."""
    incident_id = int(notification.group_key.removeprefix(incident_events.GROUP_PREFIX))
    incident = (
        Incident.objects.filter(customer=customer, incident_id=incident_id)
        .select_related("customer")
        .first()
    )
    event = incident_events.event_of(notification)
    severity = incident.severity if incident else ""
    name = (incident.name if incident else "") or f"Incident {incident_id}"
    if event == incident_events.SEVERITY_RAISED:
        subject = f"[{customer.display_name}] Incident {incident_id} rose to {severity}: {name}"
    else:
        subject = f"[{customer.display_name}] New {severity} incident {incident_id}: {name}"
    return Message(
        id=notification.dedup_key,
        subject=subject[:250],
        customer=customer.display_name,
        policy=notification.policy.name if notification.policy else "",
        alerts=lines,
        more=max(0, len(notification.alert_ids) - len(lines)),
        incident_id=incident_id,
        incident_url=defender_incident_url(incident) if incident else "",
        event=event,
    )


def _sla_message(
    notification: Notification,
    customer: Customer,
    lines: tuple[AlertLine, ...],
    alerts: list[Alert],
) -> Message:
    """An alert nearing, or past, the due time of one of its SLA clocks."""
    stage, clock, _ = sla_watch.parse_group_key(notification.group_key)
    due = next((t.due_at for a in alerts[:1] for t in sla.alert_timers(a) if t.kind == clock), None)
    top = lines[0] if lines else None
    what = "SLA breached" if stage == sla_watch.BREACH else "SLA warning"
    verb = "acknowledge" if clock == sla.ACKNOWLEDGE else "resolve"
    subject = f"[{customer.display_name}] {what} ({verb})"
    if top:
        subject += f", {top.severity}: {top.title}"
    return Message(
        id=notification.dedup_key,
        subject=subject[:250],
        customer=customer.display_name,
        policy=notification.policy.name if notification.policy else "",
        alerts=lines,
        more=0,
        event=f"sla_{stage}",
        sla=SlaNote(stage=stage, clock=clock, due_at=due.isoformat() if due else ""),
    )


def _campaign_message(notification: Notification) -> Message:
    """An indicator seen at several of the policy's customers: its cluster's indicators,
    those customers (no other) and their alerts."""
    policy = notification.policy
    route = route_of(policy) if policy is not None else None
    indicators, alerts, event = campaign_events.campaign_contents(notification, route)
    customers = tuple(sorted({alert.customer.display_name for alert in alerts}))
    first = f"{indicators[0].get_kind_display()} {indicators[0].value}" if indicators else ""
    verb = "reached" if event == campaign_events.GREW else "seen at"
    subject = f"Campaign {verb} {len(customers)} customers: {first}".rstrip(": ")
    lines = tuple(_line(alert) for alert in alerts[:MAX_ALERTS])
    return Message(
        id=notification.dedup_key,
        subject=subject[:250],
        customer="",
        policy=policy.name if policy else "",
        alerts=lines,
        more=max(0, len(alerts) - len(lines)),
        event=event,
        indicators=tuple((i.kind, i.value) for i in indicators),
        customers=customers,
        campaign_url=portal_url(campaign_events.campaign_path(notification)),
    )
