"""Who and what the write-back may change, and through which API, decided before
Microsoft is asked anything.

A change is refused in words, and nothing is sent, when the customer cannot be reached
(no verified tenant, offboarded, consent removed, the partner app not configured).

Which API carries it follows the customer's consent. A customer on Microsoft Graph
(`Customer.on_graph`) has its alerts of every Defender product changed through Graph
(`SecurityAlert.ReadWrite.All`) — unless it granted only the Defender for Endpoint API's
write permission, which still serves its endpoint alerts. A customer still on the legacy
APIs has its alerts changed through the Defender for Endpoint API, which knows endpoint
alerts only; any other alert of such a customer is refused here. Incidents are written
through Graph only (the legacy incidents API is read-only in this product).

The client handed out gives up far sooner than a background sync would: a person is
waiting for the answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from partner_portal.alerts.models import Alert
from partner_portal.alerts.products import ENDPOINT
from partner_portal.defender import (
    ALERT_READWRITE,
    GRAPH_ALERT_READWRITE,
    DefenderApiClient,
    GraphClient,
    MdeClient,
    RetryPolicy,
)
from tenants import microsoft
from tenants.models import Customer, CustomerStatus

# A person is waiting for the answer, so give up far sooner than a background sync would.
INTERACTIVE_RETRY = RetryPolicy(max_attempts=3, max_throttled=3, max_total_wait=20.0)


ClientT = TypeVar("ClientT", bound=DefenderApiClient)


def uses_graph(alert: Alert) -> bool:
    """Whether a change to `alert` goes through Microsoft Graph (see the module's story)."""
    customer = alert.customer
    if not customer.on_graph:
        return False
    roles = customer.granted_roles or ()
    legacy_only = GRAPH_ALERT_READWRITE not in roles and ALERT_READWRITE in roles
    return not (legacy_only and alert.service_source in ("", ENDPOINT))


def unreachable(customer: Customer) -> str:
    """Why Defender cannot be asked anything for this customer ("" if it can)."""
    if not customer.tenant_id:
        return "This customer has no verified tenant yet, so Defender cannot be reached."
    if customer.status == CustomerStatus.OFFBOARDED:
        return "This customer is offboarded: the portal no longer changes its alerts."
    if customer.status == CustomerStatus.CONSENT_REVOKED:
        return (
            "This customer removed the portal's access in Microsoft Entra ID; ask onboarding "
            "staff for a new consent link before changing its alerts."
        )
    return ""


def client_for(customer: Customer) -> tuple[MdeClient | None, str]:
    """The customer's Defender for Endpoint client for a person's change, or None and
    why the customer cannot be reached."""
    return _interactive(microsoft.mde_client, customer)


def graph_client_for(customer: Customer) -> tuple[GraphClient | None, str]:
    """The customer's Microsoft Graph client for a person's change, or None and why."""
    return _interactive(microsoft.graph_client, customer)


def _interactive(
    build: Callable[[Customer], ClientT], customer: Customer
) -> tuple[ClientT | None, str]:
    problem = unreachable(customer)
    if problem:
        return None, problem
    try:
        client = build(customer)
    except microsoft.PartnerAppNotConfigured as exc:
        return None, str(exc)
    client.retry = INTERACTIVE_RETRY
    return client, ""


def unwritable(alert: Alert) -> str:
    """Why this alert cannot be changed through the Defender for Endpoint API ("" if it
    can): only a customer still on the legacy APIs meets this, for an alert of another
    Defender product, which only Microsoft Graph can change."""
    if alert.service_source and alert.service_source != ENDPOINT:
        return (
            "Alerts of this Defender product can be changed only through Microsoft Graph, "
            "and this customer has not consented to Microsoft Graph yet; ask onboarding "
            "staff to send its admin the new consent link, or change it in the Microsoft "
            "Defender portal. Nothing was changed."
        )
    return ""


def incident_unwritable(customer: Customer) -> str:
    """Why this customer's incidents cannot be changed ("" if they can)."""
    if not customer.on_graph:
        return (
            "This customer is still on the legacy Defender XDR API, whose incidents the "
            "portal only reads; incidents are changed through Microsoft Graph once the "
            "customer's admin consents again. Change it in the Microsoft Defender portal. "
            "Nothing was changed."
        )
    return ""
