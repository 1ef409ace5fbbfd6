"""The Defender XDR incidents API (``/api/incidents``) of one customer tenant.

:class:`XdrClient` lists incidents changed since a time, page by page (``$top`` up to
100 with ``$skip``, or ``@odata.nextLink``), and reads one incident; incidents come back
as :class:`~.records.IncidentRecord`, with the alerts they group.

The API's documented limits, 50 calls a minute and 1,500 an hour per application per
tenant, are declared here (:data:`XDR_INCIDENT_LIMITS`) and kept by the base client
(:mod:`.client`), which also handles retries, throttling and typed errors. Microsoft
retires this API on 1 February 2027 in favour of Microsoft Graph security.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from .client import DefenderApiClient
from .paging import PageInfo, iter_pages, one_by_one, since_filter
from .rate_limit import Limits, per_hour, per_minute
from .records import IncidentRecord, parse_incident

__all__ = ["XDR_INCIDENT_LIMITS", "XDR_MAX_TOP", "XdrClient"]

#: Documented limits per application per tenant.
XDR_INCIDENT_LIMITS: Limits = (per_minute(50), per_hour(1500))
#: The largest ``$top`` the incidents API takes.
XDR_MAX_TOP = 100


def _incident_id(incident: IncidentRecord) -> object:
    return incident.incident_id


def _parse_incident_page(items: list[Any]) -> list[IncidentRecord]:
    return [parse_incident(item) for item in items]


class XdrClient(DefenderApiClient):
    """Defender XDR incidents of one customer tenant."""

    endpoint_field = "xdr_api_url"
    resource_field = "xdr_resource"
    limits = XDR_INCIDENT_LIMITS
    limiter_scope = "xdr"
    max_page_size = XDR_MAX_TOP

    def iter_incident_pages(
        self,
        *,
        since: datetime | None = None,
        page_size: int | None = XDR_MAX_TOP,
        max_pages: int | None = None,
        on_page: Callable[[PageInfo], None] | None = None,
    ) -> Iterator[list[IncidentRecord]]:
        """Incidents changed at or after ``since``, one list per page (``$top`` <= 100)."""
        self._check_page_size(page_size)
        return iter_pages(
            self,
            "/api/incidents",
            dict(since_filter(since)),
            _parse_incident_page,
            _incident_id,
            page_size=page_size,
            max_pages=max_pages,
            on_page=on_page,
        )

    iter_incidents = one_by_one(iter_incident_pages)

    def get_incident(self, incident_id: int) -> IncidentRecord:
        record: IncidentRecord = self._request(
            "GET", f"/api/incidents/{int(incident_id)}", parse=parse_incident
        )
        return record
