"""What the alerts app adds to the staff's customer page: the sync card.

Tenants owns the customer page and cannot import this app, so the card is offered
through tenants' panel registry (`tenants.panels`); `AlertsConfig.ready()` registers it.
The card shows each source's health and a first backfill's progress, then keeps itself
fresh from the sync progress endpoint.
"""

from __future__ import annotations

from partner_portal.alerts.sync.progress import customer_sync_overview
from tenants.models import Customer
from tenants.panels import Panel

SYNC_PANEL = "alerts.sync"


def sync_panel(customer: Customer) -> Panel:
    """The customer's sync card, from the same overview its live endpoint serves."""
    return Panel("alerts/_customer_sync.html", {"sync": customer_sync_overview(customer=customer)})
