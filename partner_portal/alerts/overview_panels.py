"""Cards that apps above this one add to the overview.

The overview (what needs an analyst's attention now) belongs to the alerts app, but apps
above it will know more that needs attention: breached SLAs, campaigns spreading across
customers. This app may not import them, so the overview keeps a slot
(`partner_portal.core.panels`) and shows what the registered sources return. A source
takes the person looking — whatever it counts must stay within that person's customers,
and each figure should link to the list of exactly what it counts — and returns a
`Panel` or None.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.utils.safestring import SafeString

from partner_portal.core.panels import Panel, PanelSlot, render_panels

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

__all__ = [
    "Panel",
    "register_overview_panel",
    "render_overview_panels",
    "unregister_overview_panel",
]

_slot: PanelSlot[[User | AnonymousUser]] = PanelSlot()

register_overview_panel = _slot.register
unregister_overview_panel = _slot.unregister


def render_overview_panels(*, request: HttpRequest) -> list[SafeString]:
    """Each registered panel, as the signed-in person may see it, as HTML."""
    return render_panels(_slot.panels(request.user), request=request, context={})
