"""One incident with its alerts (the queue itself is `incident_queue`).

Incidents are read through `visibility.visible_incidents`, so an analyst sees only the
incidents of customers in their scope, and one outside it is "not found". An incident's
alerts are those of the same customer that Defender links to it on either side: the
alert names the incident, or the incident lists the alert. Alerts the incident lists but
the portal has not stored (yet) are named, so the page can say so. The page's evidence
summary and timeline come from `incident_story`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import Q

from partner_portal.alerts.models import Alert, Incident
from partner_portal.alerts.reads.defender_links import defender_incident_url
from partner_portal.alerts.reads.incident_story import (
    EvidenceGroup,
    TimelineEvent,
    evidence_summary,
    incident_timeline,
)
from partner_portal.alerts.visibility import visible_incidents

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User


@dataclass
class IncidentDetail:
    incident: Incident
    alerts: list[Alert]
    missing_alert_ids: list[str]
    defender_url: str
    # What the alerts' evidence names, and what happened when (`incident_story`).
    evidence_summary: list[EvidenceGroup] = field(default_factory=list)
    timeline: list[TimelineEvent] = field(default_factory=list)
    # The incident this one was merged into, when the portal holds it (its pk).
    merged_into: int | None = None


def incident_detail(*, user: User | AnonymousUser, pk: int) -> IncidentDetail | None:
    """One incident with its alerts, or None if `user` may not see it."""
    incident = visible_incidents(user=user).select_related("customer").filter(pk=pk).first()
    if incident is None:
        return None
    # An alert belongs to the incident when Defender says so on either side.
    alerts = list(
        Alert.objects.filter(customer_id=incident.customer_id)
        .filter(Q(incident_id=incident.incident_id) | Q(alert_id__in=list(incident.alert_ids)))
        .order_by("-severity_rank", "-created_at", "-id")
    )
    known = {a.alert_id for a in alerts}
    missing = [alert_id for alert_id in incident.alert_ids if alert_id not in known]
    merged_into = None
    if incident.redirect_incident_id is not None:
        merged_into = (
            visible_incidents(user=user)
            .filter(customer_id=incident.customer_id, incident_id=incident.redirect_incident_id)
            .values_list("pk", flat=True)
            .first()
        )
    return IncidentDetail(
        incident=incident,
        alerts=alerts,
        missing_alert_ids=missing,
        defender_url=defender_incident_url(incident),
        evidence_summary=evidence_summary(alerts),
        timeline=incident_timeline(incident, alerts),
        merged_into=merged_into,
    )
