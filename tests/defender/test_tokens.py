"""Token provider: MSAL against a Microsoft-shaped fake, shared caches, typed errors."""

from __future__ import annotations

import threading
from pathlib import Path
from urllib.parse import parse_qs

import jwt
import pytest
import requests
import responses

from partner_portal.defender import identity_errors as e
from partner_portal.defender.clouds import endpoints_for
from partner_portal.defender.credentials import AppCredentials, certificate_thumbprint
from partner_portal.defender.token_cache import (
    FileTokenCache,
    InMemoryTokenCache,
    TokenCacheBackend,
)
from partner_portal.defender.tokens import TokenProvider

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
    b64url_sha1_of_hex,
    new_key,
    private_pem,
    self_signed_cert,
    token_body,
)

ENDPOINTS = endpoints_for(login_url=LOGIN, mde_api_url="https://api.sandbox.test")
TOKEN_URL = f"{LOGIN}/{TENANT}/oauth2/v2.0/token"


def provider(cache: TokenCacheBackend | None = None, **kwargs: object) -> TokenProvider:
    creds = AppCredentials(client_id=CLIENT_ID, client_secret=SECRET)
    return TokenProvider(creds, ENDPOINTS, cache or InMemoryTokenCache(), **kwargs)  # type: ignore[arg-type]


def token_posts(rsps: responses.RequestsMock) -> int:
    return sum(1 for c in rsps.calls if c.request.method == "POST")


@responses.activate
def test_first_token_from_identity_provider_then_cache() -> None:
    add_identity(responses.mock)
    responses.add(responses.POST, TOKEN_URL, json=token_body("tok-1"))
    tp = provider()
    first = tp.get(TENANT.upper(), MDE)
    assert first.token == "tok-1"
    assert first.source == "identity_provider"
    assert first.tenant_id == TENANT and first.resource == MDE
    assert first.expires_at.tzinfo is not None
    second = tp.get(TENANT, MDE + "/")
    assert second.source == "cache" and second.token == "tok-1"
    assert token_posts(responses.mock) == 1
    form = parse_qs(responses.calls[-1].request.body)  # type: ignore[arg-type]
    assert form["grant_type"] == ["client_credentials"]
    assert form["scope"] == [f"{MDE}/.default"]
    assert form["client_id"] == [CLIENT_ID]
    # Every request, MSAL's included, went out with a timeout.
    assert all(c.request.req_kwargs["timeout"] for c in responses.calls)  # type: ignore[attr-defined]


@responses.activate
def test_two_providers_share_one_file_cache(tmp_path: Path) -> None:
    add_identity(responses.mock)
    responses.add(responses.POST, TOKEN_URL, json=token_body("shared"))
    cache = FileTokenCache(tmp_path / "tokens")
    a = provider(cache).get(TENANT, MDE)
    b = provider(cache).get(TENANT, MDE)
    assert (a.source, b.source) == ("identity_provider", "cache")
    assert b.token == "shared"
    assert token_posts(responses.mock) == 1
    # Token files are private to the user.
    assert all(p.stat().st_mode & 0o077 == 0 for p in (tmp_path / "tokens").iterdir())


@responses.activate
def test_concurrent_callers_cause_one_token_request(tmp_path: Path) -> None:
    add_identity(responses.mock)
    responses.add(responses.POST, TOKEN_URL, json=token_body("once"))
    cache = FileTokenCache(tmp_path)
    providers = [provider(cache) for _ in range(8)]
    start = threading.Barrier(len(providers))
    results: list[str] = []

    def work(tp: TokenProvider) -> None:
        start.wait()
        results.append(tp.get(TENANT, MDE).token)

    threads = [threading.Thread(target=work, args=(tp,)) for tp in providers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["once"] * 8
    assert token_posts(responses.mock) == 1


@responses.activate
def test_force_refresh_asks_again() -> None:
    add_identity(responses.mock)
    responses.add(responses.POST, TOKEN_URL, json=token_body("old"))
    responses.add(responses.POST, TOKEN_URL, json=token_body("new"))
    tp = provider()
    assert tp.get(TENANT, MDE).token == "old"
    fresh = tp.get(TENANT, MDE, force_refresh=True)
    assert (fresh.token, fresh.source) == ("new", "identity_provider")
    assert tp.get(TENANT, MDE).token == "new"
    assert token_posts(responses.mock) == 2


@responses.activate
def test_lru_keeps_at_most_max_apps() -> None:
    tenants = [TENANT, OTHER_TENANT, "99999999-8888-4777-8666-555555555555"]
    for tid in tenants:
        add_identity(responses.mock, tenant=tid)
        responses.add(
            responses.POST, f"{LOGIN}/{tid}/oauth2/v2.0/token", json=token_body(f"t-{tid}")
        )
    tp = provider(max_apps=2)
    for tid in tenants:
        assert tp.get(tid, MDE).token == f"t-{tid}"
    assert tp.app_count == 2
    discovery = f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration"
    assert sum(1 for c in responses.calls if c.request.url == discovery) == 1
    # The evicted tenant's app is rebuilt (discovery again); its token still comes from
    # the shared cache.
    again = tp.get(TENANT, MDE, force_refresh=False)
    assert again.source == "cache"
    tp.forget(TENANT)
    assert tp.get(TENANT, MDE).source == "cache"
    assert sum(1 for c in responses.calls if c.request.url == discovery) == 2


def test_max_apps_must_be_positive() -> None:
    with pytest.raises(ValueError):
        provider(max_apps=0)


@pytest.mark.parametrize(
    ("status", "code", "error", "cls"),
    [
        (400, 700016, "unauthorized_client", e.ConsentMissing),
        (401, 7000215, "invalid_client", e.InvalidSecret),
        (401, 7000222, "invalid_client", e.SecretExpired),
        (400, 500011, "invalid_resource", e.ResourceNotInTenant),
        (400, 7000112, "unauthorized_client", e.AppDisabled),
        (401, 700027, "invalid_client", e.InvalidAssertion),
        (400, 90002, "invalid_request", e.TenantNotFound),
        (429, 90055, "temporarily_unavailable", e.IdentityThrottled),
        (400, 50001, "invalid_resource", e.TokenError),
    ],
)
@responses.activate
def test_aadsts_errors_through_msal(
    status: int, code: int, error: str, cls: type[e.TokenError]
) -> None:
    add_identity(responses.mock)
    responses.add(responses.POST, TOKEN_URL, status=status, json=aad_error(code, error))
    with pytest.raises(cls) as info:
        provider().get(TENANT, MDE)
    assert type(info.value) is cls
    assert info.value.aadsts_code == code
    assert info.value.tenant_id == TENANT
    assert SECRET not in str(info.value)


@responses.activate
def test_throttled_carries_retry_after() -> None:
    add_identity(responses.mock)
    responses.add(
        responses.POST,
        TOKEN_URL,
        status=429,
        json={"error": "temporarily_unavailable", "error_description": "Too many requests"},
        headers={"Retry-After": "12"},
    )
    with pytest.raises(e.IdentityThrottled) as info:
        provider().get(TENANT, MDE)
    assert info.value.retry_after == 12


@responses.activate
def test_unknown_tenant_discovery_is_tenant_not_found() -> None:
    add_unknown_tenant(responses.mock, text=f"Tenant '{TENANT}' not found.")
    with pytest.raises(e.TenantNotFound) as info:
        provider().get(TENANT, MDE)
    assert info.value.aadsts_code == 90002


@responses.activate
def test_server_error_and_network_failure_are_transient() -> None:
    add_identity(responses.mock)
    responses.add(responses.POST, TOKEN_URL, status=503, body="<html>busy</html>")
    tp = provider()
    with pytest.raises(e.TransientIdentityError) as info:
        tp.get(TENANT, MDE)
    assert info.value.retryable
    responses.replace(responses.POST, TOKEN_URL, body=requests.ConnectionError("reset"))
    with pytest.raises(e.TransientIdentityError):
        tp.get(TENANT, MDE, force_refresh=True)


@responses.activate
def test_discovery_network_failure_is_transient() -> None:
    responses.add(
        responses.GET,
        f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration",
        body=requests.ConnectTimeout("slow"),
    )
    with pytest.raises(e.TransientIdentityError):
        provider().get(TENANT, MDE)


@responses.activate
def test_error_then_consent_then_success_is_not_replayed() -> None:
    # MSAL remembers an HTTP 400 for a minute; once the customer has consented, the
    # next attempt must reach Microsoft.
    add_identity(responses.mock)
    responses.add(responses.POST, TOKEN_URL, status=400, json=aad_error(700016))
    responses.add(responses.POST, TOKEN_URL, json=token_body("after-consent"))
    tp = provider()
    with pytest.raises(e.ConsentMissing):
        tp.get(TENANT, MDE)
    assert tp.get(TENANT, MDE).token == "after-consent"


def test_tenant_must_be_guid() -> None:
    with pytest.raises(ValueError):
        provider().get("../common", MDE)


@responses.activate
def test_microsoft_host_uses_msal_defaults() -> None:
    login = "https://login.microsoftonline.com"
    add_identity(responses.mock, login=login)
    responses.add(
        responses.POST, f"{login}/{TENANT}/oauth2/v2.0/token", json=token_body("real-host")
    )
    creds = AppCredentials(client_id=CLIENT_ID, client_secret=SECRET)
    tp = TokenProvider(creds, endpoints_for(), InMemoryTokenCache())
    assert tp.get(TENANT, MDE).token == "real-host"


@responses.activate
def test_certificate_credential(tmp_path: Path) -> None:
    key = new_key()
    cert_pem = self_signed_cert(key)
    (tmp_path / "key.pem").write_text(private_pem(key))
    (tmp_path / "cert.pem").write_text(cert_pem)
    creds = AppCredentials.from_certificate_files(
        CLIENT_ID, tmp_path / "key.pem", tmp_path / "cert.pem"
    )
    assert creds.kind == "certificate"
    assert creds.thumbprint == certificate_thumbprint(cert_pem)
    add_identity(responses.mock)
    responses.add(responses.POST, TOKEN_URL, json=token_body("by-cert"))
    tp = TokenProvider(creds, ENDPOINTS, InMemoryTokenCache())
    assert tp.get(TENANT, MDE).token == "by-cert"
    form = parse_qs(responses.calls[-1].request.body)  # type: ignore[arg-type]
    assert "client_secret" not in form
    assert form["client_assertion_type"] == [
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    ]
    assertion = form["client_assertion"][0]
    header = jwt.get_unverified_header(assertion)
    assert header["alg"] == "RS256"
    assert header["x5t"].rstrip("=") == b64url_sha1_of_hex(creds.thumbprint or "")
    claims = jwt.decode(assertion, key.public_key(), algorithms=["RS256"], audience=TOKEN_URL)
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert "PRIVATE KEY" not in repr(creds)


def test_credentials_validation_and_repr() -> None:
    with pytest.raises(ValueError):
        AppCredentials(client_id=CLIENT_ID)
    with pytest.raises(ValueError):
        AppCredentials(client_id=CLIENT_ID, client_secret="x", private_key_pem="y", thumbprint="z")
    with pytest.raises(ValueError):
        AppCredentials(client_id=CLIENT_ID, private_key_pem="y")
    creds = AppCredentials(client_id=CLIENT_ID, client_secret=SECRET)
    assert SECRET not in repr(creds)
    assert SECRET not in repr(TokenProvider(creds, ENDPOINTS, InMemoryTokenCache()))


@responses.activate
def test_access_token_repr_hides_token() -> None:
    add_identity(responses.mock)
    responses.add(responses.POST, TOKEN_URL, json=token_body("very-secret-token"))
    token = provider().get(TENANT, MDE)
    assert "very-secret-token" not in repr(token)
