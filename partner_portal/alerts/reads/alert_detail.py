"""One alert as its detail page shows it, and the alerts a bulk change may touch.

The alert is found through `visibility.visible_alerts`: an alert outside the user's
scope is simply "not found" (the view answers 404). From that one visible alert the page
reaches the rows around it, all of the same customer: its incident and the incident's
other alerts, the other alerts of the same device, the portal's audit events about it
(who changed what through write-back), and Defender's own comments and evidence, read
from the JSON Defender sent (`raw`; the evidence laid out per kind by `evidence.py`),
with every other raw field listed as text.

`alerts_for_action` is the write-back's choice of alerts: of the alerts an analyst
ticked on the list, only those they may see, so a forged selection acts on nothing
else.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from partner_portal.alerts.comment_credit import shown_comments
from partner_portal.alerts.models import Alert, Incident
from partner_portal.alerts.reads.defender_links import defender_alert_url
from partner_portal.alerts.reads.evidence import EvidenceView, evidence_views
from partner_portal.alerts.visibility import visible_alerts
from partner_portal.core.times import format_moment
from tenants.models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# Other alerts of the same device shown on a detail page; more are a search away.
SAME_DEVICE_LIMIT = 20
# Other alerts of the same incident, and the portal's own recent actions on the alert.
INCIDENT_ALERTS_LIMIT = 50
RECENT_ACTIONS_LIMIT = 20

# Raw fields the detail page already shows in its own sections.
ISO_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$")
SHOWN_ELSEWHERE = frozenset({"evidence", "comments"})


def alert_get(*, user: User | AnonymousUser, pk: int) -> Alert | None:
    """One alert if `user` may see it, else None (the view answers 404)."""
    return visible_alerts(user=user).select_related("customer").filter(pk=pk).first()


@dataclass
class AlertDetail:
    alert: Alert
    defender_url: str
    incident: Incident | None
    incident_alerts: list[Alert]
    same_device: list[Alert]
    comments: list[dict[str, Any]]
    evidence: list[EvidenceView]
    raw_fields: list[tuple[str, str]]
    recent_actions: list[AuditEvent] = field(default_factory=list)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        # A timestamp (evidence's createdDateTime, say) reads like every other time.
        return (format_moment(value) or value) if ISO_MOMENT.match(value) else value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _comments(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return shown_comments(raw)


def alert_detail(*, user: User | AnonymousUser, pk: int) -> AlertDetail | None:
    """Everything the detail page shows about one alert, or None if `user` may not see it."""
    alert = alert_get(user=user, pk=pk)
    if alert is None:
        return None
    incident = None
    incident_alerts: list[Alert] = []
    if alert.incident_id is not None:
        incident = Incident.objects.filter(
            customer_id=alert.customer_id, incident_id=alert.incident_id
        ).first()
        incident_alerts = list(
            Alert.objects.filter(customer_id=alert.customer_id, incident_id=alert.incident_id)
            .exclude(pk=alert.pk)
            .order_by("-created_at", "-id")[:INCIDENT_ALERTS_LIMIT]
        )
    same_device: list[Alert] = []
    if alert.machine_id:
        same_device = list(
            Alert.objects.filter(customer_id=alert.customer_id, machine_id=alert.machine_id)
            .exclude(pk=alert.pk)
            .order_by("-created_at", "-id")[:SAME_DEVICE_LIMIT]
        )
    raw = alert.raw if isinstance(alert.raw, dict) else {}
    raw_fields = [
        (key, _as_text(value)) for key, value in sorted(raw.items()) if key not in SHOWN_ELSEWHERE
    ]
    recent = list(
        AuditEvent.objects.filter(
            customer_id=alert.customer_id,
            action__startswith="alert.",
            details__alert_id=alert.alert_id,
        ).order_by("-created_at", "-id")[:RECENT_ACTIONS_LIMIT]
    )
    return AlertDetail(
        alert=alert,
        defender_url=defender_alert_url(alert),
        incident=incident,
        incident_alerts=incident_alerts,
        same_device=same_device,
        comments=_comments(raw),
        evidence=evidence_views(raw),
        raw_fields=raw_fields,
        recent_actions=recent,
    )


def alerts_for_action(*, user: User | AnonymousUser, pks: list[int]) -> list[Alert]:
    """The chosen alerts `user` may see (others are silently dropped, never acted on)."""
    chosen = visible_alerts(user=user).select_related("customer").filter(pk__in=pks)
    return list(chosen.order_by("customer_id", "id"))
