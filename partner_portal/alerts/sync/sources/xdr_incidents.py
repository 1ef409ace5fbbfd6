"""Defender XDR incidents (`GET /api/incidents`), stored as `Incident` rows.

Pages hold at most 100 incidents (Microsoft's `$top` ceiling for this API), filtered on
`lastUpdateTime`. An incident's row keeps the IDs of its alerts; nothing more is
fetched after a page is stored.

Retiring: Microsoft stops this API on 1 February 2027 in favour of Graph `incidents`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from partner_portal.alerts import models
from partner_portal.alerts.sync.incident_upsert import incidents_upsert
from partner_portal.alerts.sync.sources.base import Source
from partner_portal.alerts.sync.upsert import UpsertResult
from partner_portal.defender import INCIDENT_READ, XDR_INCIDENT_LIMITS, IncidentRecord, XdrClient
from tenants import microsoft

if TYPE_CHECKING:
    from tenants.models import Customer


class XdrIncidents(Source[XdrClient, IncidentRecord]):
    """Incidents from the Defender XDR (Microsoft 365 Defender) API."""

    name = models.Source.INCIDENTS.value
    label = str(models.Source.INCIDENTS.label)
    permission = INCIDENT_READ
    limits = XDR_INCIDENT_LIMITS
    model = models.Incident
    customer_fields = ("collect_incidents",)

    def wanted_by(self, customer: Customer) -> bool:
        return customer.collect_incidents

    def client(self, customer: Customer, *, token_sources: list[str]) -> XdrClient:
        return microsoft.xdr_client(customer, token_sources=token_sources)

    def pages(self, client: XdrClient, *, since: datetime) -> Iterable[Sequence[IncidentRecord]]:
        return client.iter_incident_pages(since=since)

    def store(self, *, customer_id: int, page: Sequence[IncidentRecord]) -> UpsertResult:
        return incidents_upsert(customer_id=customer_id, records=page)
