"""The OpenID Connect sign-in (v2 authorization code flow with PKCE and a nonce), driven
by unmodified MSAL and by plain HTTP, as the portal will run it after an admin consent."""

from __future__ import annotations

import base64
import hashlib
import html
import re
import secrets
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from partner_portal.sandbox.testing import SandboxProcess
from tests.fixtures.sandbox import sandbox_fixture

from .helpers import aadsts, msal_app, token_request

pytestmark = pytest.mark.sandbox

GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
MEMBER_USER = "b79fbf4d-3ef9-4689-8143-76b194e85509"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


sb = sandbox_fixture("signin", tenants=3, consented=1, alerts_per_tenant=1)


def _callback(sb: SandboxProcess) -> str:
    return str(sb.config["redirect_uris"][0])


def _plain_user(sb: SandboxProcess, tenant_id: str) -> str:
    return str(sb.control("GET", f"/_sandbox/tenants/{tenant_id}").json()["plain_user"])


def _challenge(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def _authorize(sb: SandboxProcess, path: str, **params: str) -> requests.Response:
    query = {
        "client_id": sb.config["client_id"],
        "response_type": "code",
        "redirect_uri": _callback(sb),
        "scope": "openid profile offline_access",
        "state": "st-1",
        **params,
    }
    with sb.session() as session:
        return session.get(f"{sb.url}{path}", params=query, allow_redirects=False, timeout=30)


def _post_login(sb: SandboxProcess, ctx: re.Match[str] | None, login: str) -> requests.Response:
    """Post a sign-in form: its signed state (``ctx``, found in the page) and ``login``."""
    assert ctx is not None
    with sb.session() as session:
        return session.post(
            f"{sb.url}/common/login",
            data={"ctx": html.unescape(ctx.group(1)), "login": login},
            allow_redirects=False,
            timeout=30,
        )


def _pick(sb: SandboxProcess, page: requests.Response, upn: str) -> requests.Response:
    """Post the pick form of ``upn`` (as clicking its ``#pick-N`` button would)."""
    assert page.status_code == 200, page.text
    forms = re.findall(r'<form method="post" action="/common/login">(.*?)</form>', page.text)
    form = next(f for f in forms if f'data-upn="{html.escape(upn)}"' in f)
    return _post_login(sb, re.search(r'name="ctx" value="([^"]+)"', form), upn)


def _type(sb: SandboxProcess, page: requests.Response, login: str) -> requests.Response:
    """Submit the typed-username form (``#username``, ``#signin``)."""
    assert 'id="username"' in page.text and 'id="signin"' in page.text
    ctx = re.search(r'id="signin-form"><input type="hidden" name="ctx" value="([^"]+)"', page.text)
    return _post_login(sb, ctx, login)


def _back(sb: SandboxProcess, response: requests.Response) -> dict[str, str]:
    """The query of the redirect to the app's reply URL."""
    assert response.status_code == 302, response.text
    location = response.headers["Location"]
    assert location.startswith(_callback(sb) + "?"), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def _msal_sign_in(sb: SandboxProcess, tenant_id: str, upn: str) -> tuple[Any, dict[str, Any]]:
    """Run MSAL's auth code flow for ``upn``: (flow, result)."""
    app = msal_app(sb, tenant_id)
    flow = app.initiate_auth_code_flow(scopes=[], redirect_uri=_callback(sb))
    with sb.session() as session:
        page = session.get(flow["auth_uri"], allow_redirects=False, timeout=30)
    query = _back(sb, _pick(sb, page, upn))
    assert set(query) == {"code", "client_info", "state", "session_state"}
    result = app.acquire_token_by_auth_code_flow(flow, query)
    assert "error" not in result, result
    return flow, result


def _code_form(sb: SandboxProcess, code: str, **extra: str) -> dict[str, str]:
    """The form that redeems ``code`` for the app (v1 as it is; v2 adds a scope)."""
    return {
        "grant_type": "authorization_code",
        "client_id": sb.config["client_id"],
        "client_secret": sb.config["client_secret"],
        "code": code,
        "redirect_uri": _callback(sb),
        **extra,
    }


def _redeem(sb: SandboxProcess, tenant: str, code: str, **extra: str) -> requests.Response:
    form = _code_form(sb, code, scope="openid profile offline_access")
    return token_request(sb, tenant, {**form, **extra})


def _code(sb: SandboxProcess, tenant: dict[str, Any], **params: str) -> str:
    page = _authorize(sb, f"/{tenant['tenant_id']}/oauth2/v2.0/authorize", **params)
    return _back(sb, _pick(sb, page, tenant["admin_user"]))["code"]


def test_msal_auth_code_flow_signs_in_the_admin(sb: SandboxProcess) -> None:
    tenant = sb.tenants[0]
    flow, result = _msal_sign_in(sb, tenant["tenant_id"], tenant["admin_user"])
    claims = result["id_token_claims"]
    assert claims["tid"] == tenant["tenant_id"]
    assert claims["preferred_username"] == tenant["admin_user"]
    assert GLOBAL_ADMIN in claims["wids"] and MEMBER_USER in claims["wids"]
    # MSAL sent the SHA-256 of its nonce and already checked the token carries it.
    assert claims["nonce"] == hashlib.sha256(flow["nonce"].encode()).hexdigest()
    assert claims["sub"] != claims["oid"]  # v2 subjects are pairwise
    assert result["refresh_token"] and result["token_type"] == "Bearer"


def test_form_post_response_mode(sb: SandboxProcess) -> None:
    tenant = sb.tenants[1]
    app = msal_app(sb, tenant["tenant_id"])
    flow = app.initiate_auth_code_flow(
        scopes=[], redirect_uri=_callback(sb), response_mode="form_post"
    )
    with sb.session() as session:
        page = session.get(flow["auth_uri"], allow_redirects=False, timeout=30)
    posted = _pick(sb, page, tenant["admin_user"])
    assert posted.status_code == 200
    assert f'method="post" action="{html.escape(_callback(sb))}"' in posted.text
    # Its one inline script runs by hash; nothing else inline would.
    script = re.findall(r"<script>(.*?)</script>", posted.text)[0]
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}';" in posted.headers["Content-Security-Policy"]
    fields = {
        html.unescape(k): html.unescape(v)
        for k, v in re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)">', posted.text)
    }
    assert {"code", "state", "session_state"} <= set(fields)
    result = app.acquire_token_by_auth_code_flow(flow, fields)
    assert result["id_token_claims"]["tid"] == tenant["tenant_id"], result


def test_id_token_verifies_against_discovery_keys(sb: SandboxProcess) -> None:
    tenant = sb.tenants[1]
    _, result = _msal_sign_in(sb, tenant["tenant_id"], tenant["admin_user"])
    with sb.session() as session:
        discovery = session.get(
            f"{sb.url}/{tenant['tenant_id']}/v2.0/.well-known/openid-configuration", timeout=30
        ).json()
        keys = session.get(discovery["jwks_uri"], timeout=30).json()["keys"]
    header = jwt.get_unverified_header(result["id_token"])
    assert header["alg"] == "RS256" and header["x5t"]
    key = next(k for k in keys if k["kid"] == header["kid"])
    claims = jwt.decode(
        result["id_token"],
        jwt.PyJWK(key).key,
        algorithms=["RS256"],
        audience=sb.config["client_id"],
        issuer=discovery["issuer"],
    )
    assert claims["iss"] == f"{sb.url}/{tenant['tenant_id']}/v2.0"
    assert claims["ver"] == "2.0" and claims["oid"]
    assert claims["exp"] - claims["iat"] == 3600


def test_non_admin_signs_in_without_the_admin_role(sb: SandboxProcess) -> None:
    tenant = sb.tenants[2]  # not consented: the sign-in does not ask for consent
    plain = _plain_user(sb, tenant["tenant_id"])
    _, result = _msal_sign_in(sb, tenant["tenant_id"], plain)
    claims = result["id_token_claims"]
    assert claims["preferred_username"] == plain
    assert claims["wids"] == [MEMBER_USER]


def test_tenant_path_lists_its_own_accounts_and_organizations_all(sb: SandboxProcess) -> None:
    own, other = sb.tenants[0], sb.tenants[1]
    page = _authorize(sb, f"/{own['tenant_id']}/oauth2/v2.0/authorize")
    assert page.status_code == 200 and "<h1>Sign in</h1>" in page.text
    assert f'data-upn="{own["admin_user"]}"' in page.text
    assert f'data-upn="{_plain_user(sb, own["tenant_id"])}"' in page.text
    assert f'data-upn="{other["admin_user"]}"' not in page.text
    assert 'id="pick-0"' in page.text and "Global administrator" in page.text
    everyone = _authorize(sb, "/organizations/oauth2/v2.0/authorize")
    for tenant in sb.tenants:
        assert f'data-upn="{tenant["admin_user"]}"' in everyone.text
    query = _back(sb, _type(sb, everyone, other["admin_user"]))
    assert query["state"] == "st-1" and "client_info" not in query
    redeemed = _redeem(sb, "organizations", query["code"])
    assert redeemed.status_code == 200, redeemed.text
    claims = jwt.decode(redeemed.json()["id_token"], options={"verify_signature": False})
    assert claims["tid"] == other["tenant_id"]


def test_pkce_nonce_and_answer_shape(sb: SandboxProcess) -> None:
    tenant = sb.tenants[0]
    verifier = secrets.token_urlsafe(48)
    code = _code(
        sb,
        tenant,
        nonce="nonce-as-sent",
        code_challenge=_challenge(verifier),
        code_challenge_method="S256",
    )
    for extra in ({"code_verifier": "x" * 50}, {}):
        refused = _redeem(sb, tenant["tenant_id"], code, **extra)
        assert refused.status_code == 400
        assert aadsts(refused) == 501481
        assert refused.json()["error"] == "invalid_grant"
    answer = _redeem(sb, tenant["tenant_id"], code, code_verifier=verifier, client_info="1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert isinstance(body["expires_in"], int) and isinstance(body["ext_expires_in"], int)
    assert body["token_type"] == "Bearer" and "openid" in body["scope"].split()
    assert body["refresh_token"]
    info = base64.urlsafe_b64decode(body["client_info"] + "==")
    assert b'"utid": "' + tenant["tenant_id"].encode() in info
    id_claims = jwt.decode(body["id_token"], options={"verify_signature": False})
    assert id_claims["nonce"] == "nonce-as-sent"
    access = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert access["aud"] == GRAPH_APP_ID and access["tid"] == tenant["tenant_id"]
    assert GLOBAL_ADMIN in access["wids"] and "User.Read" in access["scp"].split()
    again = _redeem(sb, tenant["tenant_id"], code, code_verifier=verifier)
    assert again.status_code == 400 and aadsts(again) == 54005


def test_plain_challenge_without_nonce_or_offline_access(sb: SandboxProcess) -> None:
    tenant = sb.tenants[1]
    verifier = secrets.token_urlsafe(40)
    code = _code(sb, tenant, scope="openid", code_challenge=verifier, code_challenge_method="plain")
    body = _redeem(sb, tenant["tenant_id"], code, code_verifier=verifier).json()
    assert "refresh_token" not in body and "client_info" not in body
    assert "nonce" not in jwt.decode(body["id_token"], options={"verify_signature": False})


def test_code_is_bound_to_its_tenant_and_the_v2_endpoint(sb: SandboxProcess) -> None:
    tenant, other = sb.tenants[0], sb.tenants[1]
    code = _code(sb, tenant)
    assert aadsts(_redeem(sb, other["tenant_id"], code)) == 70000
    assert aadsts(token_request(sb, "common", _code_form(sb, code), v1=True)) == 70000
    assert _redeem(sb, tenant["tenant_id"], code).status_code == 200


def test_error_pages_are_never_redirects(sb: SandboxProcess) -> None:
    own, other = sb.tenants[0], sb.tenants[1]
    page = _authorize(sb, f"/{own['tenant_id']}/oauth2/v2.0/authorize")
    refused = _type(sb, page, other["admin_user"])
    assert refused.status_code == 400 and "AADSTS50020" in refused.text
    unknown = _authorize(sb, "/no-such-tenant.example/oauth2/v2.0/authorize")
    assert unknown.status_code == 400 and "AADSTS90002" in unknown.text
    stranger = _authorize(
        sb, "/organizations/oauth2/v2.0/authorize", redirect_uri="https://evil.example/cb"
    )
    assert stranger.status_code == 400 and "AADSTS50011" in stranger.text
    app = _authorize(
        sb, "/organizations/oauth2/v2.0/authorize", client_id="00000000-0000-0000-0000-000000000000"
    )
    assert app.status_code == 400 and "AADSTS700016" in app.text
    for response in (unknown, stranger, app, refused):
        assert "Location" not in response.headers


@pytest.mark.parametrize(
    ("params", "error", "code"),
    [
        ({"scope": "profile offline_access"}, "invalid_request", 900144),
        ({"response_type": "token"}, "unsupported_response_type", 700054),
        ({"code_challenge": "a" * 43, "code_challenge_method": "S512"}, "invalid_request", 50149),
        ({"code_challenge": "short", "code_challenge_method": "plain"}, "invalid_request", 501491),
        ({"response_mode": "smoke_signal"}, "invalid_request", 90100),
        ({"prompt": "none"}, "login_required", 50058),
    ],
)
def test_bad_requests_go_back_with_an_error(
    sb: SandboxProcess, params: dict[str, str], error: str, code: int
) -> None:
    query = _back(sb, _authorize(sb, "/common/oauth2/v2.0/authorize", **params))
    assert query["error"] == error
    assert query["error_description"].startswith(f"AADSTS{code}:")
    assert query["state"] == "st-1" and "code" not in query


def test_v1_partner_link_access_token_carries_wids(sb: SandboxProcess) -> None:
    tenant = sb.tenants[0]
    with sb.session() as session:
        page = session.get(
            f"{sb.url}/common/oauth2/authorize",
            params={
                "prompt": "consent",
                "client_id": sb.config["client_id"],
                "response_type": "code",
                "redirect_uri": _callback(sb),
                "state": "st-v1",
            },
            timeout=30,
        )
        consent = _pick(sb, page, tenant["admin_user"])
        ctx = re.search(r'action="/common/consent"[^>]*><input type="hidden" name="ctx" '
                        r'value="([^"]+)"', consent.text)  # fmt: skip
        assert ctx is not None
        accepted = session.post(
            f"{sb.url}/common/consent",
            data={"ctx": html.unescape(ctx.group(1)), "decision": "accept"},
            allow_redirects=False,
            timeout=30,
        )
        keys = session.get(f"{sb.url}/common/discovery/keys", timeout=30).json()["keys"]
    code = _back(sb, accepted)["code"]
    form = {
        "grant_type": "authorization_code",
        "client_id": sb.config["client_id"],
        "client_secret": sb.config["client_secret"],
        "code": code,
        "redirect_uri": _callback(sb),
    }
    body = token_request(sb, "common", form, v1=True).json()
    access = jwt.decode(
        body["access_token"],
        jwt.PyJWK(keys[0]).key,
        algorithms=["RS256"],
        options={"verify_aud": False},
    )
    assert access["tid"] == tenant["tenant_id"]
    assert set(access["wids"]) == {GLOBAL_ADMIN, MEMBER_USER}
    assert jwt.get_unverified_header(body["id_token"])["alg"] == "none"
    assert "wids" not in jwt.decode(body["id_token"], options={"verify_signature": False})
