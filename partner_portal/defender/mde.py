"""The Defender for Endpoint alerts API (``/api/alerts``) of one customer tenant.

:class:`MdeClient` lists alerts changed since a time, page by page (``$top`` up to
10,000 with ``$skip``, or Microsoft's ``@odata.nextLink``), optionally with their
evidence; fetches named alerts a batch at a time with one ``$filter`` each (evidence
for many new alerts in a few calls); reads one alert; and changes an alert's status,
assignee, classification or determination, or adds a comment (``Alert.ReadWrite.All``).
Alerts come back as :class:`~.records.AlertRecord`.

The API's documented limits, 100 calls a minute and 1,500 an hour per application per
tenant, are declared here (:data:`MDE_ALERT_LIMITS`) and kept by the base client
(:mod:`.client`), which also handles retries, throttling and typed errors. Microsoft
retires this API on 1 February 2027 in favour of Microsoft Graph security.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from urllib.parse import quote

from .client import DefenderApiClient
from .paging import PageInfo, iter_pages, one_by_one, since_filter
from .rate_limit import Limits, per_hour, per_minute
from .records import (
    ALERT_CLASSIFICATIONS,
    SETTABLE_ALERT_STATUSES,
    AlertRecord,
    parse_alert,
    parse_alert_page,
)

__all__ = ["MDE_ALERT_LIMITS", "MDE_MAX_TOP", "MdeClient"]

#: Documented limits per application per tenant.
MDE_ALERT_LIMITS: Limits = (per_minute(100), per_hour(1500))
#: The largest ``$top`` the alerts API takes.
MDE_MAX_TOP = 10_000


def _alert_id(alert: AlertRecord) -> object:
    return alert.id


class MdeClient(DefenderApiClient):
    """Defender for Endpoint alerts of one customer tenant."""

    endpoint_field = "mde_api_url"
    resource_field = "mde_resource"
    limits = MDE_ALERT_LIMITS
    limiter_scope = "mde"
    max_page_size = MDE_MAX_TOP

    def iter_alert_pages(
        self,
        *,
        since: datetime | None = None,
        page_size: int | None = None,
        expand_evidence: bool = False,
        max_pages: int | None = None,
        on_page: Callable[[PageInfo], None] | None = None,
    ) -> Iterator[list[AlertRecord]]:
        """Alerts changed at or after ``since``, one list per page.

        With ``page_size`` the pages are fetched with ``$top``/``$skip`` (at most
        10,000 per page) and the listing ends at the first short page; without it,
        Microsoft's ``@odata.nextLink`` is followed (on the API host only).
        """
        self._check_page_size(page_size)
        params: dict[str, str | int] = dict(since_filter(since))
        if expand_evidence:
            params["$expand"] = "evidence"
        return iter_pages(
            self,
            "/api/alerts",
            params,
            parse_alert_page,
            _alert_id,
            page_size=page_size,
            max_pages=max_pages,
            on_page=on_page,
        )

    iter_alerts = one_by_one(iter_alert_pages)

    def iter_alerts_by_id(
        self, alert_ids: Sequence[str], *, expand_evidence: bool = True, batch_size: int = 20
    ) -> Iterator[AlertRecord]:
        """The named alerts, fetched ``batch_size`` at a time with one ``$filter`` each
        (``id eq 'a' or id eq 'b' ...``), so that evidence for many new alerts costs a
        few calls rather than one per alert."""
        if not 1 <= batch_size <= 50:
            raise ValueError("batch_size must be between 1 and 50")
        unique = list(dict.fromkeys(alert_ids))
        for start in range(0, len(unique), batch_size):
            chunk = unique[start : start + batch_size]
            quoted = " or ".join(
                "id eq '" + alert_id.replace("'", "''") + "'" for alert_id in chunk
            )
            params: dict[str, str | int] = {"$filter": quoted}
            if expand_evidence:
                params["$expand"] = "evidence"
            for page in iter_pages(
                self,
                "/api/alerts",
                params,
                parse_alert_page,
                _alert_id,
                page_size=None,
                max_pages=2,
                on_page=None,
            ):
                yield from page

    def get_alert(self, alert_id: str) -> AlertRecord:
        path = f"/api/alerts/{quote(alert_id, safe='')}"
        record: AlertRecord = self._request("GET", path, parse=parse_alert)
        return record

    def update_alert(
        self,
        alert_id: str,
        *,
        status: str | None = None,
        assigned_to: str | None = None,
        classification: str | None = None,
        determination: str | None = None,
        comment: str | None = None,
    ) -> AlertRecord:
        """Change an alert in Defender and return it as Defender now has it.

        Needs ``Alert.ReadWrite.All``. A call with a comment is not retried after a
        dropped connection: the comment may already have been added.
        """
        if status is not None and status not in SETTABLE_ALERT_STATUSES:
            raise ValueError("status must be New, InProgress or Resolved")
        if classification is not None and classification not in ALERT_CLASSIFICATIONS:
            raise ValueError(f"unknown classification {classification!r}")
        body = {
            name: value
            for name, value in (
                ("status", status),
                ("assignedTo", assigned_to),
                ("classification", classification),
                ("determination", determination),
                ("comment", comment),
            )
            if value is not None
        }
        if not body:
            raise ValueError("nothing to update")
        record: AlertRecord = self._request(
            "PATCH",
            f"/api/alerts/{quote(alert_id, safe='')}",
            json=body,
            idempotent=comment is None,
            parse=parse_alert,
        )
        return record
