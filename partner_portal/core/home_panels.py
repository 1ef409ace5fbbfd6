"""Cards that apps add to the home page.

The home page (core) greets every role with its tiles; the apps above core know what
each role should see first (the alerts app: an analyst's overview of what needs
attention). Core may not import them, so the home page keeps a slot
(`partner_portal.core.panels`); a source takes the person looking and returns a `Panel`
or None (for a role it has nothing for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.utils.safestring import SafeString

from partner_portal.core.panels import Panel, PanelSlot, render_panels

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

__all__ = ["Panel", "register_home_panel", "render_home_panels", "unregister_home_panel"]

_slot: PanelSlot[[User | AnonymousUser]] = PanelSlot()

register_home_panel = _slot.register
unregister_home_panel = _slot.unregister


def render_home_panels(*, request: HttpRequest) -> list[SafeString]:
    """Each registered panel for the signed-in person, as HTML."""
    return render_panels(_slot.panels(request.user), request=request, context={})
