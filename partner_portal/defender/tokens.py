"""Client-credentials tokens per customer tenant, shared by every worker.

:class:`TokenProvider` asks MSAL for app-only tokens, one
``ConfidentialClientApplication`` per customer tenant (MSAL has no per-request
authority). MSAL's token cache is serialised into a pluggable
:class:`TokenCacheBackend` so that all threads and processes share it: under the
backend's lock for that tenant the provider loads the latest serialised cache, lets MSAL
answer from it when it can, and saves it back only when MSAL changed it. However many
workers ask at once, one token request per tenant reaches Microsoft.

Secrets and tokens never appear in ``repr``, exception messages or logs.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import jwt
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from .clouds import Endpoints, scope_for
from .consent import normalise_tenant_id
from .http import DEFAULT_TIMEOUT, Timeout, make_session
from .identity_errors import (
    TenantNotFound,
    TokenError,
    TransientIdentityError,
    token_error_from_result,
)

__all__ = [
    "AccessToken",
    "AppCredentials",
    "FileTokenCache",
    "InMemoryTokenCache",
    "TokenCacheBackend",
    "TokenProvider",
    "TokenSource",
]

logger = logging.getLogger(__name__)

TokenSource = Literal["cache", "identity_provider"]

# MSAL treats tokens with less than five minutes left as expired; so does the
# in-process shortcut below, so both agree on when a new token is needed.
REFRESH_MARGIN = timedelta(minutes=5)


# ----------------------------------------------------------------------- credentials


@dataclass(frozen=True)
class AppCredentials:
    """The partner application's identity: a client secret or a certificate.

    For a certificate give the private key (PEM) and the certificate's SHA-1
    thumbprint (hex, as the app registration shows it); the public certificate is
    optional (it enables subject-name/issuer authentication).
    """

    client_id: str
    client_secret: str | None = field(default=None, repr=False)
    private_key_pem: str | None = field(default=None, repr=False)
    thumbprint: str | None = None
    public_certificate: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if not self.client_id:
            raise ValueError("client_id is required")
        has_cert = bool(self.private_key_pem)
        if bool(self.client_secret) == has_cert:
            raise ValueError("give either a client secret or a certificate private key")
        if has_cert and not self.thumbprint:
            raise ValueError("a certificate credential needs its thumbprint")

    @classmethod
    def from_certificate_files(
        cls,
        client_id: str,
        private_key_file: str | os.PathLike[str],
        certificate_file: str | os.PathLike[str] | None = None,
        thumbprint: str | None = None,
    ) -> AppCredentials:
        """Read a PEM key (and certificate); the thumbprint is computed if not given."""
        key = Path(private_key_file).read_text()
        cert_pem = Path(certificate_file).read_text() if certificate_file else None
        if thumbprint is None:
            if cert_pem is None:
                raise ValueError("give the certificate file or its thumbprint")
            thumbprint = certificate_thumbprint(cert_pem)
        return cls(
            client_id=client_id,
            private_key_pem=key,
            thumbprint=thumbprint.replace(":", "").upper(),
            public_certificate=cert_pem,
        )

    @property
    def kind(self) -> Literal["secret", "certificate"]:
        return "secret" if self.client_secret else "certificate"

    def msal_credential(self) -> str | dict[str, str]:
        if self.client_secret:
            return self.client_secret
        assert self.private_key_pem and self.thumbprint
        credential = {"private_key": self.private_key_pem, "thumbprint": self.thumbprint}
        if self.public_certificate:
            credential["public_certificate"] = self.public_certificate
        return credential

    def client_auth_fields(self, token_endpoint: str) -> dict[str, str]:
        """Form fields that authenticate the app at ``token_endpoint`` (direct POSTs)."""
        if self.client_secret:
            return {"client_id": self.client_id, "client_secret": self.client_secret}
        assert self.private_key_pem and self.thumbprint
        now = int(time.time())
        # Same encoding as MSAL's own assertions (base64url, padding kept), so Microsoft
        # and the sandbox see one format whichever path signed in.
        x5t = base64.urlsafe_b64encode(bytes.fromhex(self.thumbprint)).decode()
        assertion = jwt.encode(
            {
                "aud": token_endpoint,
                "iss": self.client_id,
                "sub": self.client_id,
                "jti": str(uuid.uuid4()),
                "nbf": now,
                "iat": now,
                "exp": now + 600,
            },
            self.private_key_pem,
            algorithm="RS256",
            headers={"x5t": x5t},
        )
        return {
            "client_id": self.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        }


def certificate_thumbprint(certificate_pem: str) -> str:
    """SHA-1 thumbprint (upper-case hex) of a PEM certificate, as Entra ID shows it."""
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    return cert.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 (Entra's x5t is SHA-1)


def _check_private_key(pem: str) -> None:
    serialization.load_pem_private_key(pem.encode(), password=None)


# ----------------------------------------------------------------------------- cache


@runtime_checkable
class TokenCacheBackend(Protocol):
    """Where serialised MSAL caches live, shared by every worker that should share tokens.

    ``lock(key)`` must exclude every other holder of the same key, in this process and
    in others, for as long as the context lasts.
    """

    def load(self, key: str) -> str | None: ...

    def save(self, key: str, blob: str, ttl_seconds: int) -> None: ...

    def lock(self, key: str) -> AbstractContextManager[object]: ...


class InMemoryTokenCache:
    """A process-local backend (tests, single-process tools)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.saves = 0

    def load(self, key: str) -> str | None:
        with self._guard:
            entry = self._data.get(key)
            if entry is None:
                return None
            blob, expires = entry
            if expires <= self._clock():
                del self._data[key]
                return None
            return blob

    def save(self, key: str, blob: str, ttl_seconds: int) -> None:
        with self._guard:
            self._data[key] = (blob, self._clock() + max(1, ttl_seconds))
            self.saves += 1

    def lock(self, key: str) -> AbstractContextManager[object]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        return lock


class FileTokenCache:
    """A backend in a local directory, shared by every process on this machine.

    Each key has a data file (replaced atomically) and a lock file held with
    ``flock``. ``flock`` locks belong to the open file, so two threads of one process
    that each open the lock file also exclude each other. Files are private to the
    user (mode 600): they contain access tokens.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, key: str, suffix: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:40]
        return self.directory / f"{digest}{suffix}"

    def load(self, key: str) -> str | None:
        try:
            with open(self._path(key, ".json"), encoding="utf-8") as fh:
                entry = json.load(fh)
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        if float(entry.get("expires_at", 0)) <= time.time():
            return None
        blob = entry.get("blob")
        return blob if isinstance(blob, str) else None

    def save(self, key: str, blob: str, ttl_seconds: int) -> None:
        target = self._path(key, ".json")
        entry = {"key": key, "expires_at": time.time() + max(1, ttl_seconds), "blob": blob}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        fd = os.open(self._path(key, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def lock(self, key: str) -> AbstractContextManager[object]:
        return self._locked(key)


# ---------------------------------------------------------------------------- tokens


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
            _check_private_key(credentials.private_key_pem)
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

    def __repr__(self) -> str:
        return (
            f"TokenProvider(client_id={self.credentials.client_id!r}, "
            f"login_url={self.endpoints.login_url!r}, credential={self.credentials.kind})"
        )

    # -- helpers ------------------------------------------------------------------

    def _record_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._recorder.status = response.status_code
        self._recorder.retry_after = response.headers.get("Retry-After")

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
                self.stats.memo_hits += 1
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
        if source == "cache":
            self.stats.cache_hits += 1
        else:
            self.stats.identity_provider_requests += 1
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
