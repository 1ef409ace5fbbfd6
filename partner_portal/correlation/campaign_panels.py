"""Cards that apps above this one add to a campaign's page.

The campaign page belongs to the correlation app, but apps above it can offer what to do
with a campaign: notifications offers a suppression rule made from it. This app may not
import them, so the page keeps a slot (`partner_portal.core.panels`) and shows what the
registered sources return. A source takes the campaign (already cut to the person's
customers), the window in days it was found in, and the person looking, and returns a
`Panel` or None. Each template is given the campaign as `campaign` and the window as
`days` besides its own context.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.http import HttpRequest
from django.utils.safestring import SafeString

from partner_portal.core.panels import Panel, PanelSlot, render_panels
from partner_portal.correlation.reads import Campaign

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

__all__ = [
    "Panel",
    "register_campaign_panel",
    "render_campaign_panels",
    "unregister_campaign_panel",
]

_slot: PanelSlot[[Campaign, int, User | AnonymousUser]] = PanelSlot()

register_campaign_panel = _slot.register
unregister_campaign_panel = _slot.unregister


def render_campaign_panels(
    *, campaign: Campaign, days: int, request: HttpRequest
) -> list[SafeString]:
    """Each panel for `campaign`, as the signed-in person may see it, as HTML."""
    return render_panels(
        _slot.panels(campaign, days, request.user),
        request=request,
        context={"campaign": campaign, "days": days},
    )
