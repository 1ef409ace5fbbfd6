"""Token validation against keys generated here and a Microsoft-shaped discovery fake."""

from __future__ import annotations

import time

import jwt
import pytest
import responses

from partner_portal.defender import identity_errors as e
from partner_portal.defender.clouds import GRAPH_APP_ID, GRAPH_RESOURCE, MDE_APP_ID, endpoints_for
from partner_portal.defender.http import make_session
from partner_portal.defender.validation import TokenValidator

from .fakes import LOGIN, MDE, OTHER_TENANT, TENANT, add_identity, jwk, make_token, new_key

KEY = new_key()
OTHER_KEY = new_key()
NOW = 1_700_000_000.0
KEYS_URL = f"{LOGIN}/common/discovery/keys"


def validator(clock: float = NOW + 10) -> TokenValidator:
    endpoints = endpoints_for(login_url=LOGIN)
    return TokenValidator(endpoints, make_session(), clock=lambda: clock)


def key_fetches() -> int:
    return sum(1 for c in responses.calls if c.request.url == KEYS_URL)


@responses.activate
def test_valid_token_and_missing_roles() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    token = make_token(KEY, roles=["Alert.Read.All"], iat=NOW)
    result = validator().validate(
        token,
        tenant_id=TENANT.upper(),
        resource=MDE,
        required_roles=["Alert.Read.All", "Alert.ReadWrite.All"],
    )
    assert result.roles == frozenset({"Alert.Read.All"})
    assert result.missing_roles == ("Alert.ReadWrite.All",)
    assert not result.complete
    assert result.claims["tid"] == TENANT
    ok = validator().validate(
        token, tenant_id=TENANT, resource=MDE, required_roles=["Alert.Read.All"]
    )
    assert ok.complete


@responses.activate
def test_discovery_and_keys_are_cached() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    v = validator()
    token = make_token(KEY, iat=NOW)
    for _ in range(3):
        v.validate(token, tenant_id=TENANT, resource=MDE)
    assert key_fetches() == 1
    assert len(responses.calls) == 2  # one discovery document, one key set


@responses.activate
def test_wrong_tenant() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    token = make_token(KEY, iat=NOW, tid=OTHER_TENANT)
    with pytest.raises(e.WrongTenant):
        validator().validate(token, tenant_id=TENANT, resource=MDE)


@responses.activate
def test_wrong_issuer() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    token = make_token(KEY, iat=NOW, iss=f"https://sts.windows.net/{OTHER_TENANT}/")
    with pytest.raises(e.WrongIssuer):
        validator().validate(token, tenant_id=TENANT, resource=MDE)


@responses.activate
def test_wrong_audience() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    token = make_token(KEY, iat=NOW, aud="https://graph.microsoft.com")
    with pytest.raises(e.WrongAudience):
        validator().validate(token, tenant_id=TENANT, resource=MDE)


@responses.activate
def test_bad_signature() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    forged = make_token(OTHER_KEY, "key-1", iat=NOW)  # right kid, wrong key
    with pytest.raises(e.BadSignature):
        validator().validate(forged, tenant_id=TENANT, resource=MDE)
    head, _body, sig = make_token(KEY, iat=NOW).split(".")
    tampered = make_token(KEY, iat=NOW, roles=["Alert.ReadWrite.All"]).split(".")[1]
    with pytest.raises(e.BadSignature):
        validator().validate(f"{head}.{tampered}.{sig}", tenant_id=TENANT, resource=MDE)


@responses.activate
def test_expired_and_leeway() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    token = make_token(KEY, iat=NOW, lifetime=3599)
    exp = NOW + 3599
    validator(clock=exp + 59).validate(token, tenant_id=TENANT, resource=MDE)
    with pytest.raises(e.TokenExpired):
        validator(clock=exp + 61).validate(token, tenant_id=TENANT, resource=MDE)


@responses.activate
def test_not_yet_valid() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    token = make_token(KEY, iat=NOW + 600)
    with pytest.raises(e.TokenNotYetValid):
        validator(clock=NOW).validate(token, tenant_id=TENANT, resource=MDE)
    validator(clock=NOW + 550).validate(token, tenant_id=TENANT, resource=MDE)


@responses.activate
def test_unknown_kid_refreshes_keys_once_then_fails() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    token = make_token(OTHER_KEY, "key-unknown", iat=NOW)
    with pytest.raises(e.UnknownSigningKey):
        validator().validate(token, tenant_id=TENANT, resource=MDE)
    assert key_fetches() == 2


@responses.activate
def test_rotated_key_found_after_one_refresh() -> None:
    add_identity(responses.mock)
    responses.add(responses.GET, KEYS_URL, json={"keys": [jwk(KEY, "key-1")]})
    responses.add(
        responses.GET, KEYS_URL, json={"keys": [jwk(KEY, "key-1"), jwk(OTHER_KEY, "key-2")]}
    )
    v = validator()
    v.validate(make_token(KEY, iat=NOW), tenant_id=TENANT, resource=MDE)
    v.validate(make_token(OTHER_KEY, "key-2", iat=NOW), tenant_id=TENANT, resource=MDE)
    assert key_fetches() == 2


@responses.activate
def test_v2_token_accepted_with_v2_issuer_and_app_id_audience() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    token = make_token(KEY, iat=NOW, version="2.0", aud=MDE_APP_ID)
    result = validator().validate(token, tenant_id=TENANT, resource=MDE)
    assert result.claims["iss"] == f"{LOGIN}/{TENANT}/v2.0"


@responses.activate
def test_a_graph_token_is_accepted_by_graphs_url_or_its_app_id() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    for aud, version in ((GRAPH_RESOURCE, "1.0"), (GRAPH_APP_ID, "2.0")):
        token = make_token(KEY, iat=NOW, version=version, aud=aud)
        result = validator().validate(token, tenant_id=TENANT, resource=GRAPH_RESOURCE)
        assert result.claims["aud"] == aud
    with pytest.raises(e.WrongAudience):
        mde = make_token(KEY, iat=NOW, version="2.0", aud=MDE_APP_ID)
        validator().validate(mde, tenant_id=TENANT, resource=GRAPH_RESOURCE)


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        jwt.encode({"tid": TENANT}, "k" * 32, algorithm="HS256", headers={"kid": "key-1"}),
        jwt.encode({"tid": TENANT}, None, algorithm="none"),
    ],
)
@responses.activate
def test_malformed_or_wrong_algorithm(token: str) -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    with pytest.raises(e.MalformedToken):
        validator().validate(token, tenant_id=TENANT, resource=MDE)


@responses.activate
def test_missing_kid_and_exp() -> None:
    add_identity(responses.mock, keys=[jwk(KEY, "key-1")])
    from .fakes import private_pem

    no_kid = jwt.encode({"tid": TENANT}, private_pem(KEY), algorithm="RS256")
    with pytest.raises(e.MalformedToken, match="kid"):
        validator().validate(no_kid, tenant_id=TENANT, resource=MDE)
    no_exp = jwt.encode(
        {"tid": TENANT, "aud": MDE}, private_pem(KEY), algorithm="RS256", headers={"kid": "key-1"}
    )
    with pytest.raises(e.MalformedToken, match="exp"):
        validator().validate(no_exp, tenant_id=TENANT, resource=MDE)


@responses.activate
def test_unknown_tenant_and_unreachable_discovery() -> None:
    responses.add(
        responses.GET,
        f"{LOGIN}/{TENANT}/.well-known/openid-configuration",
        status=400,
        json={"error": "invalid_tenant", "error_description": "AADSTS90002: Tenant not found."},
    )
    with pytest.raises(e.TenantNotFound):
        validator().validate(make_token(KEY, iat=NOW), tenant_id=TENANT, resource=MDE)
    responses.replace(
        responses.GET, f"{LOGIN}/{TENANT}/.well-known/openid-configuration", status=503
    )
    with pytest.raises(e.TransientIdentityError):
        validator().validate(make_token(KEY, iat=NOW), tenant_id=TENANT, resource=MDE)


def test_real_clock_default() -> None:
    v = TokenValidator(endpoints_for(login_url=LOGIN), make_session())
    assert abs(v.clock() - time.time()) < 5
