"""AADSTS codes become typed errors with plain-words explanations."""

from __future__ import annotations

import pytest

from partner_portal.defender import identity_errors as e
from partner_portal.defender.errors import MAX_TEXT

from .fakes import TENANT, aad_error


@pytest.mark.parametrize(
    ("code", "cls"),
    [
        (700016, e.ConsentMissing),
        (7000215, e.InvalidSecret),
        (7000222, e.SecretExpired),
        (90002, e.TenantNotFound),
        (500011, e.ResourceNotInTenant),
        (7000112, e.AppDisabled),
        (700027, e.InvalidAssertion),
        (90055, e.IdentityThrottled),
        (50034, e.TokenError),
    ],
)
def test_aadsts_mapping(code: int, cls: type[e.TokenError]) -> None:
    err = e.token_error_from_result(aad_error(code), tenant_id=TENANT, http_status=400)
    assert type(err) is cls
    assert err.aadsts_code == code
    assert err.tenant_id == TENANT
    assert f"AADSTS{code}" in err.description
    assert err.explanation and err.explanation != ""
    assert f"AADSTS{code}" in str(err)


def test_code_read_from_description_when_list_missing() -> None:
    err = e.token_error_from_result(
        {"error": "unauthorized_client", "error_description": "AADSTS700016: Application ..."}
    )
    assert isinstance(err, e.ConsentMissing)


def test_http_429_and_5xx() -> None:
    throttled = e.token_error_from_result({"error": "x"}, http_status=429, retry_after=7)
    assert isinstance(throttled, e.IdentityThrottled)
    assert throttled.retry_after == 7
    assert throttled.retryable
    transient = e.token_error_from_result({"error": "server_error"}, http_status=503)
    assert isinstance(transient, e.TransientIdentityError) and transient.retryable
    assert not e.ConsentMissing().retryable


def test_explanations_say_who_acts() -> None:
    assert "consent" in e.ConsentMissing().explanation
    assert "secret" in e.SecretExpired().explanation
    assert "tenant ID" in e.TenantNotFound().explanation


def test_description_is_bounded_and_printable() -> None:
    err = e.TokenError("a\x00b" + "x" * 5000)
    assert "\x00" not in err.description
    assert len(err.description) <= MAX_TEXT
