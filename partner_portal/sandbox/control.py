"""The control API under ``/_sandbox/``: what tests, benchmarks and the demo use to
steer the sandbox (tenants, consent, alerts, faults, the secret switch, rate limits,
counts, minted tokens, ground truth). Loopback clients only; JSON in and out; errors are
``{"error": "..."}`` with 400, 403, 404 or 405.

Routes are registered with :meth:`ControlApi.route`; the API modules add their own
ground-truth routes that way (``alerts_api.py``, ``incidents_api.py``).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from typing import Any

from .catalog import CONSENT_SCOPES, GRAPH_ROLES, XDR_ROLES
from .directory import KNOWN_ROLES, Tenant
from .faults import FaultConfig, Faults
from .identity import Identity
from .limits import RateLimiter, Stats
from .planting import parse_plant
from .routing import RouteTable
from .state import Sandbox
from .web import Request, Response, json_response

# A control handler: (request, JSON body or {}, **named groups of the path) → response.
ControlHandler = Callable[..., Response]


class ControlError(Exception):
    """A control-API request that cannot be served."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class ControlApi:
    """The ``/_sandbox/`` endpoints."""

    PREFIX = r"/_sandbox(?:/|$)"

    def __init__(
        self,
        sandbox: Sandbox,
        identity: Identity,
        faults: Faults,
        limiter: RateLimiter,
        stats: Stats,
    ) -> None:
        self.sandbox = sandbox
        self.identity = identity
        self.faults = faults
        self.limiter = limiter
        self.stats = stats
        self.started = time.time()
        self._routes: RouteTable[ControlHandler] = RouteTable()
        routes: list[tuple[str, str, ControlHandler]] = [
            ("GET", r"/_sandbox/health", self._health),
            (
                "GET",
                r"/_sandbox/config",
                lambda r, p: json_response(200, self.sandbox.public_config()),
            ),
            ("GET", r"/_sandbox/tenants", self._list_tenants),
            ("POST", r"/_sandbox/tenants", self._add_tenant),
            ("GET", r"/_sandbox/tenants/(?P<tid>[^/]+)", self._get_tenant),
            ("POST", r"/_sandbox/tenants/(?P<tid>[^/]+)/consent", self._grant),
            ("DELETE", r"/_sandbox/tenants/(?P<tid>[^/]+)/consent", self._revoke),
            ("PUT", r"/_sandbox/tenants/(?P<tid>[^/]+)/consent-scope", self._consent_scope),
            ("POST", r"/_sandbox/tenants/(?P<tid>[^/]+)/alerts", self._create_alerts),
            ("PATCH", r"/_sandbox/tenants/(?P<tid>[^/]+)/alerts", self._update_alerts),
            ("GET", r"/_sandbox/faults", lambda r, p: json_response(200, self.faults.snapshot())),
            ("PUT", r"/_sandbox/faults", self._set_faults),
            ("POST", r"/_sandbox/secret/expire", self._expire_secret),
            ("POST", r"/_sandbox/secret/restore", self._restore_secret),
            ("GET", r"/_sandbox/rate-limit", self._rate_limit_state),
            ("POST", r"/_sandbox/rate-limit", self._rate_limit),
            ("GET", r"/_sandbox/stats", self._stats),
            ("POST", r"/_sandbox/stats/reset", self._reset_stats),
            ("POST", r"/_sandbox/token", self._mint_token),
        ]
        for method, pattern, handler in routes:
            self.route(method, pattern, handler)

    def route(self, method: str, pattern: str, handler: ControlHandler) -> None:
        """Serve ``method`` on ``pattern`` (the whole path, without a trailing slash);
        ``handler`` gets the request, the JSON body (or ``{}``) and the path's groups."""
        self._routes.add(method, pattern, handler)

    def handle(self, request: Request) -> Response:
        try:
            address = ipaddress.ip_address(request.client_ip)
            loopback = address.is_loopback or (
                isinstance(address, ipaddress.IPv6Address)
                and address.ipv4_mapped is not None
                and address.ipv4_mapped.is_loopback
            )
        except ValueError:
            loopback = False
        if not loopback:
            return json_response(403, {"error": "the control API answers loopback clients only"})
        try:
            return self._control(request)
        except ControlError as err:
            return json_response(err.status, {"error": str(err)})
        except ValueError as err:  # bad JSON or bad values in it
            return json_response(400, {"error": str(err)})

    def tenant(self, request: Request, tenant_id: str | None = None) -> Tenant:
        key = tenant_id or request.arg("tenant")
        if not key:
            raise ControlError(400, "say which tenant (?tenant=ID)")
        tenant = self.sandbox.resolve(key)
        if tenant is None:
            raise ControlError(404, f"no tenant {key}")
        return tenant

    def _control(self, request: Request) -> Response:
        path = request.path.rstrip("/")
        method = request.method
        body = request.json() if method in {"POST", "PUT", "PATCH", "DELETE"} else None
        if body is not None and not isinstance(body, dict):
            raise ControlError(400, "the body must be a JSON object")
        payload: dict[str, Any] = body or {}
        found = self._routes.find(method, path)
        if found.target is not None:
            return found.target(request, payload, **found.params)
        if found.path_known:
            raise ControlError(405, f"{method} is not allowed on {path}")
        raise ControlError(404, f"no control endpoint {path}")

    def _health(self, request: Request, payload: dict[str, Any]) -> Response:
        return json_response(
            200,
            {
                "status": "ok",
                "url": self.sandbox.origin,
                "tenants": len(self.sandbox.tenants),
                "uptime_seconds": round(time.time() - self.started, 3),
            },
        )

    def _list_tenants(self, request: Request, payload: dict[str, Any]) -> Response:
        return json_response(
            200, {"value": [t.detail() for t in list(self.sandbox.tenants.values())]}
        )

    def _get_tenant(self, request: Request, payload: dict[str, Any], tid: str) -> Response:
        return json_response(200, self.tenant(request, tid).detail())

    @staticmethod
    def _roles(value: Any, field: str) -> list[str] | None:
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(r, str) for r in value):
            raise ControlError(400, f"{field} must be a list of role names")
        unknown = sorted(set(value) - KNOWN_ROLES)
        if unknown:
            raise ControlError(400, f"unknown roles: {', '.join(unknown)}")
        return list(value)

    def _add_tenant(self, request: Request, payload: dict[str, Any]) -> Response:
        alerts = payload.get("alerts")
        if alerts is not None and (not isinstance(alerts, int) or alerts < 0 or alerts > 200_000):
            raise ControlError(400, "alerts must be an integer between 0 and 200000")
        name = payload.get("name")
        if name is not None and (not isinstance(name, str) or not name.strip()):
            raise ControlError(400, "name must be a non-empty string")
        tenant = self.sandbox.add_tenant(
            name=name,
            alerts=alerts,
            consented=bool(payload.get("consented", False)),
            roles=self._roles(payload.get("roles"), "roles"),
            consent_roles=self._roles(payload.get("consent_roles"), "consent_roles"),
            consent_scope=self._scope(payload.get("consent_scope", "both")),
        )
        return json_response(201, tenant.detail())

    @staticmethod
    def _scope(value: Any) -> str:
        if value not in CONSENT_SCOPES:
            raise ControlError(400, f"consent_scope must be one of {', '.join(CONSENT_SCOPES)}")
        return str(value)

    def _consent_scope(self, request: Request, payload: dict[str, Any], tid: str) -> Response:
        tenant = self.tenant(request, tid)
        self.sandbox.set_consent_scope(tenant, self._scope(payload.get("scope")))
        return json_response(200, tenant.detail())

    def _grant(self, request: Request, payload: dict[str, Any], tid: str) -> Response:
        tenant = self.tenant(request, tid)
        self.sandbox.grant(tenant, self._roles(payload.get("roles"), "roles"))
        return json_response(200, tenant.detail())

    def _revoke(self, request: Request, payload: dict[str, Any], tid: str) -> Response:
        tenant = self.tenant(request, tid)
        self.sandbox.revoke(tenant)
        return json_response(200, tenant.detail())

    @staticmethod
    def _count(payload: dict[str, Any]) -> int:
        count = payload.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100_000:
            raise ControlError(400, "count must be an integer between 0 and 100000")
        return count

    def _create_alerts(self, request: Request, payload: dict[str, Any], tid: str) -> Response:
        plant = parse_plant(payload["plant"]) if "plant" in payload else None
        ids = self.sandbox.create_alerts(self.tenant(request, tid), self._count(payload), plant)
        return json_response(201, {"ids": ids})

    def _update_alerts(self, request: Request, payload: dict[str, Any], tid: str) -> Response:
        ids = self.sandbox.update_alerts(self.tenant(request, tid), self._count(payload))
        return json_response(200, {"ids": ids})

    def _set_faults(self, request: Request, payload: dict[str, Any]) -> Response:
        tenant_id = payload.get("tenant")
        tenant = self.tenant(request, str(tenant_id)) if tenant_id else None
        config = FaultConfig.from_json(payload)
        self.faults.set(config, tenant.tenant_id if tenant else None)
        return json_response(200, self.faults.snapshot())

    def _expire_secret(self, request: Request, payload: dict[str, Any]) -> Response:
        self.sandbox.set_secret_expired(True)
        return json_response(200, {"secret_expired": True})

    def _restore_secret(self, request: Request, payload: dict[str, Any]) -> Response:
        self.sandbox.set_secret_expired(False)
        return json_response(200, {"secret_expired": False})

    def _rate_limit_state(self, request: Request, payload: dict[str, Any]) -> Response:
        return json_response(200, {"enabled": self.limiter.enabled})

    def _rate_limit(self, request: Request, payload: dict[str, Any]) -> Response:
        enabled = payload.get("enabled", not self.limiter.enabled)
        if not isinstance(enabled, bool):
            raise ControlError(400, "enabled must be true or false")
        self.limiter.enabled = enabled
        if payload.get("reset"):
            self.limiter.reset()
        return json_response(200, {"enabled": enabled})

    def _stats(self, request: Request, payload: dict[str, Any]) -> Response:
        tenant = self.tenant(request) if request.arg("tenant") else None
        return json_response(200, self.stats.snapshot(tenant.tenant_id if tenant else None))

    def _reset_stats(self, request: Request, payload: dict[str, Any]) -> Response:
        # A clean slate for the next test: counts and the rate-limit windows.
        self.stats.reset()
        self.limiter.reset()
        return json_response(200, self.stats.snapshot(None))

    def _mint_token(self, request: Request, payload: dict[str, Any]) -> Response:
        """A token with chosen roles or lifetime (e.g. already expired), for client tests."""
        tenant = self.tenant(request, str(payload.get("tenant") or ""))
        api = str(payload.get("api", "mde"))
        audience = {
            "mde": "https://api.securitycenter.microsoft.com",
            "xdr": "https://api.security.microsoft.com",
            "graph": "https://graph.microsoft.com",
        }.get(api)
        if audience is None:
            raise ControlError(400, "api must be 'mde', 'xdr' or 'graph'")
        lifetime = payload.get("expires_in", 3600)
        if not isinstance(lifetime, int):
            raise ControlError(400, "expires_in must be an integer number of seconds")
        roles = self._roles(payload.get("roles"), "roles")
        if roles is None:
            roles = [
                r
                for r in tenant.roles
                if (r in XDR_ROLES) == (api == "xdr") and (r in GRAPH_ROLES) == (api == "graph")
            ]
        token, issued, expires = self.identity.app_token(
            tenant, audience, appidacr="1", roles=roles, lifetime=lifetime
        )
        return json_response(200, {"access_token": token, "iat": issued, "exp": expires})
