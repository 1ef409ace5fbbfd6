"""Both consent flows clicked through in Debian's Chromium, ending at a local callback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest

from partner_portal.sandbox.testing import SandboxProcess
from tests.fixtures.sandbox import sandbox_fixture

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]


class _Callback(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<html><body><p id='done'>callback reached</p></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def callback_url() -> Iterator[str]:
    """A tiny local web server standing in for the portal's consent callback."""
    server = HTTPServer(("127.0.0.1", 0), _Callback)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    # Registered is http://127.0.0.1:8000/consent/callback/; the port of a loopback
    # redirect URI is ignored, so this server's random port is accepted.
    yield f"http://127.0.0.1:{server.server_address[1]}/consent/callback/"
    server.shutdown()
    server.server_close()


sb = sandbox_fixture("browser", tenants=4, alerts_per_tenant=2)


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Any:
    """Chromium for this module (tests/fixtures/browser.py)."""
    return chromium


def _consent(
    browser: Any, start_url: str, account: str, button: str, callback: str
) -> dict[str, list[str]]:
    context = browser.new_context()  # an ordinary browser: the pages are plain HTTP
    try:
        page = context.new_page()
        page.goto(start_url)
        page.get_by_label("Email or username").fill(account)
        page.click("#signin")
        page.wait_for_selector("#permissions")
        page.click(f"#{button}")
        page.wait_for_url(callback + "?*")
        assert page.locator("#done").inner_text() == "callback reached"
        return parse_qs(urlsplit(page.url).query)
    finally:
        context.close()


def _v2_url(sb: SandboxProcess, callback: str, state: str) -> str:
    query = urlencode(
        {"client_id": sb.config["client_id"], "redirect_uri": callback, "state": state}
    )
    return f"{sb.browser_url}/organizations/v2.0/adminconsent?{query}"


def _v1_url(sb: SandboxProcess, callback: str, state: str) -> str:
    query = urlencode(
        {
            "prompt": "consent",
            "client_id": sb.config["client_id"],
            "response_type": "code",
            "sso_reload": "true",
            "redirect_uri": callback,
            "state": state,
        }
    )
    return f"{sb.browser_url}/common/oauth2/authorize?{query}"


def test_v2_accept_in_browser(browser: Any, sb: SandboxProcess, callback_url: str) -> None:
    tenant = sb.tenants[0]
    params = _consent(
        browser, _v2_url(sb, callback_url, "b-v2"), tenant["admin_user"], "accept", callback_url
    )
    assert params["admin_consent"] == ["True"]
    assert params["tenant"] == [tenant["tenant_id"]]
    assert params["state"] == ["b-v2"]
    assert "scope" in params
    assert sb.reload_config()["tenants"][0]["consented"] is True


def test_v2_cancel_in_browser(browser: Any, sb: SandboxProcess, callback_url: str) -> None:
    tenant = sb.tenants[1]
    params = _consent(
        browser, _v2_url(sb, callback_url, "b-v2c"), tenant["admin_user"], "cancel", callback_url
    )
    assert params["error"] == ["access_denied"]
    assert params["error_description"][0].startswith("AADSTS65004:")
    assert params["state"] == ["b-v2c"]
    assert "tenant" not in params


def test_v1_accept_in_browser(browser: Any, sb: SandboxProcess, callback_url: str) -> None:
    tenant = sb.tenants[2]
    params = _consent(
        browser, _v1_url(sb, callback_url, "b-v1"), tenant["admin_user"], "accept", callback_url
    )
    assert set(params) == {"code", "session_state", "state", "admin_consent"}
    assert params["state"] == ["b-v1"]


def test_v1_cancel_in_browser(browser: Any, sb: SandboxProcess, callback_url: str) -> None:
    tenant = sb.tenants[3]
    params = _consent(
        browser, _v1_url(sb, callback_url, "b-v1c"), tenant["admin_user"], "cancel", callback_url
    )
    assert params["error"] == ["access_denied"]
    assert params["state"] == ["b-v1c"]
    assert "code" not in params
