"""The base of the API clients: one tenant, one host, one door for every call.

Every call to a Microsoft API goes through :meth:`DefenderApiClient._request`, which:

* applies a timeout to every call and keeps the tenant under the API's documented rate
  limits with a :class:`~.rate_limit.Limiter` (pluggable: a shared one can coordinate
  many processes);
* waits as Microsoft asks on HTTP 429 (``Retry-After`` in seconds or as a date, else the
  seconds named in the message, else exponential backoff);
* retries server errors, timeouts, dropped connections and unreadable answers with
  exponential backoff and jitter, bounded in attempts and in total waiting time
  (:class:`~.retry.RetryPolicy`); a write that may have reached Microsoft is not repeated;
* fetches a new token once on 401;
* turns every other failure into a typed error from :mod:`.errors`.

Listings come page by page through :func:`.paging.iter_pages`, and every call is
counted in :class:`ClientStats`.

One module per API builds on this base (:mod:`.mde` for Defender for Endpoint alerts,
:mod:`.xdr` for Defender XDR incidents). What differs between APIs is declared as class
attributes: where the API lives in a cloud's :class:`~.clouds.Endpoints`
(``endpoint_field``, ``base_path``) and its token audience (``resource_field``), its
documented ``limits``, its largest page (``max_page_size``), the headers it needs; and
two small hooks read Microsoft's answers: :meth:`~DefenderApiClient.error_fields`
(``{"error": {"code", "message"}}``) and :meth:`~DefenderApiClient.retry_after`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self
from urllib.parse import urlsplit

import requests

from .clouds import Endpoints, scope_for
from .errors import (
    ApiError,
    Forbidden,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    ServerError,
    Throttled,
    TransportError,
    Unauthorized,
)
from .http import DEFAULT_TIMEOUT, Timeout
from .rate_limit import Limiter, Limits, RateLimiter
from .retry import RetryPolicy, backoff_delay, retry_after_seconds

__all__ = ["ClientStats", "DefenderApiClient"]

_ENDPOINT_FIELDS = frozenset(f.name for f in fields(Endpoints))


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


class DefenderApiClient:
    """Base of the API clients: one tenant, one base URL, one ``_request``.

    A subclass declares its API (see the module's story); ``limits`` is required.
    """

    #: The field of :class:`~.clouds.Endpoints` that holds the API's URL, the path
    #: under it where the API starts, and the field that holds its token audience.
    endpoint_field: ClassVar[str] = ""
    base_path: ClassVar[str] = ""
    resource_field: ClassVar[str] = ""
    #: The API's documented limits per application per tenant, and the limiter's key.
    limits: ClassVar[Limits] = ()
    limiter_scope: ClassVar[str] = "defender"
    #: The largest ``$top`` the API takes, and how many pages a listing may run to.
    max_page_size: ClassVar[int] = 10_000
    default_max_pages: ClassVar[int] = 10_000
    #: Sent with every call (besides the token).
    default_headers: ClassVar[Mapping[str, str]] = {"Accept": "application/json"}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("endpoint_field", "resource_field"):
            value = getattr(cls, name)
            if value and value not in _ENDPOINT_FIELDS:
                raise TypeError(f"{cls.__name__}.{name}: Endpoints has no field {value!r}")

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
        if limiter is None and not self.limits:
            raise TypeError(f"{type(self).__name__} declares no limits; pass a limiter")
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

    # -- where the API lives ------------------------------------------------------

    @classmethod
    def base_url_for(cls, endpoints: Endpoints) -> str:
        """The API's base URL in ``endpoints`` (a cloud's, or the sandbox's)."""
        if not cls.endpoint_field:
            raise TypeError(f"{cls.__name__} declares no endpoint_field")
        url: str = getattr(endpoints, cls.endpoint_field)
        return url + cls.base_path

    @classmethod
    def resource_for(cls, endpoints: Endpoints) -> str:
        """The token audience of the API in ``endpoints``' cloud."""
        if not cls.resource_field:
            raise TypeError(f"{cls.__name__} declares no resource_field")
        resource: str = getattr(endpoints, cls.resource_field)
        return resource

    @classmethod
    def scope_for(cls, endpoints: Endpoints) -> str:
        """The client-credentials scope of the API: ``{resource}/.default``."""
        return scope_for(cls.resource_for(endpoints))

    @classmethod
    def for_endpoints(
        cls, endpoints: Endpoints, tenant_id: str, get_token: Callable[[bool], str], **kwargs: Any
    ) -> Self:
        """A client of this API in ``endpoints``; ``get_token`` must give tokens for
        :meth:`resource_for`."""
        return cls(cls.base_url_for(endpoints), tenant_id, get_token, **kwargs)

    @property
    def limiter_key(self) -> str:
        return f"{self.limiter_scope}:{self.tenant_id}"

    # -- reading Microsoft's answers (hooks) --------------------------------------

    def error_fields(self, response: requests.Response) -> tuple[str | None, str]:
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

    def retry_after(self, response: requests.Response, message: str) -> float | None:
        """Seconds a 429 asks to wait (``Retry-After``, else the message), or None."""
        return retry_after_seconds(response, message)

    # -- the door -----------------------------------------------------------------

    def _backoff(self, retry_number: int) -> float:
        return backoff_delay(self.retry, retry_number, self._jitter())

    def _url(self, path: str) -> str:
        if path.startswith(("https://", "http://")):
            return path
        return f"{self.base_url}/{path.lstrip('/')}"

    def same_origin(self, url: str) -> bool:
        """Whether ``url`` is on the API's own scheme, host and port."""
        parts = urlsplit(url)
        return (parts.scheme.lower(), parts.netloc.lower()) == self._origin

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

        def backed_off(safe: bool) -> bool:
            """After a failed attempt: wait and say so when another one is safe and
            within the policy's attempts and total wait."""
            nonlocal failures, waited
            delay = self._backoff(failures)
            if not (safe and budget_allows(delay, failures + 1 < policy.max_attempts)):
                return False
            failures += 1
            self._pause(delay, retried=True)
            waited += delay
            return True

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
                    headers={**self.default_headers, "Authorization": f"Bearer {token}"},
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
                if backed_off(idempotent or isinstance(exc, requests.ConnectTimeout)):
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
                if backed_off(idempotent and policy.retry_malformed):
                    continue
                raise problem

            code, message = self.error_fields(response)
            if status == 401:
                if not refreshed:
                    refreshed = True
                    self.stats.token_refreshes += 1
                    token = self._get_token(True)
                    continue
                raise Unauthorized(status, code, message)
            if status == 429:
                hinted = self.retry_after(response, message)
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
                if backed_off(idempotent):
                    continue
                raise ServerError(status, code, message)
            if status == 400:
                raise InvalidRequest(status, code, message)
            if status == 403:
                # Roles are fixed when a token is issued: one cached from before the
                # customer's admin granted a permission (a re-consent, say) lacks it for
                # up to an hour. A refused request changed nothing, so ask for a fresh
                # token once before blaming the customer's consent.
                if not refreshed:
                    refreshed = True
                    self.stats.token_refreshes += 1
                    token = self._get_token(True)
                    continue
                raise Forbidden(status, code, message)
            if status == 404:
                raise NotFound(status, code, message)
            raise ApiError(status, code, message)

    def _pause(self, seconds: float, *, retried: bool) -> None:
        if retried:
            self.stats.retries += 1
        if seconds > 0:
            self._sleep(seconds)

    # -- listings -----------------------------------------------------------------

    def _check_page_size(self, page_size: int | None) -> None:
        if page_size is not None and not 1 <= page_size <= self.max_page_size:
            raise ValueError(f"page_size must be between 1 and {self.max_page_size}")
