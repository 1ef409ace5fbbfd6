"""Cards that other apps add to the staff's customer page.

The customer page belongs to tenants, but some of what staff want to see there belongs
to apps above it: the alerts app knows how each customer's sync is doing. Tenants may not
import those apps (dependencies point one way), so the page keeps a slot
(`partner_portal.core.panels`) and asks it what to put there.

An app registers a panel source, usually from its `AppConfig.ready()`: a function that
takes the customer and returns a `Panel` (a template and the context it needs) or None
to show nothing for that customer. The customer page renders every panel, in the order
the sources were registered, between the consent card and the timeline. Each template
is given the customer as `customer` besides its own context.
"""

from __future__ import annotations

from django.http import HttpRequest
from django.utils.safestring import SafeString

from partner_portal.core.panels import Panel, PanelSlot, render_panels
from tenants.models import Customer

__all__ = [
    "Panel",
    "customer_panels",
    "register_customer_panel",
    "registered_customer_panels",
    "render_customer_panels",
    "unregister_customer_panel",
]

_slot: PanelSlot[[Customer]] = PanelSlot()

#: Show the panel a source returns on every customer page, after those registered
#: before it; the name identifies the source, e.g. "alerts.sync".
register_customer_panel = _slot.register
unregister_customer_panel = _slot.unregister
registered_customer_panels = _slot.names


def customer_panels(*, customer: Customer) -> list[Panel]:
    """The panels to show for `customer`, in order."""
    return _slot.panels(customer)


def render_customer_panels(*, customer: Customer, request: HttpRequest) -> list[SafeString]:
    """Each panel for `customer` as HTML, ready to print on the page."""
    return render_panels(
        customer_panels(customer=customer), request=request, context={"customer": customer}
    )
