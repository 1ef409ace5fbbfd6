"""The sandbox's pages for a person's browser on plain HTTP, bound to loopback: admin
consent, the partner consent link and the sign-in answer there, and nothing a program
calls (token endpoints, discovery, keys, the APIs, the control API) does."""

from __future__ import annotations

import html
import socket
from typing import Any

import pytest
import requests

from partner_portal.sandbox.options import parse_options
from partner_portal.sandbox.routing import Router
from partner_portal.sandbox.server import SandboxHTTPServer
from partner_portal.sandbox.testing import SandboxProcess
from partner_portal.sandbox.web import Request, Response, json_response

pytestmark = pytest.mark.sandbox

REDIRECT = "http://127.0.0.1:8000/consent/callback/"


def _plain() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _consent_query(sandbox: SandboxProcess, **extra: str) -> dict[str, str]:
    return {"client_id": sandbox.config["client_id"], "redirect_uri": REDIRECT, **extra}


def test_the_pages_listen_on_plain_http_at_loopback_and_programs_stay_on_https(
    sandbox: SandboxProcess,
) -> None:
    assert sandbox.url.startswith("https://")
    assert sandbox.browser_url.startswith("http://127.0.0.1:")
    assert sandbox.config["login_url"] == sandbox.url


def test_admin_consent_signs_in_and_shows_the_permissions_over_plain_http(
    sandbox: SandboxProcess,
) -> None:
    tenant = sandbox.tenants[0]
    with _plain() as browser:
        page = browser.get(
            f"{sandbox.browser_url}/{tenant['tenant_id']}/v2.0/adminconsent",
            params=_consent_query(sandbox, state="s1"),
            timeout=30,
        )
        assert page.status_code == 200 and 'id="signin-form"' in page.text
        assert "default-src 'none'" in page.headers["Content-Security-Policy"]
        ctx = page.text.split('name="ctx" value="', 1)[1].split('"', 1)[0]
        consent = browser.post(
            f"{sandbox.browser_url}/common/login",
            data={"ctx": html.unescape(ctx), "login": tenant["admin_user"]},
            timeout=30,
        )
    assert consent.status_code == 200 and 'id="consent-form"' in consent.text


@pytest.mark.parametrize(
    "path",
    ["/common/oauth2/authorize", "/organizations/oauth2/v2.0/authorize"],
)
def test_the_partner_link_and_the_openid_sign_in_answer_over_plain_http(
    sandbox: SandboxProcess, path: str
) -> None:
    query = _consent_query(
        sandbox, response_type="code", scope="openid profile", prompt="select_account"
    )
    with _plain() as browser:
        page = browser.get(sandbox.browser_url + path, params=query, timeout=30)
    assert page.status_code == 200 and 'id="signin-form"' in page.text


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/{tid}/oauth2/v2.0/token"),
        ("POST", "/common/oauth2/token"),
        ("GET", "/{tid}/v2.0/.well-known/openid-configuration"),
        ("GET", "/common/discovery/v2.0/keys"),
        ("GET", "/_sandbox/health"),
        ("GET", "/api/alerts"),
        ("GET", "/v1.0/security/alerts_v2"),
    ],
)
def test_nothing_a_program_calls_answers_over_plain_http(
    sandbox: SandboxProcess, method: str, path: str
) -> None:
    url = sandbox.browser_url + path.format(tid=sandbox.tenants[0]["tenant_id"])
    with _plain() as client:
        answer = client.request(method, url, timeout=30)
    assert answer.status_code == 404
    with sandbox.session() as client:
        over_https = client.request(
            method, sandbox.url + url.removeprefix(sandbox.browser_url), timeout=30
        )
    assert over_https.status_code != 404


def test_a_page_reached_under_another_host_name_gets_nothing(sandbox: SandboxProcess) -> None:
    # DNS rebinding: another site's name pointed at 127.0.0.1.
    tenant = sandbox.tenants[0]["tenant_id"]
    with _plain() as browser:
        answer = browser.get(
            f"{sandbox.browser_url}/{tenant}/v2.0/adminconsent",
            params=_consent_query(sandbox),
            headers={"Host": "attacker.example:80"},
            timeout=30,
        )
        by_name = browser.get(
            sandbox.browser_url.replace("127.0.0.1", "localhost") + f"/{tenant}/v2.0/adminconsent",
            params=_consent_query(sandbox),
            timeout=30,
        )
    assert answer.status_code == 421
    assert by_name.status_code == 200


def test_plain_http_refuses_an_address_other_than_loopback() -> None:
    def answer(request: Request) -> Response:
        return json_response(200, {})

    with pytest.raises(ValueError, match="loopback only"):
        SandboxHTTPServer(("0.0.0.0", 0), answer, None, quiet=True)  # noqa: S104


@pytest.mark.parametrize(
    ("argv", "port"),
    [
        ([], 8442),
        (["--browser-port", "0"], 0),
        (["--no-browser-port"], None),
        # Listening for other machines, the pages stay on HTTPS: no plain HTTP at all.
        (["--host", "0.0.0.0", "--allow-remote"], None),  # noqa: S104
    ],
)
def test_the_pages_port_of_the_command_line(argv: list[str], port: int | None) -> None:
    assert parse_options(argv).browser_port == port


def test_a_negative_pages_port_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        parse_options(["--browser-port", "-1"])
    assert "--browser-port must not be negative" in capsys.readouterr().err


def test_only_routes_marked_for_the_browser_answer_the_browser_listener() -> None:
    router = Router()
    router.route("GET", r"/page", lambda request: json_response(200, {"page": True}), browser=True)
    router.route("POST", r"/token", lambda request: json_response(200, {"token": True}))
    router.mount(r"/api/", lambda request: json_response(200, {"api": True}))

    def ask(method: str, path: str, *, browser: bool) -> Any:
        request = Request(method, path, {}, {}, b"", "127.0.0.1")
        handle = router.handle_browser if browser else router.handle
        return handle(request).status

    assert [ask("GET", "/page", browser=b) for b in (True, False)] == [200, 200]
    assert [ask("POST", "/token", browser=b) for b in (True, False)] == [404, 200]
    assert [ask("GET", "/api/x", browser=b) for b in (True, False)] == [404, 200]


def test_without_the_pages_listener_the_pages_stay_on_the_https_origin(
    sandbox_factory: Any,
) -> None:
    quiet = sandbox_factory(tenants=1, alerts_per_tenant=1, no_browser_port=True)
    assert quiet.browser_url == quiet.url
    with quiet.session() as client:
        discovery = client.get(
            f"{quiet.url}/organizations/v2.0/.well-known/openid-configuration", timeout=30
        ).json()
    assert discovery["authorization_endpoint"] == (
        f"{quiet.url}/organizations/oauth2/v2.0/authorize"
    )


def test_a_taken_pages_port_stops_the_sandbox_with_what_to_do(tmp_path: Any) -> None:
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    port = taken.getsockname()[1]
    with taken, pytest.raises(RuntimeError) as stopped:
        SandboxProcess(tmp_path, tenants=1, alerts_per_tenant=1, browser_port=port).start()
    assert f"127.0.0.1:{port}" in str(stopped.value)
    assert "choose another --browser-port" in str(stopped.value)
