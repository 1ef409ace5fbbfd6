"""Microsoft Graph alerts (`GET /v1.0/security/alerts_v2`), stored as `Alert` rows.

Graph serves the alerts of every Defender product (Endpoint, Office 365, Identity, Cloud
Apps, Entra ID Protection, data loss prevention, Defender for Cloud), with their evidence
inline, so nothing is fetched after a page. Pages of up to 1,000 alerts (Graph's ceiling,
or SYNC_PAGE_SIZE if smaller) are read oldest change first; deep listings move their
`lastUpdateDateTime` filter on rather than skipping (see `defender.graph_listing`).

It is the alerts source of a customer on Graph (`Customer.on_graph`), in place of the
Defender for Endpoint API's. An endpoint alert has the same ID in both APIs, and rows are
keyed on (customer, alert ID), so a customer's first Graph pass rewrites the alerts
stored from the old API in place (see `upsert.py`) instead of adding new ones.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings

from partner_portal.alerts import models
from partner_portal.alerts.sync.sources.base import GraphSource
from partner_portal.alerts.sync.upsert import UpsertResult, alerts_upsert
from partner_portal.defender import (
    GRAPH_ALERT_READ,
    GRAPH_MAX_TOP,
    GraphAlert,
    GraphClient,
)

if TYPE_CHECKING:
    from tenants.models import Customer


class GraphAlerts(GraphSource[GraphAlert]):
    """Alerts of every Defender product from Microsoft Graph."""

    name = models.Source.GRAPH_ALERTS.value
    label = str(models.Source.GRAPH_ALERTS.label)
    permission = GRAPH_ALERT_READ
    model = models.Alert
    customer_fields = ("collect_alerts",)

    def wanted_by(self, customer: Customer) -> bool:
        return customer.collect_alerts

    def pages(self, client: GraphClient, *, since: datetime) -> Iterable[Sequence[GraphAlert]]:
        return client.iter_alert_pages(
            since=since, page_size=min(settings.SYNC_PAGE_SIZE, GRAPH_MAX_TOP)
        )

    def store(self, *, customer_id: int, page: Sequence[GraphAlert]) -> UpsertResult:
        return alerts_upsert(customer_id=customer_id, records=page)
