"""Microsoft Graph incidents (`GET /v1.0/security/incidents`), stored as `Incident` rows.

Incidents are listed with their alerts (`$expand=alerts`, or the alerts listed
separately when Microsoft's expanded listing keeps failing: see `defender.graph_listing`), so a
row keeps the IDs of its alerts across every Defender product. A merged incident keeps
the incident it was merged into (`redirect_incident_id`, status "Redirected").

It is the incidents source of a customer on Graph (`Customer.on_graph`), in place of the
Defender XDR API's; both APIs number an incident alike, so the switch rewrites the
stored incidents in place (see `incident_upsert.py`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from partner_portal.alerts import models
from partner_portal.alerts.sync.incident_upsert import incidents_upsert
from partner_portal.alerts.sync.sources.base import GraphSource
from partner_portal.alerts.sync.upsert import UpsertResult
from partner_portal.defender import (
    GRAPH_INCIDENT_READ,
    GraphClient,
    GraphIncident,
)

if TYPE_CHECKING:
    from tenants.models import Customer


class GraphIncidents(GraphSource[GraphIncident]):
    """Incidents spanning every Defender product, from Microsoft Graph."""

    name = models.Source.GRAPH_INCIDENTS.value
    label = str(models.Source.GRAPH_INCIDENTS.label)
    permission = GRAPH_INCIDENT_READ
    model = models.Incident
    customer_fields = ("collect_incidents",)

    def wanted_by(self, customer: Customer) -> bool:
        return customer.collect_incidents

    def pages(self, client: GraphClient, *, since: datetime) -> Iterable[Sequence[GraphIncident]]:
        return client.iter_incident_pages(since=since)

    def store(self, *, customer_id: int, page: Sequence[GraphIncident]) -> UpsertResult:
        return incidents_upsert(customer_id=customer_id, records=page)
