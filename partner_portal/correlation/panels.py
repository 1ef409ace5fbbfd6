"""The alert and incident pages' indicators card: where each indicator was also seen, in
scope."""

from __future__ import annotations

from typing import TYPE_CHECKING

from partner_portal.alerts.detail_panels import Panel
from partner_portal.alerts.models import Alert, Incident
from partner_portal.correlation.reads import (
    ALSO_SEEN_DAYS,
    alert_indicators_seen,
    incident_indicators_seen,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

INDICATORS_PANEL = "correlation.indicators"
TEMPLATE = "correlation/_alert_indicators.html"


def indicators_panel(alert: Alert, user: User | AnonymousUser) -> Panel | None:
    seen = alert_indicators_seen(user=user, alert=alert)
    if not seen:
        return None
    return Panel(TEMPLATE, {"seen": seen, "days": ALSO_SEEN_DAYS, "of": "this alert"})


def incident_indicators_panel(incident: Incident, user: User | AnonymousUser) -> Panel | None:
    seen = incident_indicators_seen(user=user, incident=incident)
    if not seen:
        return None
    return Panel(TEMPLATE, {"seen": seen, "days": ALSO_SEEN_DAYS, "of": "this incident's alerts"})
