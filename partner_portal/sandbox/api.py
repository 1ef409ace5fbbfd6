"""The gate every Defender API call passes through, mounted at ``/api/``.

The handlers live in one module per API (``alerts_api.py`` for Defender for Endpoint
alerts, ``incidents_api.py`` for Defender XDR incidents); each registers its routes here
with :meth:`DefenderApi.route`, naming its :class:`ApiFamily` (audiences, the key of its
documented limits and counts, the error code of a bad query) and the roles a route
needs. The gate then runs the same steps for every call, in this order:

1. the route: ``/api/v1.0/...`` is the same as ``/api/...`` and the collection name is
   case-insensitive; an unknown path is 404 ``NotFound``, a known path with another
   method 405 ``MethodNotAllowed``, both before any token check;
2. the bearer token (401 ``Unauthorized``) and its roles (403 ``Forbidden``), see
   ``token_check.py``; the tenant is the token's;
3. the call is counted, and the tenant's fault stream draws once (``faults.py``):
   429s, 500, 503 and dropped connections answer at once;
4. the documented call limits of the family (429 with ``Retry-After``, ``limits.py``);
5. the handler; an :class:`ApiError` is its answer, an OData error is 400;
6. the late faults: a slow answer, or a malformed or truncated 200 body.

Errors have Defender's shape: ``{"error": {"code", "message", "target"}}``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from .faults import Faults
from .limits import RateLimiter, Stats, Throttle, Window
from .odata import ODataError
from .routing import RouteTable
from .state import Sandbox
from .token_check import ApiAuthError, TokenCheck
from .web import Request, Response, json_response


def api_error(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    """Defender's error body: ``{"error": {"code", "message", "target"}}``."""
    return json_response(
        status, {"error": {"code": code, "message": message, "target": str(uuid.uuid4())}}, headers
    )


class ApiError(Exception):
    """An error answer from inside a handler, in the shape of the API's gate."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


@dataclass(frozen=True)
class ApiFamily:
    """One API as Microsoft guards it: who may call it, and how its calls are limited,
    counted and refused."""

    name: str  # the key of its limits and of its call counts
    audiences: frozenset[str]
    bad_query_code: str  # the error code of an OData query it cannot understand
    limits: tuple[Window, ...]  # per app and tenant, the per-minute window first


# An API handler: (request, tenant, **named groups of the route's pattern) → response.
ApiHandler = Callable[..., Response]


@dataclass(frozen=True)
class ApiRoute:
    family: ApiFamily
    roles: frozenset[str]  # any one of them admits the call
    handler: ApiHandler


class DefenderApi:
    """Serves ``/api/...`` for every tenant; the token says which tenant is asking.

    Another family of APIs (Microsoft Graph under ``/v1.0/``) can reuse the gate as a
    subclass with its own :attr:`PREFIX`, :meth:`resource_path` and :meth:`error`.
    """

    PREFIX = r"(?i)/api/"

    def __init__(
        self,
        sandbox: Sandbox,
        token_check: TokenCheck,
        faults: Faults,
        limiter: RateLimiter,
        stats: Stats,
    ) -> None:
        self.sandbox = sandbox
        self.token_check = token_check
        self.faults = faults
        self.limiter = limiter
        self.stats = stats
        self._routes: RouteTable[ApiRoute] = RouteTable()

    def route(
        self,
        method: str,
        pattern: str,
        family: ApiFamily,
        roles: set[str] | frozenset[str],
        handler: ApiHandler,
    ) -> None:
        """Serve ``method`` on ``pattern``, matched against the path after ``/api/``
        (and ``v1.0/``) with the collection name in lower case, e.g. ``alerts/(?P<id>…)``."""
        self._routes.add(method, pattern, ApiRoute(family, frozenset(roles), handler))
        self.limiter.define(family.name, family.limits)
        self.stats.track(family.name)

    @staticmethod
    def resource_path(path: str) -> str:
        """``/api/v1.0/Alerts/ID`` → ``alerts/ID``: what the routes are matched against."""
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 2 and parts[1].lower() == "v1.0":
            parts = [parts[0], *parts[2:]]
        if len(parts) < 2:
            return ""
        return "/".join([parts[1].lower(), *parts[2:]])

    def error(
        self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        """An error answer in this family's shape."""
        return api_error(status, code, message, headers)

    def handle(self, request: Request) -> Response:
        found = self._routes.find(request.method, self.resource_path(request.path))
        route = found.target
        if route is None:
            if found.path_known:
                return self.error(405, "MethodNotAllowed", f"{request.method} is not allowed here.")
            return self.error(404, "NotFound", f"Resource '{request.path}' was not found.")
        family = route.family
        try:
            claims = self.token_check.authorize(request, family.audiences, route.roles)
        except ApiAuthError as err:
            code = "Unauthorized" if err.status == 401 else "Forbidden"
            response = self.error(err.status, code, err.message)
            if err.status == 401:
                response.headers.append(("WWW-Authenticate", 'Bearer error="invalid_token"'))
            return response
        tenant = self.sandbox.resolve(str(claims["tid"]))
        assert tenant is not None  # the token check found it
        self.stats.call(tenant.tenant_id, family.name)
        fault, config = self.faults.draw_api(tenant.tenant_id)
        early = self._early_fault(fault, config.retry_after_seconds, tenant.tenant_id, family)
        if early is not None:
            return early
        throttle = self.limiter.admit(str(claims.get("appid")), tenant.tenant_id, family.name)
        if throttle is not None:
            self.stats.throttled(tenant.tenant_id, family.name)
            return self._throttled(throttle)
        try:
            response = route.handler(request, tenant, **found.params)
        except ApiError as err:
            response = self.error(err.status, err.code, str(err))
        except ODataError as err:
            response = self.error(400, family.bad_query_code, str(err))
        if fault == "rate_slow":
            response.delay = config.slow_seconds
        elif fault in {"rate_malformed", "rate_truncated"} and response.status == 200:
            response.fault = fault.removeprefix("rate_")
        return response

    def _early_fault(
        self, fault: str | None, retry_after: int, tenant_id: str, family: ApiFamily
    ) -> Response | None:
        per_minute = family.limits[0][1]
        if fault == "rate_429":
            self.stats.throttled(tenant_id, family.name)
            return self._throttled(Throttle(retry_after, per_minute, "Minute"))
        if fault == "rate_429_no_retry_after":
            self.stats.throttled(tenant_id, family.name)
            message = f"API calls quota exceeded! Maximum admitted {per_minute} per Minute."
            # Half of these name a wait in the text only; the other half give no hint at all.
            if self.faults.coin(tenant_id):
                message += f" You can send requests again in {retry_after} seconds."
            return self.error(429, "TooManyRequests", message)
        if fault == "rate_500":
            return self.error(500, "InternalServerError", "An unexpected error occurred.")
        if fault == "rate_503":
            return self.error(503, "ServiceUnavailable", "The service is temporarily unavailable.")
        if fault == "rate_drop":
            return Response(0, fault="drop")
        return None

    def _throttled(self, throttle: Throttle) -> Response:
        return self.error(
            429,
            "TooManyRequests",
            f"API calls quota exceeded! Maximum admitted {throttle.maximum} per {throttle.unit}. "
            f"You can send requests again in {throttle.retry_after} seconds.",
            [("Retry-After", str(throttle.retry_after))],
        )
