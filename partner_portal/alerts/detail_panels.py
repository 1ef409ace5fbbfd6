"""Cards that apps above this one add to the alert and incident pages.

The alert page belongs to the alerts app, but apps above it know more about an alert:
the correlation app knows where its indicators were seen at other customers. This app
may not import them, so the page keeps a slot (`partner_portal.core.panels`) and shows
what the registered sources return. A source takes the alert and the person looking —
whatever it counts must stay within that person's customers — and returns a `Panel` or
None. Each template is given the alert as `alert` besides its own context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.utils.safestring import SafeString

from partner_portal.alerts.models import Alert, Incident
from partner_portal.core.panels import Panel, PanelSlot, render_panels

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

__all__ = [
    "Panel",
    "register_alert_panel",
    "register_incident_panel",
    "render_alert_panels",
    "render_incident_panels",
    "unregister_alert_panel",
    "unregister_incident_panel",
]

_slot: PanelSlot[[Alert, User | AnonymousUser]] = PanelSlot()

register_alert_panel = _slot.register
unregister_alert_panel = _slot.unregister

_incident_slot: PanelSlot[[Incident, User | AnonymousUser]] = PanelSlot()

register_incident_panel = _incident_slot.register
unregister_incident_panel = _incident_slot.unregister


def render_alert_panels(*, alert: Alert, request: HttpRequest) -> list[SafeString]:
    """Each panel for `alert`, as the signed-in person may see it, as HTML."""
    return render_panels(
        _slot.panels(alert, request.user), request=request, context={"alert": alert}
    )


def render_incident_panels(*, incident: Incident, request: HttpRequest) -> list[SafeString]:
    """Each panel for `incident`, as the signed-in person may see it, as HTML."""
    return render_panels(
        _incident_slot.panels(incident, request.user),
        request=request,
        context={"incident": incident},
    )
