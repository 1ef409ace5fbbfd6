"""Deep links from the console into the Defender portal of the customer's cloud.

Each Microsoft cloud has its own Defender portal; the protocol core knows which
(`Cloud.portal_url`, as Microsoft lists them), so the links are built from it and the
customer's tenant is named (`?tid=`) so that a partner analyst lands in the right one.
A cloud value the core does not know gets the commercial portal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from partner_portal.defender import Cloud

if TYPE_CHECKING:
    from partner_portal.alerts.models import Alert, Incident
    from tenants.models import Customer


def _portal(customer: Customer) -> str:
    return _cloud_portal(customer.cloud)


def _cloud_portal(cloud_name: str) -> str:
    try:
        cloud = Cloud(cloud_name)
    except ValueError:
        cloud = Cloud.COMMERCIAL
    return cloud.portal_url


def defender_alert_url(alert: Alert) -> str:
    """Deep link to the alert in the Defender portal of the customer's cloud (the
    commercial one for a cloud the protocol core does not know), in the customer's tenant."""
    customer = alert.customer
    return alert_link(customer.cloud, customer.tenant_id, alert.alert_id)


def defender_incident_url(incident: Incident) -> str:
    """Deep link to the incident, the same way."""
    customer = incident.customer
    return incident_link(customer.cloud, customer.tenant_id, incident.incident_id)


def alert_link(cloud: str, tenant_id: str | None, alert_id: str) -> str:
    """Deep link to an alert from the stored values alone (exports read no models)."""
    return f"{_cloud_portal(cloud)}/alerts/{alert_id}?tid={tenant_id or ''}"


def incident_link(cloud: str, tenant_id: str | None, incident_id: int) -> str:
    """Deep link to an incident from the stored values alone (exports read no models)."""
    return f"{_cloud_portal(cloud)}/incidents/{incident_id}?tid={tenant_id or ''}"
