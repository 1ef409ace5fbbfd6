"""The HTTPS server: one thread per connection, HTTP/1.1 keep-alive, TLS handshakes off
the accept loop, routing to the identity, consent, API and control handlers, and the
transport-level faults (dropped connections, lying Content-Length, slow answers).
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .api import DefenderApi, api_error
from .catalog import XDR_ROLES
from .consent import ConsentFlow
from .directory import KNOWN_ROLES, Tenant
from .faults import FaultConfig, Faults, profile
from .identity import Identity
from .limits import RateLimiter, Stats
from .signin import SignInFlow
from .state import Sandbox
from .web import Request, Response, json_response

log = logging.getLogger("partner_portal.sandbox")

MAX_BODY = 10 * 1024 * 1024
_T = r"(?P<tenant>[^/]+)"
IDENTITY_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(rf"^/{_T}/v2\.0/\.well-known/openid-configuration$"), "discovery_v2"),
    ("GET", re.compile(rf"^/{_T}/\.well-known/openid-configuration$"), "discovery_v1"),
    ("GET", re.compile(rf"^/{_T}/discovery/v2\.0/keys$"), "keys_v2"),
    ("GET", re.compile(rf"^/{_T}/discovery/keys$"), "keys_v1"),
    ("POST", re.compile(rf"^/{_T}/oauth2/v2\.0/token$"), "token_v2"),
    ("POST", re.compile(rf"^/{_T}/oauth2/token$"), "token_v1"),
    ("GET", re.compile(rf"^/{_T}/v2\.0/adminconsent$"), "adminconsent"),
    ("GET", re.compile(rf"^/{_T}/oauth2/authorize$"), "authorize"),
    ("GET", re.compile(rf"^/{_T}/oauth2/v2\.0/authorize$"), "authorize_v2"),
    ("POST", re.compile(r"^/common/login$"), "login"),
    ("POST", re.compile(r"^/common/consent$"), "consent"),
]


class SandboxApp:
    """Routes requests; owns the handlers and the shared runtime switches."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self.stats = Stats()
        self.faults = Faults(sandbox.seed, profile(sandbox.options.faults))
        self.limiter = RateLimiter(enabled=sandbox.options.rate_limit)
        self.identity = Identity(sandbox, self.faults, self.stats)
        self.consent = ConsentFlow(sandbox, self.identity)
        self.signin = SignInFlow(sandbox, self.identity, self.consent)
        self.api = DefenderApi(sandbox, self.identity, self.faults, self.limiter, self.stats)
        self.started = time.time()

    def handle(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_sandbox/") or path == "/_sandbox":
            return self.control(request)
        if path.lower().startswith("/api/"):
            return self.api.handle(request)
        for method, pattern, name in IDENTITY_ROUTES:
            match = pattern.match(path)
            if match is None:
                continue
            if request.method != method:
                return json_response(405, {"error": "method_not_allowed"})
            segment = match.groupdict().get("tenant", "")
            return self._identity(name, request, segment)
        return json_response(404, {"error": "not_found", "error_description": f"No route {path}"})

    def _identity(self, name: str, request: Request, segment: str) -> Response:
        if name == "discovery_v2":
            return self.identity.discovery(segment, v2=True)
        if name == "discovery_v1":
            return self.identity.discovery(segment, v2=False)
        if name == "keys_v2":
            return self.identity.keys(segment, v2=True)
        if name == "keys_v1":
            return self.identity.keys(segment, v2=False)
        if name == "token_v2":
            return self.identity.token(request, segment, v2=True)
        if name == "token_v1":
            return self.identity.token(request, segment, v2=False)
        if name == "adminconsent":
            return self.consent.admin_consent_v2(request, segment)
        if name == "authorize":
            return self.consent.authorize_v1(request, segment)
        if name == "authorize_v2":
            return self.signin.authorize(request, segment)
        if name == "login":
            return self.consent.login(request)
        return self.consent.decide(request)

    # ---- control API ----------------------------------------------------------------

    def control(self, request: Request) -> Response:
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

    def _tenant(self, request: Request, tenant_id: str | None = None) -> Tenant:
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
        routes: list[tuple[str, str, Callable[..., Response]]] = [
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
            ("POST", r"/_sandbox/tenants/(?P<tid>[^/]+)/alerts", self._create_alerts),
            ("PATCH", r"/_sandbox/tenants/(?P<tid>[^/]+)/alerts", self._update_alerts),
            ("GET", r"/_sandbox/faults", lambda r, p: json_response(200, self.faults.snapshot())),
            ("PUT", r"/_sandbox/faults", self._set_faults),
            ("POST", r"/_sandbox/secret/expire", self._expire_secret),
            ("POST", r"/_sandbox/secret/restore", self._restore_secret),
            ("GET", r"/_sandbox/rate-limit", self._rate_limit_state),
            ("POST", r"/_sandbox/rate-limit", self._rate_limit),
            ("GET", r"/_sandbox/ground-truth", self._ground_truth),
            ("GET", r"/_sandbox/ground-truth/incidents", self._ground_truth_incidents),
            ("GET", r"/_sandbox/stats", self._stats),
            ("POST", r"/_sandbox/stats/reset", self._reset_stats),
            ("POST", r"/_sandbox/token", self._mint_token),
        ]
        known_path = False
        for route_method, pattern, handler in routes:
            match = re.fullmatch(pattern, path)
            if match is None:
                continue
            known_path = True
            if route_method == method:
                kwargs = match.groupdict()
                return handler(request, payload, **kwargs)
        if known_path:
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
        return json_response(200, self._tenant(request, tid).detail())

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
        )
        return json_response(201, tenant.detail())

    def _grant(self, request: Request, payload: dict[str, Any], tid: str) -> Response:
        tenant = self._tenant(request, tid)
        self.sandbox.grant(tenant, self._roles(payload.get("roles"), "roles"))
        return json_response(200, tenant.detail())

    def _revoke(self, request: Request, payload: dict[str, Any], tid: str) -> Response:
        tenant = self._tenant(request, tid)
        self.sandbox.revoke(tenant)
        return json_response(200, tenant.detail())

    @staticmethod
    def _count(payload: dict[str, Any]) -> int:
        count = payload.get("count", 1)
        if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 100_000:
            raise ControlError(400, "count must be an integer between 0 and 100000")
        return count

    def _create_alerts(self, request: Request, payload: dict[str, Any], tid: str) -> Response:
        ids = self.sandbox.create_alerts(self._tenant(request, tid), self._count(payload))
        return json_response(201, {"ids": ids})

    def _update_alerts(self, request: Request, payload: dict[str, Any], tid: str) -> Response:
        ids = self.sandbox.update_alerts(self._tenant(request, tid), self._count(payload))
        return json_response(200, {"ids": ids})

    def _set_faults(self, request: Request, payload: dict[str, Any]) -> Response:
        tenant_id = payload.get("tenant")
        tenant = self._tenant(request, str(tenant_id)) if tenant_id else None
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

    def _ground_truth(self, request: Request, payload: dict[str, Any]) -> Response:
        return self.api.ground_truth(self._tenant(request))

    def _ground_truth_incidents(self, request: Request, payload: dict[str, Any]) -> Response:
        return self.api.ground_truth_incidents(self._tenant(request))

    def _stats(self, request: Request, payload: dict[str, Any]) -> Response:
        tenant = self._tenant(request) if request.arg("tenant") else None
        return json_response(200, self.stats.snapshot(tenant.tenant_id if tenant else None))

    def _reset_stats(self, request: Request, payload: dict[str, Any]) -> Response:
        # A clean slate for the next test: counts and the rate-limit windows.
        self.stats.reset()
        self.limiter.reset()
        return json_response(200, self.stats.snapshot(None))

    def _mint_token(self, request: Request, payload: dict[str, Any]) -> Response:
        """A token with chosen roles or lifetime (e.g. already expired), for client tests."""
        tenant = self._tenant(request, str(payload.get("tenant") or ""))
        api = str(payload.get("api", "mde"))
        audience = {
            "mde": "https://api.securitycenter.microsoft.com",
            "xdr": "https://api.security.microsoft.com",
        }.get(api)
        if audience is None:
            raise ControlError(400, "api must be 'mde' or 'xdr'")
        lifetime = payload.get("expires_in", 3600)
        if not isinstance(lifetime, int):
            raise ControlError(400, "expires_in must be an integer number of seconds")
        roles = self._roles(payload.get("roles"), "roles")
        if roles is None:
            roles = [r for r in tenant.roles if (r in XDR_ROLES) == (api == "xdr")]
        token, issued, expires = self.identity.app_token(
            tenant, audience, appidacr="1", roles=roles, lifetime=lifetime
        )
        return json_response(200, {"access_token": token, "iat": issued, "exp": expires})


class ControlError(Exception):
    """A control-API request that cannot be served."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server_version = "PartnerPortalSandbox/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections give their thread back eventually
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            log.info("%s %s", self.address_string(), format % args)

    def log_error(self, format: str, *args: Any) -> None:
        # A client's idle keep-alive connection reaching `timeout` is routine: the demo's
        # log would otherwise show "Request timed out" every couple of minutes.
        if format.startswith("Request timed out"):
            log.debug("%s closed an idle connection", self.address_string())
            return
        super().log_error(format, *args)

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._send(json_response(413, {"error": "request body too large"}))
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        request = Request(
            method=self.command,
            path=url.path,
            query=parse_qs(url.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            client_ip=self.client_address[0],
            raw_query=url.query,
        )
        try:
            response = self.server.app.handle(request)
        except Exception:
            log.exception("error while serving %s %s", self.command, self.path)
            response = api_error(500, "InternalServerError", "The sandbox failed on this request.")
        self._send(response)

    def _send(self, response: Response) -> None:
        if response.delay:
            time.sleep(response.delay)
        if response.fault == "drop":
            # Close without a byte of answer, as a reset load balancer does.
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        body = response.body
        if response.fault == "malformed":
            body = body[: max(1, len(body) // 2)]  # honest length, cut JSON
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command == "HEAD":
            return
        if response.fault == "truncated":
            # Announce the full page, send a shorter (valid JSON) one, then hang up.
            short = response.truncated_body or body[: len(body) // 2]
            with contextlib.suppress(OSError):
                self.wfile.write(short)
                self.wfile.flush()
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()


class SandboxHTTPServer(ThreadingHTTPServer):
    """Threaded HTTPS server; the TLS handshake runs in the connection's own thread."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], app: SandboxApp, context: ssl.SSLContext, *, quiet: bool
    ) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.ssl_context = context
        self.quiet = quiet
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(30)
            # Headers and body go out in separate writes; without this, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every keep-alive answer.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tls = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return  # a client that cannot speak TLS to us (or gave up) is not our problem
        try:
            tls.settimeout(_Handler.timeout)
            _Handler(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                tls.close()

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection error from %s", client_address, exc_info=True)


def make_ssl_context(cert_file: str, key_file: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(cert_file, key_file)
    context.set_alpn_protocols(["http/1.1"])
    return context


def serve(sandbox: Sandbox, on_ready: Callable[[str], None]) -> None:
    """Bind, publish the origin, announce readiness and serve until interrupted."""
    options = sandbox.options
    app = SandboxApp(sandbox)
    context = make_ssl_context(str(sandbox.pki.server_cert_file), str(sandbox.pki.server_key_file))
    server = SandboxHTTPServer((options.host, options.port), app, context, quiet=options.quiet)
    port = server.server_address[1]
    host = options.host
    if host in {"0.0.0.0", "::"}:  # noqa: S104 - only the advertised URL, not the bind address
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    sandbox.origin = f"https://{shown}:{port}"
    sandbox.save_now()
    sandbox.start_background()
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="http", daemon=True
    )
    thread.start()
    on_ready(sandbox.origin)
    try:
        while thread.is_alive():
            thread.join(timeout=0.5)
    finally:
        server.shutdown()
        server.server_close()
        sandbox.stop()
