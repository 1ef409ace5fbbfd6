"""The partner's own tenant: its staff sign in with unmodified MSAL and their ID tokens
carry their groups and how they signed in; Graph answers whether they are still in a
group, from the tenant's real membership, which the control API changes."""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

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


def _sign_in(sb: SandboxProcess, tenant_id: str, upn: str) -> dict[str, Any]:
    """MSAL's auth code flow for ``upn`` at the partner's tenant: the validated claims."""
    app = msal_app(sb, tenant_id)
    flow = app.initiate_auth_code_flow(scopes=[], redirect_uri=CALLBACK)
    with sb.session() as session:
        page = session.get(flow["auth_uri"], timeout=30)
        assert page.status_code == 200, page.text
        forms = re.findall(r'<form method="post" action="/common/login">(.*?)</form>', page.text)
        form = next(f for f in forms if f'data-upn="{html.escape(upn)}"' in f)
        ctx = re.search(r'name="ctx" value="([^"]+)"', form)
        assert ctx is not None
        answer = session.post(
            f"{sb.url}/common/login",
            data={"ctx": html.unescape(ctx.group(1)), "login": upn},
            allow_redirects=False,
            timeout=30,
        )
    assert answer.status_code == 302, answer.text
    query = {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}
    result = app.acquire_token_by_auth_code_flow(flow, query)
    assert "error" not in result, result
    claims: dict[str, Any] = result["id_token_claims"]
    raw = jwt.decode(result["id_token"], options={"verify_signature": False})
    assert raw["groups"] == claims["groups"]
    return claims


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


def test_a_staff_sign_in_carries_groups_and_second_factor(sb: SandboxProcess) -> None:
    partner = _partner(sb)
    dana, lee = _user(partner, "dana"), _user(partner, "lee")
    claims = _sign_in(sb, partner["tenant_id"], dana["upn"])
    assert claims["tid"] == partner["tenant_id"] and claims["oid"] == dana["object_id"]
    assert claims["groups"] == [_group(partner, "SOC analysts")]
    assert claims["amr"] == ["pwd", "mfa"]
    assert _sign_in(sb, partner["tenant_id"], lee["upn"])["amr"] == ["pwd"]
    robin = _user(partner, "robin")
    assert _sign_in(sb, partner["tenant_id"], robin["upn"])["groups"] == []


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


def test_membership_survives_a_restart(sandbox_factory: Any, tmp_path: Any) -> None:
    first = sandbox_factory(tenants=1, alerts_per_tenant=1, state_dir=tmp_path)
    partner = _partner(first)
    robin = _user(partner, "robin")
    first.control(
        "PUT", f"/_sandbox/tenants/{partner['tenant_id']}/groups/Portal admins/members/"
        f"{robin['object_id']}",
    ).raise_for_status()  # fmt: skip
    first.stop()
    again = sandbox_factory(tenants=1, alerts_per_tenant=1, state_dir=tmp_path)
    assert _user(_partner(again), "robin")["groups"] == ["Portal admins"]
    assert _partner(again)["tenant_id"] == partner["tenant_id"]
