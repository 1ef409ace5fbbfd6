"""Clients for the Defender for Endpoint and Defender XDR REST APIs.

Everything that goes over the wire passes through one method,
:meth:`DefenderApiClient._request`, which:

* applies a timeout to every call and keeps each tenant under Microsoft's documented
  rate limits with a :class:`RateLimiter` (pluggable: a shared one can coordinate many
  processes);
* waits as Microsoft asks on HTTP 429 (``Retry-After``, else the seconds named in the
  message, else exponential backoff);
* retries server errors, timeouts and dropped connections with exponential backoff and
  jitter, bounded in attempts and in total waiting time;
* fetches a new token once on 401;
* turns every other failure into a typed error from :mod:`.errors`.

Listings come page by page, and a page is yielded only once every item on it parsed:
nothing is ever half-read silently.
"""

from __future__ import annotations

import bisect
import email.utils
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import quote, urlsplit

import requests

from .errors import (
    ApiError,
    Forbidden,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PageLimitExceeded,
    ServerError,
    Throttled,
    TransportError,
    Unauthorized,
)
from .http import DEFAULT_TIMEOUT, Timeout
from .records import (
    ALERT_CLASSIFICATIONS,
    AlertRecord,
    IncidentRecord,
    format_timestamp,
    parse_alert,
    parse_alert_page,
    parse_incident,
)

__all__ = [
    "MDE_ALERT_LIMITS",
    "NO_LIMIT",
    "XDR_INCIDENT_LIMITS",
    "ClientStats",
    "DefenderApiClient",
    "Limiter",
    "MdeClient",
    "PageInfo",
    "RateLimiter",
    "RetryPolicy",
    "XdrClient",
]

T = TypeVar("T")

#: Documented limits per application per tenant: (calls, window in seconds).
MDE_ALERT_LIMITS: tuple[tuple[int, float], ...] = ((100, 60.0), (1500, 3600.0))
XDR_INCIDENT_LIMITS: tuple[tuple[int, float], ...] = ((50, 60.0), (1500, 3600.0))

MDE_MAX_TOP = 10_000
XDR_MAX_TOP = 100


# --------------------------------------------------------------------------- limiting


class Limiter(Protocol):
    """Blocks until one more call for ``key`` fits the limits; returns seconds waited."""

    def acquire(self, key: str) -> float: ...


class _NoLimit:
    def acquire(self, key: str) -> float:
        return 0.0


#: Pass as ``limiter`` to switch client-side limiting off (Microsoft still limits).
NO_LIMIT: Limiter = _NoLimit()


class RateLimiter:
    """Sliding-window limiter kept in this process, one window log per key.

    ``limits`` are ``(calls, seconds)`` pairs that must all hold over any window of
    that length. Thread-safe; the clock and sleep are injectable for tests.
    """

    def __init__(
        self,
        limits: Sequence[tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not limits or any(n < 1 or w <= 0 for n, w in limits):
            raise ValueError("limits must be (calls >= 1, seconds > 0) pairs")
        self.limits = tuple(limits)
        self._horizon = max(w for _, w in self.limits)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._log: dict[str, list[float]] = {}

    def _wait_needed(self, log: list[float], now: float) -> float:
        wait = 0.0
        for calls, window in self.limits:
            # The calls-th most recent call must have left the window.
            if len(log) >= calls and log[-calls] > now - window:
                wait = max(wait, log[-calls] + window - now)
        return wait

    def acquire(self, key: str) -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                log = self._log.setdefault(key, [])
                del log[: bisect.bisect_right(log, now - self._horizon)]
                wait = self._wait_needed(log, now)
                if wait <= 0:
                    log.append(now)
                    return waited
            # Sleep outside the lock so other tenants are not held up.
            self._sleep(wait)
            waited += wait


# ----------------------------------------------------------------------------- retry


@dataclass(frozen=True)
class RetryPolicy:
    """How long the client keeps trying before it raises.

    ``max_attempts`` bounds tries after server errors and transport failures;
    ``max_throttled`` bounds waits after HTTP 429 (a storm of 429s is normal and
    Microsoft says how long to wait); ``max_total_wait`` bounds the seconds one call
    may spend waiting in all.
    """

    max_attempts: int = 6
    max_throttled: int = 20
    max_total_wait: float = 900.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_malformed: bool = True


@dataclass
class ClientStats:
    """Counters a sync records with its run."""

    api_calls: int = 0
    throttled_waits: int = 0
    throttled_seconds: float = 0.0
    retries: int = 0
    limiter_waits: int = 0
    limiter_seconds: float = 0.0
    token_refreshes: int = 0
    pages: int = 0
    items: int = 0

    def as_dict(self) -> dict[str, float]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class PageInfo:
    """What one page of a listing held (passed to ``on_page`` before it is yielded)."""

    number: int
    items: int
    new_items: int
    skip: int | None
    has_next: bool


_SECONDS_IN_MESSAGE = re.compile(r"again in (\d+(?:\.\d+)?) second", re.IGNORECASE)


def _retry_after_seconds(response: requests.Response, message: str) -> float | None:
    header = response.headers.get("Retry-After")
    if header:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
    match = _SECONDS_IN_MESSAGE.search(message or "")
    if match:
        return float(match.group(1))
    return None


def _error_fields(response: requests.Response) -> tuple[str | None, str]:
    """Microsoft's ``{"error": {"code", "message"}}``, or a short text excerpt."""
    try:
        body = response.json()
    except ValueError:
        return None, (response.text or "")[:300]
    if isinstance(body, dict):
        err = body.get("error")
        if isinstance(err, dict):
            code = err.get("code")
            message = err.get("message")
            return (
                str(code) if code is not None else None,
                str(message) if message is not None else "",
            )
        if isinstance(err, str):
            return err, str(body.get("error_description") or body.get("message") or "")
    return None, ""


# ----------------------------------------------------------------------------- client


class DefenderApiClient:
    """Base of the API clients: one tenant, one base URL, one ``_request``."""

    limits: ClassVar[tuple[tuple[int, float], ...]] = MDE_ALERT_LIMITS
    limiter_scope: ClassVar[str] = "defender"
    default_max_pages: ClassVar[int] = 10_000

    def __init__(
        self,
        base_url: str,
        tenant_id: str,
        get_token: Callable[[bool], str],
        *,
        session: requests.Session,
        limiter: Limiter | None = None,
        retry: RetryPolicy | None = None,
        timeout: Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
        prefetch: bool = True,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise ValueError("base_url must be an absolute http(s) URL")
        self.base_url = base_url.rstrip("/")
        self._origin = (parts.scheme.lower(), parts.netloc.lower())
        self.tenant_id = tenant_id
        self._get_token = get_token
        self.session = session
        self.limiter: Limiter = (
            limiter if limiter is not None else RateLimiter(self.limits, clock=clock, sleep=sleep)
        )
        self.retry = retry or RetryPolicy()
        self.timeout = timeout
        self._sleep = sleep
        self._jitter = jitter
        self.prefetch = prefetch
        self.stats = ClientStats()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r}, tenant_id={self.tenant_id!r})"

    @property
    def limiter_key(self) -> str:
        return f"{self.limiter_scope}:{self.tenant_id}"

    def _backoff(self, retry_number: int) -> float:
        policy = self.retry
        ceiling = min(policy.backoff_max, policy.backoff_base * 2.0**retry_number)
        # "Equal jitter": at least half the step, so retries stay spread but never bunch
        # at zero.
        return ceiling * (0.5 + 0.5 * self._jitter())

    def _url(self, path: str) -> str:
        if path.startswith(("https://", "http://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str | int] | None = None,
        json: Mapping[str, Any] | None = None,
        idempotent: bool = True,
        parse: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Send one API call with limiting, retries and typed errors; return its JSON.

        ``parse``, when given, turns the decoded JSON into the result and raises
        ``MalformedResponse`` when it cannot; like a body that is not JSON at all, that
        is retried (a GET is safe to repeat and a cut or garbled answer is usually
        transient) within the same bounds as server errors.
        """
        url = self._url(path)
        policy = self.retry
        failures = 0
        throttles = 0
        waited = 0.0
        refreshed = False
        token = self._get_token(False)

        def budget_allows(delay: float, more_allowed: bool) -> bool:
            return more_allowed and waited + delay <= policy.max_total_wait

        while True:
            limiter_wait = self.limiter.acquire(self.limiter_key)
            if limiter_wait > 0:
                self.stats.limiter_waits += 1
                self.stats.limiter_seconds += limiter_wait
            self.stats.api_calls += 1
            try:
                response = self.session.request(
                    method,
                    url,
                    params=params,
                    json=json,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=self.timeout,
                )
            except (
                requests.ConnectionError,
                requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.ContentDecodingError,
            ) as exc:
                # A write that may have reached Microsoft is not repeated blindly; a
                # refused connection never reached it.
                safe = idempotent or isinstance(exc, requests.ConnectTimeout)
                delay = self._backoff(failures)
                if safe and budget_allows(delay, failures + 1 < policy.max_attempts):
                    failures += 1
                    self._pause(delay, retried=True)
                    waited += delay
                    continue
                raise TransportError(None, type(exc).__name__, f"{method} {path} failed") from None

            status = response.status_code
            if 200 <= status < 300:
                if status == 204 or not response.content:
                    return None
                try:
                    body = response.json()
                    return parse(body) if parse is not None else body
                except ValueError:
                    problem = MalformedResponse(status, None, "answer is not valid JSON")
                except MalformedResponse as exc:
                    problem = exc
                delay = self._backoff(failures)
                if (
                    idempotent
                    and policy.retry_malformed
                    and budget_allows(delay, failures + 1 < policy.max_attempts)
                ):
                    failures += 1
                    self._pause(delay, retried=True)
                    waited += delay
                    continue
                raise problem

            code, message = _error_fields(response)
            if status == 401:
                if not refreshed:
                    refreshed = True
                    self.stats.token_refreshes += 1
                    token = self._get_token(True)
                    continue
                raise Unauthorized(status, code, message)
            if status == 429:
                hinted = _retry_after_seconds(response, message)
                delay = hinted if hinted is not None else self._backoff(throttles)
                if budget_allows(delay, throttles < policy.max_throttled):
                    throttles += 1
                    self.stats.throttled_waits += 1
                    self.stats.throttled_seconds += delay
                    self._pause(delay, retried=False)
                    waited += delay
                    continue
                raise Throttled(status, code, message, retry_after=hinted)
            if status >= 500:
                delay = self._backoff(failures)
                if idempotent and budget_allows(delay, failures + 1 < policy.max_attempts):
                    failures += 1
                    self._pause(delay, retried=True)
                    waited += delay
                    continue
                raise ServerError(status, code, message)
            if status == 400:
                raise InvalidRequest(status, code, message)
            if status == 403:
                raise Forbidden(status, code, message)
            if status == 404:
                raise NotFound(status, code, message)
            raise ApiError(status, code, message)

    def _pause(self, seconds: float, *, retried: bool) -> None:
        if retried:
            self.stats.retries += 1
        if seconds > 0:
            self._sleep(seconds)

    # -- paging -------------------------------------------------------------------

    def _envelope(self, body: Any) -> tuple[list[Any], str | None]:
        if not isinstance(body, dict) or not isinstance(body.get("value"), list):
            raise MalformedResponse(200, None, "answer is not an OData collection")
        next_link = body.get("@odata.nextLink")
        if next_link is not None and not isinstance(next_link, str):
            raise MalformedResponse(200, None, "@odata.nextLink is not a string")
        return body["value"], next_link or None

    def _same_origin(self, url: str) -> bool:
        parts = urlsplit(url)
        return (parts.scheme.lower(), parts.netloc.lower()) == self._origin

    def _pages(
        self,
        path: str,
        params: dict[str, str | int],
        parse_page: Callable[[list[Any]], list[T]],
        key: Callable[[T], object],
        *,
        page_size: int | None,
        max_pages: int | None,
        on_page: Callable[[PageInfo], None] | None,
    ) -> Iterator[list[T]]:
        """Yield parsed pages, by ``$top``/``$skip`` when ``page_size`` is set, else by
        ``@odata.nextLink``.

        Each page is parsed completely before any of it is handed out. With
        ``prefetch`` on, the next page is requested while this one is parsed and
        consumed, so the network wait overlaps the work. An item seen earlier in this
        listing is left out (a page boundary can move while Microsoft's data changes).
        """
        bound = self.default_max_pages if max_pages is None else max_pages
        seen: set[object] = set()
        number = 0
        skip = 0
        url: str = path
        query: dict[str, str | int] | None = dict(params)
        if page_size is not None:
            query = {**params, "$top": page_size, "$skip": 0}

        def fetch(
            fetch_url: str, fetch_query: dict[str, str | int] | None
        ) -> tuple[list[Any], str | None]:
            envelope: tuple[list[Any], str | None] = self._request(
                "GET", fetch_url, params=fetch_query, parse=self._envelope
            )
            return envelope

        def read_page(body: Any) -> list[T]:
            raw_items, _ = self._envelope(body)
            return parse_page(raw_items)

        executor = ThreadPoolExecutor(max_workers=1) if self.prefetch else None
        pending: Future[tuple[list[Any], str | None]] | None = None
        try:
            while True:
                if number >= bound:
                    raise PageLimitExceeded(None, None, f"more than {bound} pages")
                if pending is not None:
                    raw_items, next_link = pending.result()
                    pending = None
                else:
                    raw_items, next_link = fetch(url, query)
                number += 1

                next_url: str = url
                next_query: dict[str, str | int] | None = None
                if page_size is not None:
                    has_next = len(raw_items) >= page_size
                    next_query = {**params, "$top": page_size, "$skip": skip + page_size}
                else:
                    has_next = next_link is not None
                    if next_link is not None:
                        if not self._same_origin(next_link):
                            raise MalformedResponse(
                                200, None, "@odata.nextLink points outside the API host"
                            )
                        if next_link == url:
                            raise MalformedResponse(200, None, "@odata.nextLink repeats the page")
                        next_url = next_link
                if has_next and executor is not None and number < bound:
                    pending = executor.submit(fetch, next_url, next_query)

                try:
                    records = parse_page(raw_items)
                except MalformedResponse:
                    # A garbled item may be a passing fault: ask for the page again,
                    # with the usual retry bounds.
                    records = self._request("GET", url, params=query, parse=read_page)

                idents = list(map(key, records))
                unique = set(idents)
                if len(unique) == len(idents) and seen.isdisjoint(unique):
                    # The usual page: nothing on it was seen before.
                    seen |= unique
                    fresh = records
                else:
                    fresh = []
                    for ident, record in zip(idents, records, strict=True):
                        if ident not in seen:
                            seen.add(ident)
                            fresh.append(record)
                self.stats.pages += 1
                self.stats.items += len(fresh)
                if on_page is not None:
                    on_page(
                        PageInfo(
                            number=number,
                            items=len(records),
                            new_items=len(fresh),
                            skip=skip if page_size is not None else None,
                            has_next=has_next,
                        )
                    )
                yield fresh
                if not has_next:
                    return
                if page_size is not None:
                    skip += page_size
                url, query = next_url, next_query
        finally:
            if pending is not None:
                pending.cancel()
            if executor is not None:
                executor.shutdown(wait=False)


def _alert_id(alert: AlertRecord) -> object:
    return alert.id


def _incident_id(incident: IncidentRecord) -> object:
    return incident.incident_id


def _parse_incident_page(items: list[Any]) -> list[IncidentRecord]:
    return [parse_incident(item) for item in items]


def _since_filter(since: datetime | None, field_name: str = "lastUpdateTime") -> dict[str, str]:
    if since is None:
        return {}
    return {"$filter": f"{field_name} ge {format_timestamp(since)}"}


class MdeClient(DefenderApiClient):
    """Defender for Endpoint alerts of one customer tenant."""

    limits = MDE_ALERT_LIMITS
    limiter_scope = "mde"

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
        if page_size is not None and not 1 <= page_size <= MDE_MAX_TOP:
            raise ValueError(f"page_size must be between 1 and {MDE_MAX_TOP}")
        params: dict[str, str | int] = dict(_since_filter(since))
        if expand_evidence:
            params["$expand"] = "evidence"
        return self._pages(
            "/api/alerts",
            params,
            parse_alert_page,
            _alert_id,
            page_size=page_size,
            max_pages=max_pages,
            on_page=on_page,
        )

    def iter_alerts(
        self,
        *,
        since: datetime | None = None,
        page_size: int | None = None,
        expand_evidence: bool = False,
        max_pages: int | None = None,
        on_page: Callable[[PageInfo], None] | None = None,
    ) -> Iterator[AlertRecord]:
        """The alerts of :meth:`iter_alert_pages`, one by one."""
        for page in self.iter_alert_pages(
            since=since,
            page_size=page_size,
            expand_evidence=expand_evidence,
            max_pages=max_pages,
            on_page=on_page,
        ):
            yield from page

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
            for page in self._pages(
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
        if status is not None and status not in ("New", "InProgress", "Resolved"):
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


class XdrClient(DefenderApiClient):
    """Defender XDR incidents of one customer tenant."""

    limits = XDR_INCIDENT_LIMITS
    limiter_scope = "xdr"

    def iter_incident_pages(
        self,
        *,
        since: datetime | None = None,
        page_size: int | None = XDR_MAX_TOP,
        max_pages: int | None = None,
        on_page: Callable[[PageInfo], None] | None = None,
    ) -> Iterator[list[IncidentRecord]]:
        """Incidents changed at or after ``since``, one list per page (``$top`` <= 100)."""
        if page_size is not None and not 1 <= page_size <= XDR_MAX_TOP:
            raise ValueError(f"page_size must be between 1 and {XDR_MAX_TOP}")
        return self._pages(
            "/api/incidents",
            dict(_since_filter(since)),
            _parse_incident_page,
            _incident_id,
            page_size=page_size,
            max_pages=max_pages,
            on_page=on_page,
        )

    def iter_incidents(
        self,
        *,
        since: datetime | None = None,
        page_size: int | None = XDR_MAX_TOP,
        max_pages: int | None = None,
        on_page: Callable[[PageInfo], None] | None = None,
    ) -> Iterator[IncidentRecord]:
        for page in self.iter_incident_pages(
            since=since, page_size=page_size, max_pages=max_pages, on_page=on_page
        ):
            yield from page

    def get_incident(self, incident_id: int) -> IncidentRecord:
        record: IncidentRecord = self._request(
            "GET", f"/api/incidents/{int(incident_id)}", parse=parse_incident
        )
        return record
