"""What notifications offers on a campaign's page: a suppression rule made from it.

The campaign page (correlation) keeps a slot for cards of the apps above it
(`correlation.campaign_panels`); this module's source shows portal admins — who may
write suppression rules — a button that opens the rule form prefilled from the campaign.
`initial_from_campaign` is that prefill: the campaign's customers, and conditions that
every one of its alerts meets (their products, their detection sources, their title
when they share one; a detector pattern's techniques). The rule may match more alerts
than the campaign's; the form says so, and the admin narrows it before saving.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from partner_portal.core.access import Role, has_role
from partner_portal.core.panels import Panel
from partner_portal.correlation.models import IndicatorKind
from partner_portal.correlation.reads import Campaign

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

SUPPRESS_PANEL = "notifications.suppress_campaign"
TEMPLATE = "notifications/_campaign_suppress.html"
ENDPOINT = "microsoftDefenderForEndpoint"


def suppress_campaign_panel(
    campaign: Campaign, days: int, user: User | AnonymousUser
) -> Panel | None:
    """The "suppress this campaign" card, for those who may write suppression rules."""
    if not has_role(user, Role.ADMIN):
        return None
    return Panel(TEMPLATE)


def initial_from_campaign(campaign: Campaign) -> dict[str, Any]:
    """The suppression form's fields, filled so that the rule matches the campaign's
    alerts (and only at its customers)."""
    alerts = campaign.alerts
    titles = {alert.title for alert in alerts}
    detectors = sorted({alert.detection_source for alert in alerts if alert.detection_source})
    techniques = sorted(
        {
            indicator.value.partition(" · ")[0]
            for indicator in campaign.indicators
            if indicator.kind == IndicatorKind.TECHNIQUE
        }
    )
    return {
        "customers": [customer.pk for customer in campaign.customers],
        "products": sorted({alert.service_source or ENDPOINT for alert in alerts}),
        "title_contains": next(iter(titles))[:200] if len(titles) == 1 else "",
        "detectors_text": ", ".join(detectors),
        "techniques_text": ", ".join(techniques) if campaign.detector_pattern else "",
        "reason": "",
    }
