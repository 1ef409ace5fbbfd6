"""The partner's own tenant: its staff sign in with unmodified MSAL and their ID tokens
carry their groups, never ``amr`` (v2.0), and ``acrs`` only after the second factor an
authentication context asks for, and ``roles`` only while an app role is assigned;
Graph answers whether they are still in a group, from the tenant's real membership,
which the control API changes, as it changes app role assignments."""

from __future__ import annotations

import html
import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests

from partner_portal.sandbox.testing import SandboxProcess
from tests.fixtures.sandbox import sandbox_fixture

from .helpers import msal_app

pytestmark = pytest.mark.sandbox

CALLBACK = "http://127.0.0.1:8000/accounts/microsoft/callback/"

sb = sandbox_fixture("partner", tenants=1, consented=1, alerts_per_tenant=1)


def _partner(sb: SandboxProcess) -> dict[str, Any]:
    response = sb.control("GET", "/_sandbox/partner")
    response.raise_for_status()
    partner: dict[str, Any] = response.json()
    return partner


def _user(partner: dict[str, Any], first: str) -> dict[str, Any]:
    return next(u for u in partner["users"] if u["upn"].startswith(first + "."))


def _group(partner: dict[str, Any], name: str) -> str:
    return str(next(g["object_id"] for g in partner["groups"] if g["display_name"] == name))


def _pick(sb: SandboxProcess, auth_uri: str, upn: str) -> requests.Response:
    """Open the sign-in page of ``auth_uri`` and pick ``upn``: the sandbox's answer."""
    with sb.session() as session:
        page = session.get(auth_uri, timeout=30)
        assert page.status_code == 200, page.text
        forms = re.findall(r'<form method="post" action="/common/login">(.*?)</form>', page.text)
        form = next(f for f in forms if f'data-upn="{html.escape(upn)}"' in f)
        ctx = re.search(r'name="ctx" value="([^"]+)"', form)
        assert ctx is not None
        return session.post(
            f"{sb.url}/common/login",
            data={"ctx": html.unescape(ctx.group(1)), "login": upn},
            allow_redirects=False,
            timeout=30,
        )


def _second_factor(sb: SandboxProcess, page: requests.Response, *, code: str | None) -> Any:
    """Answer the second step's page: the code it shows (``code=None``), another code, or
    the way out (``code=""``)."""
    assert page.status_code == 200 and 'id="mfa-form"' in page.text, page.text[-300:]
    ctx = re.search(r'name="ctx" value="([^"]+)"', page.text)
    shown = re.search(r'id="mfa-code">(\d{6})<', page.text)
    assert ctx is not None and shown is not None
    form = {"ctx": html.unescape(ctx.group(1)), "decision": "skip" if code == "" else "verify"}
    if code != "":
        form["otc"] = shown.group(1) if code is None else code
    with sb.session() as session:
        return session.post(f"{sb.url}/common/mfa", data=form, allow_redirects=False, timeout=30)


def _query(answer: Any) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def _redeem(app: Any, flow: dict[str, Any], answer: Any) -> dict[str, Any]:
    """MSAL redeems the answer's code: the ID token's validated claims."""
    result = app.acquire_token_by_auth_code_flow(flow, _query(answer))
    assert "error" not in result, result
    claims: dict[str, Any] = result["id_token_claims"]
    raw = jwt.decode(result["id_token"], options={"verify_signature": False})
    assert raw["groups"] == claims["groups"]
    return claims


def _sign_in(sb: SandboxProcess, tenant_id: str, upn: str) -> dict[str, Any]:
    """MSAL's auth code flow for ``upn`` at the partner's tenant: the validated claims."""
    app = msal_app(sb, tenant_id)
    flow = app.initiate_auth_code_flow(scopes=[], redirect_uri=CALLBACK)
    return _redeem(app, flow, _pick(sb, flow["auth_uri"], upn))


def _with_context(sb: SandboxProcess, tenant_id: str, claims: dict[str, Any]) -> tuple[Any, Any]:
    """MSAL's app and a flow asking for ``claims`` (MSAL's claims_challenge)."""
    app = msal_app(sb, tenant_id)
    flow = app.initiate_auth_code_flow(
        scopes=[], redirect_uri=CALLBACK, claims_challenge=json.dumps(claims)
    )
    return app, flow


C1 = {"id_token": {"acrs": {"essential": True, "value": "c1"}}}


def _graph(sb: SandboxProcess, tenant_id: str, path: str, body: Any) -> Any:
    app = msal_app(sb, tenant_id)
    token = app.acquire_token_for_client(scopes=["https://graph.microsoft.com/.default"])
    assert "access_token" in token, token
    with sb.session() as session:
        return session.post(
            f"{sb.config['graph_url']}/v1.0/{path}",
            json=body,
            headers={"Authorization": f"Bearer {token['access_token']}"},
            timeout=30,
        )


def test_the_partner_tenant_is_described_apart_from_the_customers(sb: SandboxProcess) -> None:
    partner = sb.config["partner_tenant"]
    assert partner["tenant_id"] not in {t["tenant_id"] for t in sb.tenants}
    assert {g["display_name"] for g in partner["groups"]} >= {"SOC analysts", "Portal admins"}
    assert _user(partner, "robin")["groups"] == []


def test_a_staff_sign_in_carries_groups_and_no_amr(sb: SandboxProcess) -> None:
    partner = _partner(sb)
    dana, lee = _user(partner, "dana"), _user(partner, "lee")
    claims = _sign_in(sb, partner["tenant_id"], dana["upn"])
    assert claims["tid"] == partner["tenant_id"] and claims["oid"] == dana["object_id"]
    assert claims["groups"] == [_group(partner, "SOC analysts")]
    assert claims["ver"] == "2.0"
    # Microsoft's v2.0 ID tokens carry no amr; without the claims request, no acrs either.
    assert "amr" not in claims and "acrs" not in claims
    assert not {"amr", "acrs"} & set(_sign_in(sb, partner["tenant_id"], lee["upn"]))
    robin = _user(partner, "robin")
    assert _sign_in(sb, partner["tenant_id"], robin["upn"])["groups"] == []


def test_an_authentication_context_is_named_only_after_the_second_factor(
    sb: SandboxProcess,
) -> None:
    partner = _partner(sb)
    app, flow = _with_context(sb, partner["tenant_id"], C1)
    assert "claims=" in flow["auth_uri"]
    page = _pick(sb, flow["auth_uri"], _user(partner, "dana")["upn"])
    assert page.status_code == 200  # the second step, not yet a code for the app
    claims = _redeem(app, flow, _second_factor(sb, page, code=None))
    assert claims["acrs"] == ["c1"] and "amr" not in claims


@pytest.mark.parametrize("code", ["000000x", ""], ids=["wrong-code", "skipped"])
def test_a_failed_or_skipped_second_factor_gets_no_token(sb: SandboxProcess, code: str) -> None:
    partner = _partner(sb)
    _app, flow = _with_context(sb, partner["tenant_id"], C1)
    page = _pick(sb, flow["auth_uri"], _user(partner, "dana")["upn"])
    query = _query(_second_factor(sb, page, code=code))
    assert "code" not in query and query["state"] == flow["state"]
    assert query["error"] == "access_denied"
    assert query["error_description"].startswith("AADSTS500121")


def test_an_account_without_a_second_factor_cannot_meet_the_context(sb: SandboxProcess) -> None:
    partner = _partner(sb)
    _app, flow = _with_context(sb, partner["tenant_id"], C1)
    query = _query(_pick(sb, flow["auth_uri"], _user(partner, "lee")["upn"]))
    assert "code" not in query and query["error"] == "interaction_required"
    assert query["error_description"].startswith("AADSTS50079")


@pytest.mark.parametrize(
    "claims",
    [
        {"id_token": {"acrs": {"essential": False, "value": "c1"}}},
        {"id_token": {"acrs": {"essential": True, "value": "c100"}}},
        {"access_token": {"acrs": {"essential": True, "value": "c1"}}},
    ],
    ids=["not-essential", "not-a-context-id", "access-token-only"],
)
def test_a_claims_request_without_an_essential_context_asks_no_second_factor(
    sb: SandboxProcess, claims: dict[str, Any]
) -> None:
    partner = _partner(sb)
    app, flow = _with_context(sb, partner["tenant_id"], claims)
    answer = _pick(sb, flow["auth_uri"], _user(partner, "lee")["upn"])
    assert "acrs" not in _redeem(app, flow, answer)


def test_graph_answers_membership_and_follows_changes(sb: SandboxProcess) -> None:
    partner = _partner(sb)
    tid, lee = partner["tenant_id"], _user(partner, "lee")
    soc, admins = _group(partner, "SOC analysts"), _group(partner, "Portal admins")
    path = f"users/{lee['object_id']}/checkMemberGroups"
    answer = _graph(sb, tid, path, {"groupIds": [soc, admins]})
    assert answer.status_code == 200, answer.text
    assert answer.json()["value"] == [soc]

    members = f"/_sandbox/tenants/{tid}/groups/SOC analysts/members/{lee['upn']}"
    sb.control("DELETE", members).raise_for_status()
    try:
        assert _graph(sb, tid, path, {"groupIds": [soc, admins]}).json()["value"] == []
        assert _sign_in(sb, tid, lee["upn"])["groups"] == []
        everything = _graph(sb, tid, f"users/{lee['upn']}/getMemberGroups", {
            "securityEnabledOnly": True
        })  # fmt: skip
        assert everything.json()["value"] == []
    finally:
        sb.control("PUT", members).raise_for_status()
    assert _graph(sb, tid, path, {"groupIds": [soc]}).json()["value"] == [soc]


def test_graph_refuses_unknown_users_bad_bodies_and_customer_tokens(sb: SandboxProcess) -> None:
    partner = _partner(sb)
    tid = partner["tenant_id"]
    missing = _graph(sb, tid, "users/nobody@nowhere.example/checkMemberGroups", {"groupIds": []})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"
    bad = _graph(sb, tid, f"users/{_user(partner, 'dana')['object_id']}/checkMemberGroups", {})
    assert bad.status_code == 400
    # A customer's consent never grants the directory permission.
    customer = sb.tenants[0]["tenant_id"]
    refused = _graph(sb, customer, "users/x/checkMemberGroups", {"groupIds": []})
    assert refused.status_code == 403


def test_app_roles_come_in_roles_while_assigned(sb: SandboxProcess) -> None:
    partner = _partner(sb)
    tid, robin = partner["tenant_id"], _user(partner, "robin")
    assert {r["value"] for r in partner["app_roles"]} >= {"Portal.Analyst", "Portal.Admin"}
    assert "roles" not in _sign_in(sb, tid, robin["upn"])  # none assigned: no claim
    assigned = f"/_sandbox/tenants/{tid}/users/{robin['upn']}/app-roles/portal.analyst"
    answer = sb.control("PUT", assigned)
    answer.raise_for_status()
    try:
        assert answer.json()["app_roles"] == ["Portal.Analyst"]  # the app's own spelling
        assert _user(_partner(sb), "robin")["app_roles"] == ["Portal.Analyst"]
        claims = _sign_in(sb, tid, robin["upn"])
        assert claims["roles"] == ["Portal.Analyst"] and claims["groups"] == []
    finally:
        sb.control("DELETE", assigned).raise_for_status()
    assert "roles" not in _sign_in(sb, tid, robin["upn"])


def test_only_defined_app_roles_of_the_partner_tenant_can_be_assigned(sb: SandboxProcess) -> None:
    partner = _partner(sb)
    upn = _user(partner, "robin")["upn"]
    path = f"/_sandbox/tenants/{partner['tenant_id']}/users/{upn}/app-roles/Root"
    unknown = sb.control("PUT", path)
    assert unknown.status_code == 404 and "no app role Root" in unknown.text
    customer = sb.tenants[0]
    elsewhere = sb.control(
        "PUT",
        f"/_sandbox/tenants/{customer['tenant_id']}/users/{customer['admin_user']}"
        "/app-roles/Portal.Analyst",
    )
    assert elsewhere.status_code == 404 and "not the partner's own tenant" in elsewhere.text
    assert _user(_partner(sb), "robin")["app_roles"] == []


def test_membership_and_app_roles_survive_a_restart(sandbox_factory: Any, tmp_path: Any) -> None:
    first = sandbox_factory(tenants=1, alerts_per_tenant=1, state_dir=tmp_path)
    partner = _partner(first)
    robin = _user(partner, "robin")
    first.control(
        "PUT", f"/_sandbox/tenants/{partner['tenant_id']}/groups/Portal admins/members/"
        f"{robin['object_id']}",
    ).raise_for_status()  # fmt: skip
    first.control(
        "PUT", f"/_sandbox/tenants/{partner['tenant_id']}/users/{robin['upn']}/app-roles/"
        "Portal.Admin",
    ).raise_for_status()  # fmt: skip
    first.stop()
    again = sandbox_factory(tenants=1, alerts_per_tenant=1, state_dir=tmp_path)
    assert _user(_partner(again), "robin")["groups"] == ["Portal admins"]
    assert _user(_partner(again), "robin")["app_roles"] == ["Portal.Admin"]
    assert _partner(again)["tenant_id"] == partner["tenant_id"]
