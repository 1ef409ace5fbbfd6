"""Admin consent driven with plain HTTP form posts, as a browser would submit them."""

from __future__ import annotations

import html
import re
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from partner_portal.sandbox.testing import SandboxProcess
from tests.fixtures.sandbox import sandbox_fixture

from .helpers import aadsts, secret_form, token_request

pytestmark = pytest.mark.sandbox

# The registered http://localhost URI with another port: Entra ID ignores the port.
CALLBACK = "http://localhost:53123/consent/callback/"


sb = sandbox_fixture("consent", tenants=4, consented=0, alerts_per_tenant=3)


def _ctx(page: str, action: str = "") -> str:
    """The signed form state of the first form (posting to ``action``, if given)."""
    match = re.search(
        rf'action="{action}[^"]*"[^>]*>\s*<input type="hidden" name="ctx" value="([^"]+)"', page
    )
    assert match, page
    return html.unescape(match.group(1))


def _start(
    sb: SandboxProcess, path: str, **params: str
) -> tuple[requests.Session, requests.Response]:
    session = sb.session()
    response = session.get(f"{sb.url}{path}", params=params, allow_redirects=False)
    return session, response


def _start_admin_consent(
    sb: SandboxProcess, tenant: str = "organizations", **params: str
) -> tuple[requests.Session, requests.Response]:
    """Open the v2 admin consent link of ``tenant`` with ``params`` added."""
    return _start(
        sb,
        f"/{tenant}/v2.0/adminconsent",
        client_id=sb.config["client_id"],
        redirect_uri=CALLBACK,
        **params,
    )


def _start_v1_partner_link(
    sb: SandboxProcess, **params: str
) -> tuple[requests.Session, requests.Response]:
    """Open the v1 partner consent link (``prompt=consent``) with ``params`` added."""
    return _start(
        sb,
        "/common/oauth2/authorize",
        prompt="consent",
        client_id=sb.config["client_id"],
        response_type="code",
        redirect_uri=CALLBACK,
        **params,
    )


def _sign_in(
    sb: SandboxProcess, session: requests.Session, page: requests.Response, login: str
) -> requests.Response:
    assert page.status_code == 200, page.text
    assert 'id="username"' in page.text and 'for="username"' in page.text
    return session.post(
        f"{sb.url}/common/login",
        data={"ctx": _ctx(page.text), "login": login},
        allow_redirects=False,
    )


def _decide(
    sb: SandboxProcess, session: requests.Session, page: requests.Response, decision: str
) -> dict[str, list[str]]:
    response = session.post(
        f"{sb.url}/common/consent",
        data={"ctx": _ctx(page.text, "/common/consent"), "decision": decision},
        allow_redirects=False,
    )
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(CALLBACK + "?")
    return parse_qs(urlsplit(location).query)


def test_v2_admin_consent_accept(sb: SandboxProcess) -> None:
    tenant = sb.tenants[0]
    assert token_request(sb, tenant["tenant_id"], secret_form(sb)).status_code == 400
    session, page = _start_admin_consent(
        sb, state="st-123", scope="https://api.securitycenter.microsoft.com/.default"
    )
    consent = _sign_in(sb, session, page, tenant["admin_user"])
    assert consent.status_code == 200
    for role in ("Alert.Read.All", "Alert.ReadWrite.All", "Incident.Read.All"):
        assert f'data-permission="{role}"' in consent.text
    assert 'id="accept"' in consent.text and 'id="cancel"' in consent.text
    params = _decide(sb, session, consent, "accept")
    assert params == {
        "admin_consent": ["True"],
        "tenant": [tenant["tenant_id"]],
        "scope": ["https://api.securitycenter.microsoft.com/.default"],
        "state": ["st-123"],
    }
    assert token_request(sb, tenant["tenant_id"], secret_form(sb)).status_code == 200
    described = next(
        t for t in sb.reload_config()["tenants"] if t["tenant_id"] == tenant["tenant_id"]
    )
    assert described["consented"] is True
    # The default consent covers both the Defender APIs and Microsoft Graph.
    assert described["roles"] == [
        "Alert.Read.All",
        "Alert.ReadWrite.All",
        "Incident.Read.All",
        "SecurityAlert.Read.All",
        "SecurityAlert.ReadWrite.All",
        "SecurityIncident.Read.All",
        "SecurityIncident.ReadWrite.All",
        "ThreatHunting.Read.All",
    ]


def test_v2_admin_consent_cancel(sb: SandboxProcess) -> None:
    tenant = sb.tenants[1]
    session, page = _start_admin_consent(sb, tenant=tenant["tenant_id"], state="st-456")
    consent = _sign_in(sb, session, page, tenant["admin_user"])
    params = _decide(sb, session, consent, "cancel")
    assert params["error"] == ["access_denied"]
    assert params["error_description"][0].startswith("AADSTS65004:")
    assert params["admin_consent"] == ["True"]
    assert params["state"] == ["st-456"]
    assert "tenant" not in params
    assert aadsts(token_request(sb, tenant["tenant_id"], secret_form(sb))) == 700016


def test_v1_partner_link_and_code_redemption(sb: SandboxProcess) -> None:
    tenant = sb.tenants[2]
    session, page = _start_v1_partner_link(sb, state="st-789", sso_reload="true")
    consent = _sign_in(sb, session, page, tenant["admin_user"])
    params = _decide(sb, session, consent, "accept")
    assert set(params) == {"code", "session_state", "state", "admin_consent"}
    assert params["state"] == ["st-789"] and params["admin_consent"] == ["True"]
    form = {
        "grant_type": "authorization_code",
        "client_id": sb.config["client_id"],
        "client_secret": sb.config["client_secret"],
        "code": params["code"][0],
        "redirect_uri": CALLBACK,
        "resource": "https://api.securitycenter.microsoft.com",
    }
    redeemed = token_request(sb, "common", form, v1=True)
    assert redeemed.status_code == 200, redeemed.text
    body = redeemed.json()
    claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert claims["tid"] == tenant["tenant_id"]
    assert claims["upn"] == tenant["admin_user"]
    assert body["expires_in"].isdigit()
    again = token_request(sb, "common", form, v1=True)
    assert again.status_code == 400
    assert aadsts(again) == 54005
    assert token_request(sb, tenant["tenant_id"], secret_form(sb)).status_code == 200


def test_v1_cancel(sb: SandboxProcess) -> None:
    tenant = sb.tenants[3]
    session, page = _start_v1_partner_link(sb, state="st-v1")
    params = _decide(sb, session, _sign_in(sb, session, page, tenant["admin_user"]), "cancel")
    assert params["error"] == ["access_denied"]
    assert params["error_description"][0].startswith("AADSTS65004:")
    assert params["state"] == ["st-v1"]
    assert "code" not in params


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"client_id": "00000000-0000-0000-0000-000000000000", "redirect_uri": CALLBACK}, 700016),
        ({"redirect_uri": "https://evil.example/consent/callback/"}, 50011),
        ({"redirect_uri": "http://localhost:8000/other/callback/"}, 50011),
        ({"redirect_uri": "http://LOCALHOST:8000/consent/callback/"}, 50011),
        ({"redirect_uri": "http://127.0.0.1:8000/Consent/Callback/"}, 50011),
    ],
)
def test_bad_app_or_reply_url_gives_error_page(sb: SandboxProcess, params: dict, code: int) -> None:
    for path in ("/organizations/v2.0/adminconsent", "/common/oauth2/authorize"):
        query = {
            "client_id": sb.config["client_id"],
            "response_type": "code",
            "state": "s",
            **params,
        }
        _, response = _start(sb, path, **query)
        assert response.status_code == 400
        assert "Location" not in response.headers
        assert f"AADSTS{code}" in response.text


def test_non_admin_needs_admin_approval(sb: SandboxProcess) -> None:
    tenant = sb.tenants[1]
    plain = sb.control("GET", f"/_sandbox/tenants/{tenant['tenant_id']}").json()["plain_user"]
    session, page = _start_admin_consent(sb, state="st-user")
    refused = _sign_in(sb, session, page, plain)
    assert refused.status_code == 200
    assert "Need admin approval" in refused.text and "AADSTS90094" in refused.text
    assert 'id="accept"' not in refused.text
    params = _decide(sb, session, refused, "cancel")
    assert params["error"] == ["access_denied"] and params["state"] == ["st-user"]


def test_tenant_specific_path_refuses_other_directories(sb: SandboxProcess) -> None:
    own, other = sb.tenants[0], sb.tenants[1]
    session, page = _start_admin_consent(sb, tenant=own["tenant_id"])
    refused = _sign_in(sb, session, page, other["admin_user"])
    assert refused.status_code == 400
    assert "AADSTS50020" in refused.text


def test_unknown_account_and_tampered_form(sb: SandboxProcess) -> None:
    session, page = _start_admin_consent(sb)
    again = _sign_in(sb, session, page, "nobody@nowhere.example")
    assert again.status_code == 200 and "AADSTS50034" in again.text
    forged = session.post(
        f"{sb.url}/common/consent", data={"ctx": _ctx(page.text) + "x", "decision": "accept"}
    )
    assert forged.status_code == 400
    assert "Location" not in forged.headers
