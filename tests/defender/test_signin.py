"""The customer admin's sign-in as proof of a consent, against an HTTP-level fake of
Entra ID (discovery, keys, token endpoint) with tokens signed by keys made here."""

from __future__ import annotations

import hashlib
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import responses

from partner_portal.defender import identity_errors as e
from partner_portal.defender.clouds import endpoints_for
from partner_portal.defender.credentials import AppCredentials
from partner_portal.defender.errors import MalformedResponse
from partner_portal.defender.http import make_session
from partner_portal.defender.signin import AdminSignIn, SignInMismatch, auth_context_claims
from partner_portal.defender.validation import TokenValidator

from .fakes import (
    CLIENT_ID,
    LOGIN,
    MDE,
    OTHER_TENANT,
    SECRET,
    TENANT,
    aad_error,
    add_identity,
    add_unknown_tenant,
    jwk,
    make_token,
    new_key,
    private_pem,
)

KEY = new_key()
STRANGER_KEY = new_key()
GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USER_ROLE = "b79fbf4d-3ef9-4689-8143-76b194e85509"
REDIRECT = "https://portal.test/consent/callback/"
TOKEN_URL = f"{LOGIN}/{TENANT}/oauth2/v2.0/token"
V1_TOKEN_URL = f"{LOGIN}/common/oauth2/token"


def sign_in() -> AdminSignIn:
    endpoints = endpoints_for(login_url=LOGIN)
    session = make_session()
    return AdminSignIn(
        AppCredentials(client_id=CLIENT_ID, client_secret=SECRET),
        endpoints,
        TokenValidator(endpoints, session),
        session,
    )


def id_token(nonce: str, *, key: Any = KEY, tenant: str = TENANT, **claims: Any) -> str:
    values: dict[str, Any] = {
        "aud": CLIENT_ID,
        "nonce": nonce,
        "preferred_username": "admin@contoso.example",
        "wids": [USER_ROLE, GLOBAL_ADMIN],
        "roles": None,
    }
    values.update(claims)
    return make_token(key, tenant=tenant, version="2.0", **values)


def code_answer(token: str) -> dict[str, Any]:
    return {"token_type": "Bearer", "scope": "openid profile", "expires_in": 3599,
            "access_token": "at", "id_token": token}  # fmt: skip


def begun() -> tuple[AdminSignIn, dict[str, Any], str]:
    """A started sign-in: the client, its kept flow and the nonce the ID token must carry."""
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    client = sign_in()
    request = client.begin(tenant_id=TENANT, redirect_uri=REDIRECT, state="the-state")
    query = parse_qs(urlsplit(request.url).query)
    assert request.url.startswith(f"{LOGIN}/{TENANT}/oauth2/v2.0/authorize?")
    assert query["state"] == ["the-state"] and query["code_challenge_method"] == ["S256"]
    assert "openid" in query["scope"][0].split() and query["redirect_uri"] == [REDIRECT]
    assert query["nonce"][0] and "code_verifier" not in query
    assert query["response_mode"] == ["query"] and query["prompt"] == ["select_account"]
    flow = dict(request.flow)
    assert "auth_uri" not in flow and flow["code_verifier"]
    assert "code_verifier" not in repr(request) and flow["code_verifier"] not in repr(request)
    return client, flow, query["nonce"][0]


@responses.activate
def test_a_signed_in_global_admin_is_proven_for_the_tenant() -> None:
    client, flow, nonce = begun()
    responses.add(responses.POST, TOKEN_URL, json=code_answer(id_token(nonce)))
    user = client.finish(
        tenant_id=TENANT, flow=flow, response={"code": "c0de", "state": "the-state"}
    )
    assert (user.tenant_id, user.username) == (TENANT, "admin@contoso.example")
    assert user.can_grant_admin_consent and user.consent_admin_roles == ("Global Administrator",)
    posted = [c.request for c in responses.calls if c.request.url == TOKEN_URL]
    form = parse_qs(posted[0].body)  # type: ignore[arg-type]
    verifier = flow["code_verifier"]
    assert form["code_verifier"] == [verifier] and form["code"] == ["c0de"]
    assert form["grant_type"] == ["authorization_code"] and form["client_secret"] == [SECRET]
    assert nonce == hashlib.sha256(flow["nonce"].encode()).hexdigest()


@responses.activate
def test_a_user_without_an_admin_role_is_signed_in_but_cannot_consent() -> None:
    client, flow, nonce = begun()
    responses.add(responses.POST, TOKEN_URL, json=code_answer(id_token(nonce, wids=[USER_ROLE])))
    user = client.finish(tenant_id=TENANT, flow=flow, response={"code": "c", "state": "the-state"})
    assert user.directory_roles == frozenset({USER_ROLE}) and not user.can_grant_admin_consent


@responses.activate
def test_a_token_without_directory_roles_says_so() -> None:
    client, flow, nonce = begun()
    responses.add(responses.POST, TOKEN_URL, json=code_answer(id_token(nonce, wids=None)))
    user = client.finish(tenant_id=TENANT, flow=flow, response={"code": "c", "state": "the-state"})
    assert user.directory_roles is None and not user.can_grant_admin_consent


@responses.activate
def test_an_answer_of_another_sign_in_is_refused_before_redeeming() -> None:
    client, flow, _ = begun()
    with pytest.raises(SignInMismatch):
        client.finish(tenant_id=TENANT, flow=flow, response={"code": "c", "state": "other"})
    assert not [c for c in responses.calls if c.request.url == TOKEN_URL]


@pytest.mark.parametrize(
    ("make", "error"),
    [
        (lambda nonce: id_token("not-this-sign-ins"), e.MalformedToken),
        (lambda nonce: id_token(nonce, key=STRANGER_KEY), e.BadSignature),
        (lambda nonce: id_token(nonce, aud="another-app"), e.WrongAudience),
        (lambda nonce: id_token(nonce, tenant=OTHER_TENANT), e.WrongTenant),
        (lambda nonce: id_token(nonce, iss=f"{LOGIN}/{OTHER_TENANT}/v2.0"), e.WrongIssuer),
        (lambda nonce: id_token(nonce, exp=1_000_000_000), e.TokenExpired),
    ],
    ids=["nonce", "signature", "audience", "tenant", "issuer", "expired"],
)
@responses.activate
def test_an_id_token_failing_a_check_proves_nothing(make: Any, error: type[Exception]) -> None:
    client, flow, nonce = begun()
    add_identity(responses.mock, tenant=OTHER_TENANT, keys=[jwk(KEY, "key-1")])
    responses.add(responses.POST, TOKEN_URL, json=code_answer(make(nonce)))
    with pytest.raises(error):
        client.finish(tenant_id=TENANT, flow=flow, response={"code": "c", "state": "the-state"})


@responses.activate
def test_a_code_microsoft_refuses_is_a_token_error() -> None:
    client, flow, _ = begun()
    responses.add(responses.POST, TOKEN_URL, status=400, json=aad_error(501481, "invalid_grant"))
    with pytest.raises(e.TokenError) as info:
        client.finish(tenant_id=TENANT, flow=flow, response={"code": "c", "state": "the-state"})
    assert info.value.aadsts_code == 501481


@responses.activate
def test_an_unknown_tenant_cannot_start_a_sign_in() -> None:
    add_unknown_tenant(responses.mock, tenant=OTHER_TENANT)
    with pytest.raises(e.TenantNotFound):
        sign_in().begin(tenant_id=OTHER_TENANT, redirect_uri=REDIRECT, state="s")
    with pytest.raises(ValueError, match="GUID"):
        sign_in().begin(tenant_id="contoso.example", redirect_uri=REDIRECT, state="s")


# --- the v1 partner link's code -------------------------------------------------------------
def delegated_token(*, key: Any = KEY, tenant: str = TENANT, **claims: Any) -> str:
    values: dict[str, Any] = {"upn": "admin@contoso.example", "wids": [GLOBAL_ADMIN],
                              "scp": "user_impersonation", "roles": None}  # fmt: skip
    values.update(claims)
    return make_token(key, tenant=tenant, aud=MDE, **values)


def v1_answer(access_token: str, id_tenant: str = TENANT) -> dict[str, Any]:
    unsigned = jwt.encode({"tid": id_tenant, "aud": CLIENT_ID}, "", algorithm="none")
    return {"token_type": "Bearer", "expires_in": "3599", "resource": MDE,
            "access_token": access_token, "id_token": unsigned}  # fmt: skip


@responses.activate
def test_the_partner_links_code_proves_the_tenant_from_the_signed_access_token() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    responses.add(responses.POST, V1_TOKEN_URL, json=v1_answer(delegated_token()))
    user = sign_in().redeem_partner_code(code="the-code", redirect_uri=REDIRECT)
    assert (user.tenant_id, user.username, user.can_grant_admin_consent) == (
        TENANT,
        "admin@contoso.example",
        True,
    )
    form = parse_qs(responses.calls[0].request.body)  # type: ignore[arg-type]
    assert form["grant_type"] == ["authorization_code"] and form["code"] == ["the-code"]
    assert form["redirect_uri"] == [REDIRECT] and form["resource"] == [MDE]


@responses.activate
def test_the_partner_links_code_errors_are_typed() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    client = sign_in()
    responses.add(responses.POST, V1_TOKEN_URL, status=400, json=aad_error(70000, "invalid_grant"))
    with pytest.raises(e.TokenError) as info:
        client.redeem_partner_code(code="used", redirect_uri=REDIRECT)
    assert info.value.aadsts_code == 70000
    for body, error in (
        ({"token_type": "Bearer"}, MalformedResponse),
        (v1_answer("not-a-jwt"), e.MalformedToken),
        (v1_answer(delegated_token(key=STRANGER_KEY)), e.BadSignature),
        (v1_answer(delegated_token(), id_tenant=OTHER_TENANT), e.WrongTenant),
    ):
        responses.replace(responses.POST, V1_TOKEN_URL, json=body)
        with pytest.raises(error):
            client.redeem_partner_code(code="c", redirect_uri=REDIRECT)
    responses.replace(responses.POST, V1_TOKEN_URL, status=502, body="bad gateway")
    with pytest.raises(e.TransientIdentityError):
        client.redeem_partner_code(code="c", redirect_uri=REDIRECT)


def test_private_key_helper_is_pem() -> None:
    assert private_pem(KEY).startswith("-----BEGIN")


@responses.activate
def test_a_staff_sign_in_carries_groups_app_roles_and_the_contexts_it_met() -> None:
    client, flow, nonce = begun()
    group = "AAAAAAAA-1111-4222-8333-444444444444"
    token = id_token(nonce, groups=[group], roles=["Portal.Admin"], acrs=["c1"], name="Dana Reyes")
    responses.add(responses.POST, TOKEN_URL, json=code_answer(token))
    user = client.finish(tenant_id=TENANT, flow=flow, response={"code": "c", "state": "the-state"})
    assert user.groups == frozenset({group.lower()}) and user.app_roles == {"Portal.Admin"}
    assert user.auth_contexts == {"c1"} and user.satisfied("c1") and not user.satisfied("c2")
    assert user.display_name == "Dana Reyes"


@responses.activate
def test_a_token_that_lists_no_groups_says_so_and_amr_is_no_authentication_context() -> None:
    client, flow, nonce = begun()
    # amr (a v1.0 claim) proves nothing here: only acrs names what Entra enforced.
    token = id_token(nonce, amr=["pwd", "mfa"], roles=[])
    responses.add(responses.POST, TOKEN_URL, json=code_answer(token))
    user = client.finish(tenant_id=TENANT, flow=flow, response={"code": "c", "state": "the-state"})
    assert user.groups is None and user.app_roles == frozenset()
    assert user.auth_contexts == frozenset() and not user.satisfied("c1")


@responses.activate
def test_acrs_as_one_string_is_read_as_one_context() -> None:
    client, flow, nonce = begun()
    responses.add(responses.POST, TOKEN_URL, json=code_answer(id_token(nonce, acrs="C7")))
    user = client.finish(tenant_id=TENANT, flow=flow, response={"code": "c", "state": "the-state"})
    assert user.auth_contexts == {"c7"} and user.satisfied("c7")


@responses.activate
def test_an_authentication_context_is_asked_with_the_claims_parameter() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    client = sign_in()
    plain = client.begin(tenant_id=TENANT, redirect_uri=REDIRECT, state="s")
    assert "claims" not in parse_qs(urlsplit(plain.url).query)
    request = client.begin(tenant_id=TENANT, redirect_uri=REDIRECT, state="s", auth_context="c1")
    wanted = {"id_token": {"acrs": {"essential": True, "value": "c1"}}}
    (claims,) = parse_qs(urlsplit(request.url).query)["claims"]
    assert json.loads(claims) == wanted == json.loads(auth_context_claims("c1"))
    # MSAL repeats it when it redeems the code.
    nonce = parse_qs(urlsplit(request.url).query)["nonce"][0]
    responses.add(responses.POST, TOKEN_URL, json=code_answer(id_token(nonce, acrs=["c1"])))
    user = client.finish(tenant_id=TENANT, flow=request.flow, response={"code": "c", "state": "s"})
    assert user.satisfied("c1")
    (redemption,) = [c.request for c in responses.calls if c.request.url == TOKEN_URL]
    redeemed = parse_qs(str(redemption.body))
    assert json.loads(redeemed["claims"][0]) == wanted
