"""Errors of Microsoft Entra ID: refused tokens, tenant look-ups, token validation.

Three ways the identity side fails, each a family of :class:`~.errors.DefenderError`:

* :class:`TokenError`: Entra ID refused to issue a token, or could not be reached.
  Microsoft names the reason with an ``AADSTSnnnnn`` code; :data:`AADSTS_ERRORS` maps the
  codes a multi-tenant daemon meets to classes whose ``explanation`` says who must do
  what (the customer consents again, the partner renews a secret...), and
  :func:`token_error_from_result` turns MSAL's error answer into the right one;
* :class:`TenantLookupError`: finding the tenant behind a domain failed;
* :class:`InvalidToken`: a token Entra ID issued failed the portal's own checks
  (signature, issuer, tenant, audience, lifetime, nonce).

Messages never contain access tokens, client secrets or private keys.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from .errors import DefenderError, clip_text

__all__ = [
    "AADSTS_ERRORS",
    "AppDisabled",
    "BadSignature",
    "ConsentMissing",
    "IdentityThrottled",
    "InvalidAssertion",
    "InvalidSecret",
    "InvalidToken",
    "MalformedToken",
    "ResourceNotInTenant",
    "SecretExpired",
    "TenantLookupError",
    "TenantLookupUnavailable",
    "TenantNotFound",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "TransientIdentityError",
    "UnknownSigningKey",
    "UnknownTenantName",
    "UnreadableDiscovery",
    "WrongAudience",
    "WrongIssuer",
    "WrongNonce",
    "WrongTenant",
    "parse_aadsts_code",
    "token_error_from_result",
]


# ------------------------------------------------------------------- token requests


class TokenError(DefenderError):
    """Microsoft Entra ID refused to issue a token (or could not be reached).

    The generic class is used for AADSTS codes without a more specific meaning; the
    subclasses below name the cases a multi-tenant daemon meets in practice.
    """

    default_code: ClassVar[int | None] = None
    default_explanation: ClassVar[str] = (
        "Microsoft Entra ID refused to issue a token for this customer. The error code "
        "and Microsoft's description below say why."
    )

    def __init__(
        self,
        description: str = "",
        *,
        aadsts_code: int | None = None,
        error: str | None = None,
        tenant_id: str | None = None,
        http_status: int | None = None,
    ) -> None:
        self.aadsts_code = aadsts_code if aadsts_code is not None else self.default_code
        self.error = clip_text(error, 100) or None
        self.description = clip_text(description)
        self.tenant_id = tenant_id
        self.http_status = http_status
        self.explanation = self.default_explanation
        super().__init__(self._summary())

    def _summary(self) -> str:
        parts = [type(self).__name__]
        if self.aadsts_code is not None:
            parts.append(f"AADSTS{self.aadsts_code}")
        if self.tenant_id:
            parts.append(f"tenant {self.tenant_id}")
        head = " ".join(parts)
        return f"{head}: {self.description}" if self.description else head


class ConsentMissing(TokenError):
    default_code = 700016
    default_explanation = (
        "The partner application is not present in the customer's directory: admin "
        "consent was never granted, or it was removed. A global administrator of the "
        "customer must open the consent link again and accept."
    )


class InvalidSecret(TokenError):
    default_code = 7000215
    default_explanation = (
        "Microsoft rejected the partner application's client secret. The partner must "
        "check the secret configured in the portal against the app registration (the "
        "value, not the secret ID) and replace it if needed."
    )


class SecretExpired(TokenError):
    default_code = 7000222
    default_explanation = (
        "The partner application's client secret has expired. The partner must create a "
        "new secret (or certificate) on the app registration and configure it in the "
        "portal; customers do not need to do anything."
    )


class TenantNotFound(TokenError):
    default_code = 90002
    default_explanation = (
        "Microsoft does not know this tenant ID (in this cloud). Check the customer's "
        "tenant ID and the cloud selected for the customer; the tenant may also have "
        "been deleted."
    )


class ResourceNotInTenant(TokenError):
    default_code = 500011
    default_explanation = (
        "The customer's directory has no Microsoft Defender service principal, usually "
        "because the customer has no Defender licence or has never opened the Defender "
        "portal. The customer must activate Defender, then consent again."
    )


class AppDisabled(TokenError):
    default_code = 7000112
    default_explanation = (
        "The partner application is disabled in the customer's directory. A customer "
        "administrator must enable it again (Enterprise applications, properties)."
    )


class InvalidAssertion(TokenError):
    default_code = 700027
    default_explanation = (
        "Microsoft could not verify the certificate assertion: the certificate the "
        "portal signs with is not (or no longer) uploaded to the app registration, or "
        "its thumbprint is wrong. The partner must upload the certificate or fix the "
        "configured thumbprint."
    )


class IdentityThrottled(TokenError):
    retryable = True
    default_code = 90055
    default_explanation = (
        "Microsoft Entra ID is throttling token requests for this tenant. The portal "
        "will try again later; nothing needs to be changed."
    )

    def __init__(self, description: str = "", *, retry_after: float | None = None, **kw: Any):
        self.retry_after = retry_after
        super().__init__(description, **kw)


class TransientIdentityError(TokenError):
    retryable = True
    default_explanation = (
        "Microsoft Entra ID could not be reached or answered with a server error. The "
        "portal will try again later; nothing needs to be changed."
    )


# Specific classes by AADSTS code. 90055 also arrives as a bare HTTP 429.
AADSTS_ERRORS: Mapping[int, type[TokenError]] = {
    700016: ConsentMissing,
    7000215: InvalidSecret,
    7000222: SecretExpired,
    90002: TenantNotFound,
    500011: ResourceNotInTenant,
    7000112: AppDisabled,
    700027: InvalidAssertion,
    90055: IdentityThrottled,
}

_AADSTS_RE = re.compile(r"AADSTS(\d{4,9})")


def parse_aadsts_code(text: str | None) -> int | None:
    """Return the first ``AADSTSnnnnn`` number found in Microsoft's text, if any."""
    if not text:
        return None
    match = _AADSTS_RE.search(text)
    return int(match.group(1)) if match else None


def token_error_from_result(
    result: Mapping[str, Any],
    *,
    tenant_id: str | None = None,
    http_status: int | None = None,
    retry_after: float | None = None,
) -> TokenError:
    """Turn an OAuth error answer (as MSAL returns it) into the matching typed error.

    ``result`` holds ``error``, ``error_description`` and ``error_codes`` as sent by the
    token endpoint. The first listed code wins; failing that, the code quoted in the
    description.
    """
    error = result.get("error")
    description = result.get("error_description")
    codes = result.get("error_codes")
    code: int | None = None
    if isinstance(codes, list) and codes:
        try:
            code = int(codes[0])
        except (TypeError, ValueError):
            code = None
    if code is None:
        code = parse_aadsts_code(description if isinstance(description, str) else None)
    common: dict[str, Any] = {
        "aadsts_code": code,
        "error": error if isinstance(error, str) else None,
        "tenant_id": tenant_id,
        "http_status": http_status,
    }
    text = description if isinstance(description, str) else ""
    if http_status == 429 or code == 90055:
        return IdentityThrottled(text, retry_after=retry_after, **common)
    cls = AADSTS_ERRORS.get(code) if code is not None else None
    if cls is not None:
        return cls(text, **common)
    if (http_status is not None and http_status >= 500) or error == "temporarily_unavailable":
        return TransientIdentityError(text, **common)
    return TokenError(text, **common)


# ------------------------------------------------------------------------ tenant look-up


class TenantLookupError(DefenderError):
    """Finding the tenant behind a domain (or tenant ID) failed.

    ``name`` is what was looked up, ``reason`` a short technical detail (kept out of
    what customers see), ``http_status`` and ``aadsts_code`` what Microsoft answered.
    """

    explanation = "Microsoft did not say which tenant this domain belongs to."

    def __init__(
        self,
        name: str,
        reason: str = "",
        *,
        http_status: int | None = None,
        aadsts_code: int | None = None,
    ) -> None:
        self.name = clip_text(name, 300)
        self.reason = clip_text(reason, 300)
        self.http_status = http_status
        self.aadsts_code = aadsts_code
        head = f"{type(self).__name__} for {self.name!r}"
        super().__init__(f"{head}: {self.reason}" if self.reason else head)


class UnknownTenantName(TenantLookupError):
    """Microsoft knows no tenant by this name in this cloud (AADSTS90002)."""

    explanation = (
        "No Microsoft Entra tenant uses this name in this cloud: the domain is misspelt, "
        "not verified by any organisation, or belongs to personal Microsoft accounts."
    )


class TenantLookupUnavailable(TenantLookupError):
    """Microsoft could not be asked: timeout, refused connection, throttling, 5xx."""

    retryable = True
    explanation = (
        "Microsoft could not be reached (or did not answer in time) to look up the tenant."
    )


class UnreadableDiscovery(TenantLookupError):
    """Microsoft answered, but not with a discovery document naming one tenant."""

    retryable = True
    explanation = "Microsoft's answer did not say which tenant this is."


# ------------------------------------------------------------------ token validation


class InvalidToken(DefenderError):
    """An access token failed validation; ``reason`` says which check."""

    reason_code: ClassVar[str] = "invalid"
    explanation = "The access token Microsoft issued did not pass the portal's checks."

    def __init__(self, reason: str) -> None:
        self.reason = clip_text(reason, 300)
        super().__init__(f"{type(self).__name__}: {self.reason}")


class MalformedToken(InvalidToken):
    reason_code = "malformed"


class BadSignature(InvalidToken):
    reason_code = "bad_signature"
    explanation = "The token's signature does not match the tenant's published keys."


class UnknownSigningKey(InvalidToken):
    reason_code = "unknown_kid"
    explanation = "The token was signed with a key the tenant does not publish."


class TokenExpired(InvalidToken):
    reason_code = "expired"
    explanation = "The token has expired."


class TokenNotYetValid(InvalidToken):
    reason_code = "not_yet_valid"
    explanation = "The token is not valid yet (check the server clock)."


class WrongIssuer(InvalidToken):
    reason_code = "wrong_issuer"
    explanation = "The token was not issued by the customer's tenant."


class WrongTenant(InvalidToken):
    reason_code = "wrong_tenant"
    explanation = "The token belongs to another tenant than the customer's."


class WrongAudience(InvalidToken):
    reason_code = "wrong_audience"
    explanation = "The token is meant for another API than the one the portal calls."


class WrongNonce(InvalidToken):
    reason_code = "wrong_nonce"
    explanation = "The ID token was issued for another sign-in than the one this browser started."
