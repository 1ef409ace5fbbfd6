"""Looking up the tenant behind a domain through Microsoft's discovery document."""

from __future__ import annotations

from typing import Any

import pytest
import requests
import responses

from partner_portal.defender import identity_errors as e
from partner_portal.defender.errors import DefenderError
from partner_portal.defender.http import make_session
from partner_portal.defender.tenant_lookup import (
    CONSUMER_TENANT_ID,
    LOOKUP_TIMEOUT,
    discovery_url,
    resolve_tenant_id,
)

from .fakes import LOGIN, OTHER_TENANT, TENANT

DOMAIN = "contoso.onmicrosoft.com"
URL = f"{LOGIN}/{DOMAIN}/v2.0/.well-known/openid-configuration"
ENTRA = "https://login.microsoftonline.com"


def entra_document(tenant: str = TENANT, login: str = LOGIN) -> dict[str, Any]:
    """A v2 discovery document shaped as Entra ID serves it for a domain."""
    return {
        "token_endpoint": f"{login}/{tenant}/oauth2/v2.0/token",
        "token_endpoint_auth_methods_supported": [
            "client_secret_post",
            "private_key_jwt",
            "client_secret_basic",
        ],
        "jwks_uri": f"{login}/{tenant}/discovery/v2.0/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{login}/{tenant}/v2.0",
        "request_uri_parameter_supported": False,
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "authorization_endpoint": f"{login}/{tenant}/oauth2/v2.0/authorize",
        "device_authorization_endpoint": f"{login}/{tenant}/oauth2/v2.0/devicecode",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "end_session_endpoint": f"{login}/{tenant}/oauth2/v2.0/logout",
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "tid", "ver"],
        "kerberos_endpoint": f"{login}/{tenant}/kerberos",
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
        "rbac_url": "https://pas.windows.net",
    }


def aadsts_body(code: int, name: str = DOMAIN) -> dict[str, Any]:
    return {
        "error": "invalid_tenant",
        "error_description": (
            f"AADSTS{code}: Tenant '{name}' not found. Check to make sure you have the correct "
            "tenant ID and are signing into the correct cloud.\r\nTrace ID: x\r\nTimestamp: y"
        ),
        "error_codes": [code],
        "timestamp": "2026-01-01 00:00:00Z",
        "trace_id": "00000000-0000-0000-0000-000000000000",
        "correlation_id": "00000000-0000-0000-0000-000000000000",
        "error_uri": f"{LOGIN}/error?code={code}",
    }


def resolve(name: str = DOMAIN, login: str = LOGIN) -> str:
    return resolve_tenant_id(name, login_url=login, session=make_session())


# --- found --------------------------------------------------------------------------------
@responses.activate
def test_the_tenant_id_comes_from_the_issuer() -> None:
    responses.add(responses.GET, f"{ENTRA}/{DOMAIN}/v2.0/.well-known/openid-configuration",
                  json=entra_document(TENANT.upper(), ENTRA))  # fmt: skip
    assert resolve(login=ENTRA) == TENANT
    (call,) = responses.calls
    assert call.request.url == f"{ENTRA}/{DOMAIN}/v2.0/.well-known/openid-configuration"
    # Every call is bounded, and the look-up's own short bound is the one used.
    assert call.request.req_kwargs["timeout"] == LOOKUP_TIMEOUT


@responses.activate
def test_a_domain_in_any_case_is_asked_in_lower_case() -> None:
    responses.add(responses.GET, URL, json=entra_document())
    assert resolve("  Contoso.OnMicrosoft.COM ") == TENANT


@responses.activate
def test_the_token_endpoint_serves_when_the_issuer_names_no_tenant() -> None:
    document = entra_document()
    document["issuer"] = f"{LOGIN}/{{tenantid}}/v2.0"
    responses.add(responses.GET, URL, json=document)
    assert resolve() == TENANT


@responses.activate
def test_a_guid_is_confirmed_by_its_own_document() -> None:
    responses.add(
        responses.GET,
        f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration",
        json=entra_document(),
    )
    assert resolve(TENANT.upper()) == TENANT


# --- not found ------------------------------------------------------------------------------
@responses.activate
@pytest.mark.parametrize("code", [90002, 900023])
def test_an_unknown_domain_is_a_typed_error(code: int) -> None:
    responses.add(responses.GET, URL, status=400, json=aadsts_body(code))
    with pytest.raises(e.UnknownTenantName) as raised:
        resolve()
    assert raised.value.aadsts_code == code
    assert raised.value.http_status == 400
    assert raised.value.name == DOMAIN
    assert not raised.value.retryable
    assert "No Microsoft Entra tenant" in raised.value.explanation


@responses.activate
def test_personal_accounts_are_no_organisation() -> None:
    responses.add(responses.GET, URL, json=entra_document(CONSUMER_TENANT_ID))
    with pytest.raises(e.UnknownTenantName, match="personal"):
        resolve()


# --- unreadable answers ------------------------------------------------------------------------
@responses.activate
@pytest.mark.parametrize(
    "answer",
    [
        {"body": "<html>Sign in to the network</html>", "content_type": "text/html"},
        {"json": ["not", "an", "object"]},
        {"json": {}},
        {"json": {"issuer": f"{LOGIN}/{{tenantid}}/v2.0"}},
        {"json": {"issuer": 42, "token_endpoint": None}},
        {"json": {"issuer": f"http://evil.example/{TENANT}/v2.0"}},
        {"json": {**entra_document(), "token_endpoint": f"{LOGIN}/{OTHER_TENANT}/oauth2/token"}},
    ],
    ids=["html", "list", "empty", "placeholder", "wrong-types", "not-https", "two-tenants"],
)
def test_a_malformed_document_is_a_typed_error(answer: dict[str, Any]) -> None:
    responses.add(responses.GET, URL, **answer)
    with pytest.raises(e.UnreadableDiscovery) as raised:
        resolve()
    assert raised.value.retryable


@responses.activate
def test_a_guid_answered_with_another_tenants_document_is_refused() -> None:
    responses.add(
        responses.GET,
        f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration",
        json=entra_document(OTHER_TENANT),
    )
    with pytest.raises(e.UnreadableDiscovery, match=OTHER_TENANT):
        resolve(TENANT)


# --- Microsoft unreachable ----------------------------------------------------------------------
@responses.activate
@pytest.mark.parametrize(
    ("failure", "reason"),
    [
        (requests.exceptions.ReadTimeout("read timed out"), "timed out"),
        (requests.exceptions.ConnectTimeout("connect timed out"), "timed out"),
        (requests.exceptions.ConnectionError("connection refused"), "could not connect"),
        (requests.exceptions.SSLError("certificate verify failed"), "could not connect"),
        (requests.exceptions.ChunkedEncodingError("reset"), "ChunkedEncodingError"),
    ],
)
def test_timeouts_and_connection_errors_are_typed(failure: Exception, reason: str) -> None:
    responses.add(responses.GET, URL, body=failure)
    with pytest.raises(e.TenantLookupUnavailable) as raised:
        resolve()
    assert raised.value.reason == reason
    assert raised.value.retryable
    assert isinstance(raised.value, DefenderError)


@responses.activate
@pytest.mark.parametrize("status", [429, 500, 503])
def test_throttling_and_server_errors_are_unavailable(status: int) -> None:
    responses.add(responses.GET, URL, status=status, body="busy")
    with pytest.raises(e.TenantLookupUnavailable) as raised:
        resolve()
    assert raised.value.http_status == status


@responses.activate
def test_a_redirect_is_not_followed() -> None:
    responses.add(responses.GET, URL, status=302, headers={"Location": "https://evil.example/"})
    with pytest.raises(e.TenantLookupError) as raised:
        resolve()
    assert type(raised.value) is e.TenantLookupError
    assert raised.value.http_status == 302
    assert len(responses.calls) == 1


@responses.activate
def test_another_refusal_is_the_base_error() -> None:
    responses.add(responses.GET, URL, status=400, json={"error": "invalid_request"})
    with pytest.raises(e.TenantLookupError) as raised:
        resolve()
    assert type(raised.value) is e.TenantLookupError


# --- names that are not a tenant's ---------------------------------------------------------------
@responses.activate
@pytest.mark.parametrize(
    "name",
    [
        "",
        "contoso",
        "common",
        "organizations",
        "consumers",
        "contoso.com/../common",
        "contoso.com?x=1",
        "contoso.com#frag",
        "-contoso.com",
        "contoso.123",
        "cöntoso.com",
        "a" * 64 + ".com",
    ],
)
def test_a_name_that_is_neither_domain_nor_guid_is_never_sent(name: str) -> None:
    with pytest.raises(ValueError, match="not a tenant ID or a domain"):
        resolve(name)
    assert len(responses.calls) == 0


def test_discovery_url_shape() -> None:
    assert discovery_url(LOGIN + "/", "Contoso.com") == (
        f"{LOGIN}/contoso.com/v2.0/.well-known/openid-configuration"
    )
