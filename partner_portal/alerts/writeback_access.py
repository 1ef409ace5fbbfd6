"""Who and what the write-back may change, decided before Microsoft is asked anything.

A change is refused in words, and nothing is sent, when the customer cannot be reached
(no verified tenant, offboarded, consent removed, the partner app not configured), or
when the alert cannot be written through the API the portal writes with: changes still
go through the Defender for Endpoint API, also for customers whose alerts are synced
from Microsoft Graph, so an alert of another Defender product, or a customer whose
consent lacks that API's write permission, is refused here rather than sent to an API
that cannot take it.

The client handed out gives up far sooner than a background sync would: a person is
waiting for the answer.
"""

from __future__ import annotations

from partner_portal.alerts.models import Alert
from partner_portal.alerts.products import ENDPOINT
from partner_portal.defender import ALERT_READWRITE, MdeClient, RetryPolicy
from tenants import microsoft
from tenants.models import Customer, CustomerStatus

# A person is waiting for the answer, so give up far sooner than a background sync would.
INTERACTIVE_RETRY = RetryPolicy(max_attempts=3, max_throttled=3, max_total_wait=20.0)


def client_for(customer: Customer) -> tuple[MdeClient | None, str]:
    """The customer's Defender for Endpoint client for a person's change, or None and
    why the customer cannot be reached."""
    if not customer.tenant_id:
        return None, "This customer has no verified tenant yet, so Defender cannot be reached."
    if customer.status == CustomerStatus.OFFBOARDED:
        return None, "This customer is offboarded: the portal no longer changes its alerts."
    if customer.status == CustomerStatus.CONSENT_REVOKED:
        return None, (
            "This customer removed the portal's access in Microsoft Entra ID; ask onboarding "
            "staff for a new consent link before changing its alerts."
        )
    try:
        client = microsoft.mde_client(customer)
    except microsoft.PartnerAppNotConfigured as exc:
        return None, str(exc)
    client.retry = INTERACTIVE_RETRY
    return client, ""


def unwritable(alert: Alert) -> str:
    """Why this alert cannot be changed through the Defender for Endpoint API ("" if it
    can): it comes from another Defender product, or its customer consented to Graph only."""
    if alert.service_source and alert.service_source != ENDPOINT:
        return (
            "Alerts of this Defender product cannot be changed from the portal yet; "
            "change it in the Microsoft Defender portal. Nothing was changed."
        )
    customer = alert.customer
    if customer.on_graph and ALERT_READWRITE not in customer.granted_roles:
        return (
            "This customer consented to Microsoft Graph only, and the portal still changes "
            "alerts through the Defender for Endpoint API; change it in the Microsoft "
            "Defender portal. Nothing was changed."
        )
    return ""
