"""The Defender products of alerts and incidents, as the console filters and shows them.

A product is Microsoft Graph's `serviceSource` of an alert ("microsoftDefenderForOffice365"),
named as the protocol core names it (`partner_portal.defender.service_source_label`), the
one place product names are written. Alerts stored from the Defender for Endpoint API
carry no `serviceSource`; that API only serves Defender for Endpoint's alerts, so such a
row counts as Defender for Endpoint.

An incident has no product of its own: Graph's incident resource names none, only its
alerts do (each with its `serviceSource`). The products of an incident are therefore those
of its alerts as stored (an alert names its incident), which keeps one source of truth
when an alert arrives after its incident or moves between incidents.
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q

from partner_portal.alerts.models import Alert
from partner_portal.defender import GRAPH_SERVICE_SOURCES, service_source_label

ENDPOINT = "microsoftDefenderForEndpoint"
# Graph's placeholders name no product, so they are offered nowhere.
_NOT_PRODUCTS = ("unknown", "unknownFutureValue")
PRODUCTS: tuple[str, ...] = tuple(m for m in GRAPH_SERVICE_SOURCES if m not in _NOT_PRODUCTS)
PRODUCT_CHOICES: list[tuple[str, str]] = [(p, service_source_label(p)) for p in PRODUCTS]


def product_of(service_source: str, from_graph: bool) -> str:
    """The product of a stored alert: its `serviceSource`, or Defender for Endpoint for
    a row the Defender for Endpoint API wrote; "" when Graph named none."""
    if service_source:
        return GRAPH_SERVICE_SOURCES.canonical(service_source) or service_source
    return "" if from_graph else ENDPOINT


def product_label(product: str) -> str:
    """The product's name for people; "" for no product."""
    return service_source_label(product) if product else ""


def alerts_of_products(products: tuple[str, ...]) -> Q:
    """The alerts raised by any of `products`."""
    match = Q(service_source__in=products)
    if ENDPOINT in products:
        match |= Q(service_source="", from_graph=False)
    return match


def incidents_of_products(products: tuple[str, ...]) -> Exists:
    """Incidents with at least one stored alert raised by any of `products` (one seek in
    the alerts' (customer, incident) index per incident)."""
    return Exists(
        Alert.objects.filter(
            alerts_of_products(products),
            customer_id=OuterRef("customer_id"),
            incident_id=OuterRef("incident_id"),
        )
    )
