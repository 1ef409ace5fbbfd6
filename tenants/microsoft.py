"""The portal's one door to the Microsoft protocol core.

Reads the partner app from settings (or, with none configured, from the sandbox's
sandbox.json), and hands out per-process token providers, validators and API clients
for a customer, the customer admin's sign-in, and looks up the tenant behind a domain.
The partner's own staff sign in through ``tenants/staff_directory.py``, which builds on
the same providers and validators. Nothing else in the Django code builds these or
talks to Microsoft.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import redis
import requests
from django.conf import settings
from django.urls import reverse

from partner_portal.defender import (
    AdminSignIn,
    AppCredentials,
    DefenderApiClient,
    Endpoints,
    FileTokenCache,
    GraphClient,
    Limiter,
    MdeClient,
    RateLimiter,
    TokenCacheBackend,
    TokenProvider,
    TokenValidator,
    XdrClient,
    endpoints_for,
    make_session,
    normalise_tenant_id,
    resolve_tenant_id,
)

if TYPE_CHECKING:
    from tenants.models import Customer

ClientT = TypeVar("ClientT", bound=DefenderApiClient)


class PartnerAppNotConfigured(RuntimeError):
    """Neither a partner app nor a running sandbox is configured."""

    failure_code = "not_configured"

    @property
    def explanation(self) -> str:
        return str(self)  # says which settings to set; no secret is in it


@dataclass(frozen=True)
class PartnerApp:
    """The partner's multi-tenant Entra ID app and where Microsoft (or the sandbox) is."""

    credentials: AppCredentials
    login_url: str
    mde_api_url: str
    xdr_api_url: str
    ca_file: str | None
    uses_sandbox: bool
    #: The Microsoft Graph host (``/v1.0`` is added by the client); empty: the cloud's.
    graph_url: str = ""
    #: Where a person's browser signs in and consents; empty: ``login_url``.
    browser_login_url: str = ""
    #: The sandbox's partner tenant, for staff sign-in: (tenant ID, STAFF_SIGNIN_GROUPS
    #: as the demo maps its groups and app roles). None outside the sandbox.
    sandbox_staff: tuple[str, str] | None = None

    @property
    def client_id(self) -> str:
        return self.credentials.client_id


_lock = threading.Lock()
_sandbox_cache: dict[str, tuple[float, PartnerApp]] = {}
_providers: dict[tuple[str, str, str], TokenProvider] = {}
_validators: dict[tuple[str, str], TokenValidator] = {}
_limiters: dict[tuple[str, tuple[tuple[int, float], ...]], Limiter] = {}
# Without Redis: one in-process limiter per set of limits, shared by this worker's threads.
_local_limiters: dict[tuple[tuple[int, float], ...], Limiter] = {}
_local = threading.local()


def _from_settings() -> PartnerApp:
    if settings.PARTNER_APP_CERTIFICATE_KEY_FILE:
        credentials = AppCredentials(
            client_id=settings.PARTNER_APP_CLIENT_ID,
            private_key_pem=Path(settings.PARTNER_APP_CERTIFICATE_KEY_FILE).read_text(),
            thumbprint=settings.PARTNER_APP_CERTIFICATE_THUMBPRINT,
        )
    else:
        credentials = AppCredentials(
            client_id=settings.PARTNER_APP_CLIENT_ID,
            client_secret=settings.PARTNER_APP_CLIENT_SECRET,
        )
    return PartnerApp(
        credentials=credentials,
        login_url=settings.MICROSOFT_LOGIN_URL,
        mde_api_url=settings.MICROSOFT_MDE_API_URL,
        xdr_api_url=settings.MICROSOFT_XDR_API_URL,
        ca_file=settings.MICROSOFT_CA_FILE or None,
        uses_sandbox=False,
        graph_url=settings.MICROSOFT_GRAPH_URL,
        browser_login_url=settings.MICROSOFT_LOGIN_BROWSER_URL,
    )


def _from_sandbox(path: Path) -> PartnerApp:
    try:
        mtime = path.stat().st_mtime
    except FileNotFoundError:
        raise PartnerAppNotConfigured(
            "No partner app is configured (PARTNER_APP_CLIENT_ID) and no sandbox has "
            f"described itself at {path}. Start the portal with `make run`, or configure "
            "the partner app."
        ) from None
    cached = _sandbox_cache.get(str(path))
    if cached and cached[0] == mtime:
        return cached[1]
    config = json.loads(path.read_text())
    partner = config.get("partner_tenant") or None
    staff = None
    if partner:
        # Its groups by object ID, and the partner app's app roles by value.
        entries = [f"{g['object_id']}={g['portal_role']}" for g in partner["groups"]]
        entries += [f"{r['value']}={r['portal_role']}" for r in partner.get("app_roles", [])]
        staff = (str(partner["tenant_id"]), ",".join(e for e in entries if not e.endswith("=")))
    app = PartnerApp(
        credentials=AppCredentials(
            client_id=config["client_id"], client_secret=config["client_secret"]
        ),
        login_url=config["login_url"],
        mde_api_url=config["api_url"],
        xdr_api_url=config["xdr_api_url"],
        ca_file=config["ca_file"],
        uses_sandbox=True,
        graph_url=config.get("graph_url", ""),
        browser_login_url=config.get("browser_login_url", ""),
        sandbox_staff=staff,
    )
    _sandbox_cache[str(path)] = (mtime, app)
    return app


def partner_app() -> PartnerApp:
    """The configured partner app; raises `PartnerAppNotConfigured` with what to do."""
    if settings.PARTNER_APP_CLIENT_ID:
        return _from_settings()
    return _from_sandbox(Path(settings.SANDBOX_CONFIG_FILE))


def consent_redirect_uri() -> str:
    """The redirect URI registered on the partner app (built from PUBLIC_BASE_URL)."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("tenants:consent_callback")


def endpoints_for_customer(customer: Customer, app: PartnerApp | None = None) -> Endpoints:
    app = app or partner_app()
    return endpoints_for(
        customer.cloud,
        customer.api_region or None,
        login_url=app.login_url or None,
        mde_api_url=app.mde_api_url or None,
        xdr_api_url=app.xdr_api_url or None,
        graph_url=app.graph_url or None,
        browser_login_url=app.browser_login_url or None,
    )


def tenant_id_for(expected_tenant: str, *, cloud: str) -> str:
    """The tenant ID an expected tenant stands for: a GUID as given, a domain looked up.

    The look-up asks the sign-in host of the customer's cloud (or the sandbox) for the
    domain's discovery document. Raises `PartnerAppNotConfigured`, `InvalidTenantName` for
    a value that is neither, or the protocol core's `TenantLookupError` kinds.
    """
    guid = normalise_tenant_id(expected_tenant)
    if guid:
        return guid
    app = partner_app()
    login_url = endpoints_for(cloud, login_url=app.login_url or None).login_url
    return resolve_tenant_id(expected_tenant, login_url=login_url, session=api_session(app))


def token_cache_backend() -> TokenCacheBackend:
    """Redis when configured (shared by all machines), else private files on this one.

    Tokens never go to the database, so the embedded setup's database cache is not used.
    """
    if settings.REDIS_URL:
        from partner_portal.core.redis_token_cache import RedisTokenCache

        return RedisTokenCache.from_url(settings.REDIS_URL)
    return FileTokenCache(Path(settings.DATA_DIR) / "token-cache")


def token_provider(customer: Customer) -> TokenProvider:
    """This process's token provider for the customer's cloud."""
    app = partner_app()
    return provider_for(app.credentials, endpoints_for_customer(customer, app), app.ca_file)


def provider_for(
    credentials: AppCredentials, endpoints: Endpoints, ca_file: str | None
) -> TokenProvider:
    """This process's token provider for an app at a cloud's login host."""
    key = (credentials.client_id, endpoints.login_url, ca_file or "")
    with _lock:
        provider = _providers.get(key)
        if provider is None or provider.credentials != credentials:
            provider = TokenProvider(credentials, endpoints, token_cache_backend(), ca_file=ca_file)
            _providers[key] = provider
        return provider


def token_validator(customer: Customer) -> TokenValidator:
    app = partner_app()
    return validator_for(endpoints_for_customer(customer, app), app.ca_file)


def validator_for(endpoints: Endpoints, ca_file: str | None) -> TokenValidator:
    """This process's validator of tokens issued at a cloud's login host."""
    key = (endpoints.login_url, ca_file or "")
    with _lock:
        validator = _validators.get(key)
        if validator is None:
            validator = TokenValidator(endpoints, make_session(ca_file))
            _validators[key] = validator
        return validator


def admin_sign_in(customer: Customer) -> AdminSignIn:
    """The sign-in that proves which tenant a customer's admin belongs to (consent)."""
    app = partner_app()
    endpoints = endpoints_for_customer(customer, app)
    return AdminSignIn(app.credentials, endpoints, token_validator(customer), api_session(app))


def _limiter(limits: tuple[tuple[int, float], ...]) -> Limiter | None:
    """Redis when configured, so that every worker counts one tenant's calls together."""
    if not settings.REDIS_URL:
        return None  # the client's own per-process limiter
    from partner_portal.core.redis_limiter import RedisRateLimiter

    key = (settings.REDIS_URL, limits)
    with _lock:
        limiter = _limiters.get(key)
        if limiter is None:
            # Timeouts: a Redis that hangs must fail the pass, not stall it.
            client = redis.Redis.from_url(
                settings.REDIS_URL, socket_timeout=10, socket_connect_timeout=5
            )
            limiter = RedisRateLimiter(client, limits)
            _limiters[key] = limiter
        return limiter


def _token_source(
    customer: Customer, resource: str, token_sources: list[str] | None
) -> Callable[[bool], str]:
    provider = token_provider(customer)
    tenant_id = _tenant_id(customer)

    def get_token(force_refresh: bool = False) -> str:
        token = provider.get(tenant_id, resource, force_refresh=force_refresh)
        if token_sources is not None:
            token_sources.append(token.source)
        return token.token

    return get_token


def mde_client(customer: Customer, *, token_sources: list[str] | None = None) -> MdeClient:
    """An alerts client for one customer; `token_sources` collects where tokens came from."""
    return _api_client(MdeClient, customer, token_sources)


def xdr_client(customer: Customer, *, token_sources: list[str] | None = None) -> XdrClient:
    """An incidents client for one customer."""
    return _api_client(XdrClient, customer, token_sources)


def graph_client(customer: Customer, *, token_sources: list[str] | None = None) -> GraphClient:
    """A Microsoft Graph security client (alerts_v2, incidents, hunting) for one customer:
    Graph's token audience in the customer's cloud and Graph's limits per tenant."""
    return _api_client(GraphClient, customer, token_sources)


def _api_client(api: type[ClientT], customer: Customer, token_sources: list[str] | None) -> ClientT:
    """A client of `api` for the customer's tenant: its host and token audience in the
    customer's cloud, and the API's declared limits kept across workers."""
    app, endpoints = _client_setup(customer)
    return api.for_endpoints(
        endpoints,
        _tenant_id(customer),
        _token_source(customer, api.resource_for(endpoints), token_sources),
        session=api_session(app),
        limiter=_limiter(api.limits),
    )


def hunting_limiter() -> Limiter:
    """Keeps each tenant's hunting queries under HUNT_CALLS_PER_MINUTE across every worker
    (key "hunting:<tenant ID>"), apart from the tenant's other Graph calls."""
    limits = ((settings.HUNT_CALLS_PER_MINUTE, 60.0),)
    shared = _limiter(limits)
    if shared is not None:
        return shared
    with _lock:
        return _local_limiters.setdefault(limits, RateLimiter(limits))


def _tenant_id(customer: Customer) -> str:
    if not customer.tenant_id:
        raise ValueError("the customer has no verified tenant yet")
    return customer.tenant_id


def _client_setup(customer: Customer) -> tuple[PartnerApp, Endpoints]:
    _tenant_id(customer)
    app = partner_app()
    return app, endpoints_for_customer(customer, app)


def api_session(app: PartnerApp) -> requests.Session:
    """One keep-alive session per thread and CA file, reused across syncs."""
    sessions: dict[str, requests.Session] = _local.__dict__.setdefault("sessions", {})
    key = app.ca_file or ""
    if key not in sessions:
        sessions[key] = make_session(app.ca_file)
    return sessions[key]


def reset_for_tests() -> None:
    """Forget every provider and validator (settings changed under the process)."""
    with _lock:
        _providers.clear()
        _validators.clear()
        _limiters.clear()
        _sandbox_cache.clear()
