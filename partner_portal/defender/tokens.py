"""App-only access tokens per customer tenant, shared by every worker.

:class:`TokenProvider` asks MSAL for client-credentials tokens, one
``ConfidentialClientApplication`` per customer tenant (MSAL has no per-request
authority), kept in a bounded LRU. MSAL's token cache is serialised into a pluggable
:class:`~.token_cache.TokenCacheBackend` so that all threads and processes share it:
under the backend's lock for that tenant the provider loads the latest serialised
cache, lets MSAL answer from it when it can, and saves it back only when MSAL changed
it. However many workers ask at once, one token request per tenant reaches Microsoft.
A token with enough life left is handed out again without any lock at all.

One provider serves every thread of its process (a worker in Celery's threads pool runs
many passes at once): the memo is written and pruned under the provider's lock and
read without it (one dict lookup), MSAL runs for a tenant only under that tenant's
lock, the token endpoint's last answer is remembered per thread, and the counters in
`stats` are counted under a lock of their own.

MSAL's failures become typed errors (:mod:`.identity_errors`): a refused token by its
AADSTS code, a discovery refusal as :class:`~.identity_errors.TenantNotFound`, network
and server trouble as :class:`~.identity_errors.TransientIdentityError`.

The partner app's credential is in :mod:`.credentials`, the cache backends in
:mod:`.token_cache`. Secrets and tokens never appear in ``repr``, exception messages
or logs.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

import msal
import requests

from .clouds import Endpoints, scope_for
from .consent import normalise_tenant_id
from .credentials import AppCredentials, check_private_key
from .http import DEFAULT_TIMEOUT, Timeout, make_session
from .identity_errors import (
    TenantNotFound,
    TokenError,
    TransientIdentityError,
    token_error_from_result,
)
from .token_cache import TokenCacheBackend

__all__ = ["AccessToken", "TokenProvider", "TokenSource"]

logger = logging.getLogger(__name__)

TokenSource = Literal["cache", "identity_provider"]

# MSAL treats tokens with less than five minutes left as expired; so does the
# in-process shortcut below, so both agree on when a new token is needed.
REFRESH_MARGIN = timedelta(minutes=5)


@dataclass(frozen=True)
class AccessToken:
    """A bearer token for one tenant and resource, with where it came from."""

    token: str = field(repr=False)
    expires_at: datetime
    source: TokenSource
    tenant_id: str
    resource: str

    def __repr__(self) -> str:
        return (
            f"AccessToken(token=<{len(self.token)} chars>, expires_at={self.expires_at!r}, "
            f"source={self.source!r}, tenant_id={self.tenant_id!r}, resource={self.resource!r})"
        )


@dataclass
class _TenantApp:
    app: msal.ConfidentialClientApplication
    cache: msal.SerializableTokenCache
    http_cache: dict[str, Any]


class _StatusRecorder(threading.local):
    """Remembers the last token-endpoint answer seen by this thread (for 429/5xx)."""

    status: int | None = None
    retry_after: str | None = None


@dataclass
class TokenStats:
    identity_provider_requests: int = 0
    cache_hits: int = 0
    memo_hits: int = 0


class TokenProvider:
    """App-only access tokens for customer tenants (client-credentials flow)."""

    def __init__(
        self,
        credentials: AppCredentials,
        endpoints: Endpoints,
        cache: TokenCacheBackend,
        *,
        ca_file: str | None = None,
        session: requests.Session | None = None,
        max_apps: int = 256,
        timeout: Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if max_apps < 1:
            raise ValueError("max_apps must be at least 1")
        if credentials.private_key_pem:
            check_private_key(credentials.private_key_pem)
        self.credentials = credentials
        self.endpoints = endpoints
        self.cache = cache
        self.max_apps = max_apps
        self.session = session or make_session(ca_file, timeout=timeout)
        self._recorder = _StatusRecorder()
        self.session.hooks["response"].append(self._record_response)
        self._clock = clock
        self._apps: OrderedDict[str, _TenantApp] = OrderedDict()
        self._apps_lock = threading.Lock()
        self._tenant_locks: dict[str, threading.Lock] = {}
        self._memo: dict[tuple[str, str], AccessToken] = {}
        self.stats = TokenStats()
        self._stats_lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"TokenProvider(client_id={self.credentials.client_id!r}, "
            f"login_url={self.endpoints.login_url!r}, credential={self.credentials.kind})"
        )

    # -- helpers ------------------------------------------------------------------

    def _record_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._recorder.status = response.status_code
        self._recorder.retry_after = response.headers.get("Retry-After")

    def _count(self, source: TokenSource | Literal["memo"]) -> None:
        with self._stats_lock:
            if source == "memo":
                self.stats.memo_hits += 1
            elif source == "cache":
                self.stats.cache_hits += 1
            else:
                self.stats.identity_provider_requests += 1

    def cache_key(self, tenant_id: str) -> str:
        host = self.endpoints.login_host
        return f"msal-token-cache:{host}:{self.credentials.client_id}:{tenant_id}"

    def _tenant_lock(self, tenant_id: str) -> threading.Lock:
        with self._apps_lock:
            return self._tenant_locks.setdefault(tenant_id, threading.Lock())

    def _app(self, tenant_id: str) -> _TenantApp:
        with self._apps_lock:
            entry = self._apps.get(tenant_id)
            if entry is not None:
                self._apps.move_to_end(tenant_id)
                return entry
        entry = self._build_app(tenant_id)
        with self._apps_lock:
            self._apps[tenant_id] = entry
            self._apps.move_to_end(tenant_id)
            while len(self._apps) > self.max_apps:
                evicted, _ = self._apps.popitem(last=False)
                self._tenant_locks.pop(evicted, None)
        return entry

    def _build_app(self, tenant_id: str) -> _TenantApp:
        token_cache = msal.SerializableTokenCache()
        http_cache: dict[str, Any] = {}
        kwargs: dict[str, Any] = {}
        if not self.endpoints.is_microsoft_login:
            # MSAL would ask login.microsoftonline.com whether the host is genuine.
            kwargs["instance_discovery"] = False
        try:
            app = msal.ConfidentialClientApplication(
                self.credentials.client_id,
                client_credential=self.credentials.msal_credential(),
                authority=f"{self.endpoints.login_url}/{tenant_id}",
                token_cache=token_cache,
                http_client=self.session,
                http_cache=http_cache,
                **kwargs,
            )
        except ValueError as exc:
            # MSAL raises ValueError when the tenant's discovery document is refused
            # (4xx): Microsoft's way of saying the tenant does not exist.
            raise TenantNotFound(
                "Microsoft has no OpenID configuration for this tenant.",
                tenant_id=tenant_id,
                http_status=self._recorder.status,
            ) from exc
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            raise TransientIdentityError(
                f"Discovery request failed: {type(exc).__name__}", tenant_id=tenant_id
            ) from None
        return _TenantApp(app=app, cache=token_cache, http_cache=http_cache)

    def forget(self, tenant_id: str) -> None:
        """Drop what this process holds for a tenant (after consent changed, say)."""
        tid = normalise_tenant_id(tenant_id) or tenant_id
        with self._apps_lock:
            self._apps.pop(tid, None)
            for key in [k for k in self._memo if k[0] == tid]:
                del self._memo[key]

    @property
    def app_count(self) -> int:
        with self._apps_lock:
            return len(self._apps)

    # -- tokens -------------------------------------------------------------------

    def get(self, tenant_id: str, resource: str, *, force_refresh: bool = False) -> AccessToken:
        """A valid token for ``resource`` in ``tenant_id`` (cached when possible).

        ``force_refresh`` discards the cached token (for example after the API answered
        401) and asks Microsoft for a new one.
        """
        tid = normalise_tenant_id(tenant_id)
        if tid is None:
            raise ValueError("tenant_id must be a GUID")
        resource = resource.rstrip("/")
        memo_key = (tid, resource)
        if not force_refresh:
            # Shortcut without any lock: this process already holds a token with enough
            # life left, and MSAL would hand out the same one.
            memo = self._memo.get(memo_key)
            if memo is not None and memo.expires_at - self._clock() > REFRESH_MARGIN:
                self._count("memo")
                return AccessToken(memo.token, memo.expires_at, "cache", tid, resource)

        key = self.cache_key(tid)
        with self._tenant_lock(tid), self.cache.lock(key):
            entry = self._app(tid)
            entry.cache.deserialize(self.cache.load(key))
            if force_refresh:
                self._drop_access_tokens(entry, resource)
                entry.http_cache.clear()
            self._recorder.status = None
            try:
                result = entry.app.acquire_token_for_client(scopes=[scope_for(resource)])
            except requests.RequestException as exc:
                raise TransientIdentityError(
                    f"Token request failed: {type(exc).__name__}", tenant_id=tid
                ) from None
            except msal.exceptions.MsalServiceError:
                raise TransientIdentityError(
                    "Token endpoint answered with a server error.",
                    tenant_id=tid,
                    http_status=self._recorder.status,
                ) from None
            except ValueError:
                # MSAL could not decode the token endpoint's answer.
                raise TransientIdentityError(
                    "Token endpoint answered with something that is not JSON.",
                    tenant_id=tid,
                    http_status=self._recorder.status,
                ) from None
            if "access_token" not in result:
                # A failed attempt must not be replayed by MSAL's own HTTP cache when
                # somebody fixes the cause and tries again.
                entry.http_cache.clear()
                raise self._error(result, tid)
            if entry.cache.has_state_changed:
                self.cache.save(key, entry.cache.serialize(), self._ttl(entry.cache))
                entry.cache.has_state_changed = False
        source: TokenSource = (
            "cache" if result.get("token_source") == "cache" else "identity_provider"
        )
        self._count(source)
        try:
            lifetime = int(result.get("expires_in", 0))
        except (TypeError, ValueError):
            lifetime = 0
        token = AccessToken(
            token=result["access_token"],
            expires_at=self._clock() + timedelta(seconds=lifetime),
            source=source,
            tenant_id=tid,
            resource=resource,
        )
        with self._apps_lock:  # forget() prunes the memo under this lock
            self._memo[memo_key] = token
        return token

    def _error(self, result: dict[str, Any], tenant_id: str) -> TokenError:
        retry_after: float | None = None
        if self._recorder.retry_after:
            try:
                retry_after = float(self._recorder.retry_after)
            except ValueError:
                retry_after = None
        error = token_error_from_result(
            result,
            tenant_id=tenant_id,
            http_status=self._recorder.status,
            retry_after=retry_after,
        )
        logger.warning(
            "Token request refused for tenant %s: %s (AADSTS%s)",
            tenant_id,
            type(error).__name__,
            error.aadsts_code,
        )
        return error

    def _drop_access_tokens(self, entry: _TenantApp, resource: str) -> None:
        wanted = scope_for(resource).lower()
        for item in list(
            entry.cache.search(
                msal.TokenCache.CredentialType.ACCESS_TOKEN,
                query={"client_id": self.credentials.client_id},
            )
        ):
            targets = str(item.get("target", "")).lower().split()
            if wanted in targets:
                entry.cache.remove_at(item)

    def _ttl(self, cache: msal.SerializableTokenCache) -> int:
        """Keep the serialised cache as long as its longest-lived access token."""
        now = int(time.time())
        longest = 0
        for item in cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN):
            try:
                longest = max(longest, int(item.get("expires_on", 0)) - now)
            except (TypeError, ValueError):
                continue
        return max(60, longest + 60)
