"""Consent links and every outcome of parsing Microsoft's redirect."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from partner_portal.defender.consent import (
    MAX_DESCRIPTION,
    CodeReceived,
    ConsentDenied,
    ConsentGranted,
    ConsentInvalid,
    admin_consent_url,
    normalise_tenant_id,
    parse_consent_callback,
    partner_consent_url,
)

from .fakes import CLIENT_ID, TENANT

LOGIN = "https://login.microsoftonline.com"
REDIRECT = "https://portal.example.com/consent/callback"


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_v2_admin_consent_url_defaults_to_organizations() -> None:
    url = admin_consent_url(
        login_url=LOGIN + "/", client_id=CLIENT_ID, redirect_uri=REDIRECT, state="st-1"
    )
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == (
        f"{LOGIN}/organizations/v2.0/adminconsent"
    )
    assert _query(url) == {
        "client_id": CLIENT_ID,
        "redirect_uri": REDIRECT,
        "state": "st-1",
        "scope": "https://api.securitycenter.microsoft.com/.default",
    }


def test_v2_admin_consent_url_with_tenant_and_two_resources() -> None:
    url = admin_consent_url(
        login_url=LOGIN,
        client_id=CLIENT_ID,
        redirect_uri=REDIRECT,
        state="st-2",
        tenant=TENANT.upper(),
        resources=[
            "https://api.securitycenter.microsoft.com",
            "https://api.security.microsoft.com",
        ],
    )
    assert urlsplit(url).path == f"/{TENANT}/v2.0/adminconsent"
    assert _query(url)["scope"] == (
        "https://api.securitycenter.microsoft.com/.default "
        "https://api.security.microsoft.com/.default"
    )
    by_domain = admin_consent_url(
        login_url=LOGIN, client_id=CLIENT_ID, redirect_uri=REDIRECT, state="s", tenant="Contoso.com"
    )
    assert urlsplit(by_domain).path == "/contoso.com/v2.0/adminconsent"


@pytest.mark.parametrize("tenant", ["common", "../evil", "a b"])
def test_v2_refuses_common_and_junk_tenants(tenant: str) -> None:
    with pytest.raises(ValueError):
        admin_consent_url(
            login_url=LOGIN, client_id=CLIENT_ID, redirect_uri=REDIRECT, state="s", tenant=tenant
        )


def test_redirect_uri_must_be_https_except_loopback() -> None:
    with pytest.raises(ValueError):
        admin_consent_url(
            login_url=LOGIN, client_id=CLIENT_ID, redirect_uri="http://portal.test/cb", state="s"
        )
    assert partner_consent_url(
        login_url=LOGIN, client_id=CLIENT_ID, redirect_uri="http://localhost:8000/cb", state="s"
    )
    with pytest.raises(ValueError):
        partner_consent_url(login_url=LOGIN, client_id=CLIENT_ID, redirect_uri=REDIRECT, state="")


def test_v1_partner_link_as_documented() -> None:
    url = partner_consent_url(
        login_url=LOGIN, client_id=CLIENT_ID, redirect_uri=REDIRECT, state="st-3"
    )
    assert urlsplit(url).path == "/common/oauth2/authorize"
    assert _query(url) == {
        "prompt": "consent",
        "client_id": CLIENT_ID,
        "response_type": "code",
        "sso_reload": "true",
        "redirect_uri": REDIRECT,
        "state": "st-3",
    }


def test_granted() -> None:
    result = parse_consent_callback(
        {
            "admin_consent": "True",
            "tenant": TENANT.upper(),
            "scope": "https://api.securitycenter.microsoft.com/.default",
            "state": "st",
        }
    )
    assert result == ConsentGranted(
        tenant_id=TENANT, state="st", scope="https://api.securitycenter.microsoft.com/.default"
    )


def test_code_received_and_repr_hides_code() -> None:
    result = parse_consent_callback(
        {"code": "0.AAAA-secret-code", "session_state": "x", "state": "st", "admin_consent": "True"}
    )
    assert result == CodeReceived(code="0.AAAA-secret-code", state="st")
    assert "secret-code" not in repr(result)


def test_denied_with_aadsts_code() -> None:
    result = parse_consent_callback(
        {
            "error": "access_denied",
            "error_description": "AADSTS65004: User declined to consent to access the app.\r\n"
            "Trace ID: abc",
            "error_uri": "https://login.microsoftonline.com/error?code=65004",
            "admin_consent": "True",
            "state": "st",
        }
    )
    assert isinstance(result, ConsentDenied)
    assert result.error == "access_denied"
    assert result.aadsts_code == 65004
    assert result.state == "st"
    assert "\r" not in result.description and "declined" in result.description


def test_denied_without_code_and_long_description_capped() -> None:
    result = parse_consent_callback(
        {"error": "consent_required", "error_description": "x" * 10_000, "state": "st"}
    )
    assert isinstance(result, ConsentDenied)
    assert result.aadsts_code is None
    assert len(result.description) <= MAX_DESCRIPTION


def test_error_wins_over_tenant() -> None:
    result = parse_consent_callback(
        {"error": "access_denied", "tenant": TENANT, "admin_consent": "True", "state": "st"}
    )
    assert isinstance(result, ConsentDenied)


@pytest.mark.parametrize(
    ("query", "reason", "state"),
    [
        ({"tenant": TENANT, "admin_consent": "True"}, "missing state", None),
        ({"tenant": TENANT, "admin_consent": "True", "state": ""}, "missing state", None),
        ({"error": "access_denied"}, "missing state", None),
        ({"tenant": TENANT, "admin_consent": "True", "state": "s" * 5000}, "state too long", None),
        ({"state": "st"}, "missing tenant", "st"),
        ({"tenant": "contoso.com", "admin_consent": "True", "state": "st"}, "not a GUID", "st"),
        ({"tenant": TENANT, "state": "st"}, "admin_consent", "st"),
        ({"tenant": TENANT, "admin_consent": "False", "state": "st"}, "admin_consent", "st"),
        ({"tenant": TENANT, "code": "c", "admin_consent": "True", "state": "st"}, "both", "st"),
        ({"code": "c" * 9000, "state": "st"}, "too long", "st"),
    ],
)
def test_invalid(query: dict[str, str], reason: str, state: str | None) -> None:
    result = parse_consent_callback(query)
    assert isinstance(result, ConsentInvalid)
    assert reason in result.reason
    assert result.state == state


def test_normalise_tenant_id() -> None:
    assert normalise_tenant_id(TENANT.upper()) == TENANT
    assert normalise_tenant_id(" " + TENANT + " ") == TENANT
    assert normalise_tenant_id("not-a-guid") is None
    assert normalise_tenant_id(None) is None
    assert normalise_tenant_id(TENANT + "0") is None
