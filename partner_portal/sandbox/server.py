"""The HTTPS transport: one thread per connection, HTTP/1.1 keep-alive, TLS handshakes
off the accept loop, and the transport-level faults a handler can ask for (a dropped
connection, a lying Content-Length, a slow answer). It turns bytes into a
:class:`web.Request`, hands it to :class:`app.SandboxApp` and writes the
:class:`web.Response` back; what answers which path is ``app.py``'s business.

Beside the HTTPS origin, a second listener on plain HTTP, bound to 127.0.0.1 only,
serves the pages a person's browser visits (admin consent, the partner consent link, the
OpenID Connect sign-in and their forms). An ordinary browser trusts neither the
sandbox's own CA nor should it be asked to; plain HTTP on loopback never leaves the
machine and browsers count it as a secure origin. Discovery sends MSAL's browser there
(``authorization_endpoint``), the portal builds its consent links on it (``sandbox.json``
names it ``browser_login_url``), and everything a program calls (discovery, keys, token
endpoints, the Defender and Graph APIs, the control API) stays HTTPS-only.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .api import api_error
from .app import SandboxApp
from .options import is_loopback
from .state import Sandbox
from .web import Request, Response, json_response

log = logging.getLogger("partner_portal.sandbox")

MAX_BODY = 10 * 1024 * 1024
# The plain-HTTP listener of the browser pages binds here and nowhere else.
BROWSER_HOST = "127.0.0.1"


# A request line is logged up to this many characters: a Graph `$filter=id eq … or …`
# naming a page of IDs runs to kilobytes and would bury everything else.
MAX_LOGGED_REQUEST = 160


def _shortened(value: Any) -> Any:
    if isinstance(value, str) and len(value) > MAX_LOGGED_REQUEST:
        return f"{value[:MAX_LOGGED_REQUEST]}… ({len(value)} characters)"
    return value


def _loopback_host(header: str | None) -> bool:
    """Whether a Host header names this machine by a loopback name or address."""
    host = urlsplit(f"//{header or ''}").hostname or ""
    return host == "localhost" or is_loopback(host)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    server_version = "PartnerPortalSandbox/1.0"
    sys_version = ""
    timeout = 120  # idle keep-alive connections give their thread back eventually
    server: SandboxHTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.quiet:
            log.info("%s %s", self.address_string(), format % tuple(map(_shortened, args)))

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
        if self.server.ssl_context is None and not _loopback_host(self.headers.get("Host")):
            # A page of another site whose name resolves to 127.0.0.1 (DNS rebinding)
            # gets nothing from the plain-HTTP pages.
            self._send(json_response(421, {"error": "misdirected_request"}))
            return
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
            response = self.server.answer(request)
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
    """Threaded HTTPS server; the TLS handshake runs in the connection's own thread.

    Without an SSL context it speaks plain HTTP, and then only on a loopback address.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handle: Callable[[Request], Response],
        context: ssl.SSLContext | None,
        *,
        quiet: bool,
    ) -> None:
        if context is None and not is_loopback(address[0]):
            raise ValueError(f"plain HTTP is for loopback only, not {address[0]}")
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.answer = handle
        self.ssl_context = context
        self.quiet = quiet
        super().__init__(address, _Handler)

    def finish_request(self, request: Any, client_address: Any) -> None:
        try:
            request.settimeout(30)
            # Headers and body go out in separate writes; without this, Nagle's algorithm
            # and the client's delayed ACK add ~40 ms to every keep-alive answer.
            request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            conn = request
            if self.ssl_context is not None:
                conn = self.ssl_context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return  # a client that cannot speak TLS to us (or gave up) is not our problem
        try:
            conn.settimeout(_Handler.timeout)
            _Handler(conn, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                conn.close()

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
    server = SandboxHTTPServer(
        (options.host, options.port), app.handle, context, quiet=options.quiet
    )
    servers = [(server, "https")]
    port = server.server_address[1]
    host = options.host
    if host in {"0.0.0.0", "::"}:  # noqa: S104 - only the advertised URL, not the bind address
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    sandbox.origin = f"https://{shown}:{port}"
    if options.browser_port is not None:
        try:
            pages = SandboxHTTPServer(
                (BROWSER_HOST, options.browser_port), app.handle_browser, None, quiet=options.quiet
            )
        except OSError as exc:
            server.server_close()
            raise SystemExit(
                f"The sandbox cannot listen for its sign-in pages on {BROWSER_HOST}:"
                f"{options.browser_port} ({exc.strerror}); choose another --browser-port."
            ) from None
        servers.append((pages, "http-pages"))
        sandbox.browser_origin = f"http://{BROWSER_HOST}:{pages.server_address[1]}"
    sandbox.save_now()
    sandbox.start_background()
    threads = [
        threading.Thread(
            target=each.serve_forever, kwargs={"poll_interval": 0.1}, name=name, daemon=True
        )
        for each, name in servers
    ]
    for thread in threads:
        thread.start()
    on_ready(sandbox.origin)
    try:
        while all(thread.is_alive() for thread in threads):
            threads[0].join(timeout=0.5)
    finally:
        for each, _ in servers:
            each.shutdown()
            each.server_close()
        sandbox.stop()
