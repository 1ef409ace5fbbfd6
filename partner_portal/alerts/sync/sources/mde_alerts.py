"""Defender for Endpoint alerts (`GET /api/alerts`), stored as `Alert` rows.

Pages are read with `$top` = SYNC_PAGE_SIZE (Microsoft allows up to 10,000) and a
`lastUpdateTime` filter, without evidence. Once a page is stored, its new alerts of the
severities in SYNC_EVIDENCE_SEVERITIES are fetched again with `$expand=evidence`, twenty
to a call, and stored over the first copy; later updates keep that evidence.

Retiring: Microsoft stops this API on 1 February 2027 in favour of Graph `alerts_v2`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from django.conf import settings

from partner_portal.alerts import models
from partner_portal.alerts.sync.sources.base import Source
from partner_portal.alerts.sync.upsert import UpsertResult, alerts_upsert
from partner_portal.defender import ALERT_READ, MDE_ALERT_LIMITS, AlertRecord, MdeClient
from tenants import microsoft

if TYPE_CHECKING:
    from tenants.models import Customer


class MdeAlerts(Source[MdeClient, AlertRecord]):
    """Alerts from the Defender for Endpoint API."""

    name = models.Source.ALERTS.value
    label = str(models.Source.ALERTS.label)
    permission = ALERT_READ
    limits = MDE_ALERT_LIMITS
    model = models.Alert
    customer_fields = ("collect_alerts",)

    def wanted_by(self, customer: Customer) -> bool:
        return customer.collect_alerts

    def client(self, customer: Customer, *, token_sources: list[str]) -> MdeClient:
        return microsoft.mde_client(customer, token_sources=token_sources)

    def pages(self, client: MdeClient, *, since: datetime) -> Iterable[Sequence[AlertRecord]]:
        return client.iter_alert_pages(since=since, page_size=settings.SYNC_PAGE_SIZE)

    def store(self, *, customer_id: int, page: Sequence[AlertRecord]) -> UpsertResult:
        return alerts_upsert(customer_id=customer_id, records=page)

    def enrich(
        self,
        client: MdeClient,
        *,
        customer_id: int,
        page: Sequence[AlertRecord],
        result: UpsertResult,
    ) -> None:
        """Evidence for the page's new alerts of the chosen severities, in as few calls
        as the client's batches allow."""
        wanted = set(settings.SYNC_EVIDENCE_SEVERITIES)
        if not wanted or not result.new_ids:
            return
        new = set(result.new_ids)
        ids = [r.id for r in page if r.id in new and r.severity in wanted and not r.evidence]
        if not ids:
            return
        records = list(client.iter_alerts_by_id(ids, expand_evidence=True))
        if records:
            alerts_upsert(customer_id=customer_id, records=records)
