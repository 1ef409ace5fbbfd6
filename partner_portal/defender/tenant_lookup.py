"""Which Microsoft Entra tenant a domain belongs to, as Microsoft itself publishes it.

Entra ID serves every tenant's OpenID discovery document under the tenant's GUID and
under each of its verified domains:
``{login}/{domain}/v2.0/.well-known/openid-configuration``. The document's ``issuer``
(``{login}/{tid}/v2.0``) and its endpoints (``{login}/{tid}/oauth2/v2.0/token``) carry
the tenant's GUID; a name no tenant uses answers HTTP 400 with AADSTS90002. Nothing
needs signing in or an app: the document is public.

The look-up is made once, when staff save a customer; the GUID it gives is what the
consent callback then enforces.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote, urlsplit

import requests

from .consent import normalise_tenant_id
from .http import Timeout
from .identity_errors import (
    TenantLookupError,
    TenantLookupUnavailable,
    UnknownTenantName,
    UnreadableDiscovery,
    parse_aadsts_code,
)

__all__ = [
    "CONSUMER_TENANT_ID",
    "LOOKUP_TIMEOUT",
    "InvalidTenantName",
    "TenantLookupError",
    "TenantLookupUnavailable",
    "UnknownTenantName",
    "UnreadableDiscovery",
    "discovery_url",
    "resolve_tenant_id",
]

#: (connect, read) seconds. A person waits on the form while this runs; an answer
#: slower than this is treated as Microsoft being unreachable.
LOOKUP_TIMEOUT: tuple[float, float] = (5.0, 10.0)

#: The tenant behind personal Microsoft accounts (outlook.com, hotmail.com, ...). It is
#: no organisation's tenant and can never consent for one.
CONSUMER_TENANT_ID = "9188040d-6c67-4c5b-b112-36a304b66dad"

# AADSTS90002: tenant not found; AADSTS900023: the name is not a valid tenant identifier.
_NOT_A_TENANT_CODES = frozenset({90002, 900023})
_MULTI_TENANT_NAMES = frozenset({"common", "organizations", "consumers"})


class InvalidTenantName(ValueError):
    """A name that is neither a tenant ID nor a domain (or names no single tenant)."""


def _check_name(name: str) -> str:
    """The name in canonical form; a DNS name only, so it cannot reshape the URL."""
    value = name.strip().lower()
    guid = normalise_tenant_id(value)
    if guid:
        return guid
    labels = value.split(".")
    valid = (
        3 <= len(value) <= 253
        and len(labels) >= 2
        and all(
            0 < len(label) <= 63
            and label.replace("-", "").isalnum()
            and label.isascii()
            and not label.startswith("-")
            and not label.endswith("-")
            for label in labels
        )
        and labels[-1].isalpha()
    )
    if not valid or value in _MULTI_TENANT_NAMES:
        raise InvalidTenantName(f"not a tenant ID or a domain name: {name!r}")
    return value


def discovery_url(login_url: str, name: str) -> str:
    """The v2 discovery document of the tenant that ``name`` (a domain or GUID) names."""
    segment = quote(_check_name(name), safe="")
    return f"{login_url.rstrip('/')}/{segment}/v2.0/.well-known/openid-configuration"


def _tenant_in_url(value: Any) -> str | None:
    """The GUID in the first path segment of an issuer or endpoint URL, if any."""
    if not isinstance(value, str):
        return None
    try:
        parts = urlsplit(value)
    except ValueError:
        return None
    if parts.scheme != "https" or not parts.hostname:
        return None
    segments = [s for s in parts.path.split("/") if s]
    return normalise_tenant_id(segments[0]) if segments else None


def _error_fields(response: requests.Response) -> tuple[str, int | None]:
    try:
        body = response.json()
    except ValueError:
        return "", None
    if not isinstance(body, Mapping):
        return "", None
    error = body.get("error")
    description = body.get("error_description")
    code: int | None = None
    codes = body.get("error_codes")
    if isinstance(codes, list) and codes and isinstance(codes[0], int):
        code = codes[0]
    if code is None and isinstance(description, str):
        code = parse_aadsts_code(description)
    return (error if isinstance(error, str) else ""), code


def resolve_tenant_id(
    name: str,
    *,
    login_url: str,
    session: requests.Session,
    timeout: Timeout = LOOKUP_TIMEOUT,
) -> str:
    """Return the tenant GUID (lower case) that ``name``, a domain or tenant ID, names.

    ``login_url`` is the cloud's sign-in host (or the sandbox); ``session`` carries the CA
    to trust (see :func:`partner_portal.defender.http.make_session`).

    Raises :class:`InvalidTenantName` (a ``ValueError``) for a name that is neither a
    domain nor a GUID (nothing is sent), :class:`UnknownTenantName` when no tenant uses it,
    :class:`TenantLookupUnavailable` when Microsoft cannot be asked (timeout, connection,
    throttling, server error), :class:`UnreadableDiscovery` for an answer that names no
    single tenant, and :class:`TenantLookupError` for any other refusal.
    """
    checked = _check_name(name)
    url = discovery_url(login_url, checked)
    try:
        # No redirects: the answer must come from the sign-in host that was asked.
        response = session.get(url, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise TenantLookupUnavailable(checked, "timed out") from None
    except requests.ConnectionError:
        raise TenantLookupUnavailable(checked, "could not connect") from None
    except requests.RequestException as exc:
        raise TenantLookupUnavailable(checked, type(exc).__name__) from None

    status = response.status_code
    if status != 200:
        error, code = _error_fields(response)
        detail = f"HTTP {status}" + (f", AADSTS{code}" if code else "")
        if status in (400, 404) and (code in _NOT_A_TENANT_CODES or error == "invalid_tenant"):
            raise UnknownTenantName(checked, detail, http_status=status, aadsts_code=code)
        if status == 429 or status >= 500:
            raise TenantLookupUnavailable(checked, detail, http_status=status, aadsts_code=code)
        raise TenantLookupError(checked, detail, http_status=status, aadsts_code=code)

    try:
        document = response.json()
    except ValueError:
        document = None
    if not isinstance(document, Mapping):
        raise UnreadableDiscovery(checked, "the answer is not a JSON object", http_status=status)

    from_issuer = _tenant_in_url(document.get("issuer"))
    from_token_endpoint = _tenant_in_url(document.get("token_endpoint"))
    if from_issuer and from_token_endpoint and from_issuer != from_token_endpoint:
        raise UnreadableDiscovery(
            checked, "the issuer and the token endpoint name different tenants"
        )
    tenant_id = from_issuer or from_token_endpoint
    if tenant_id is None:
        raise UnreadableDiscovery(
            checked, "neither the issuer nor the token endpoint names a tenant"
        )
    if tenant_id == CONSUMER_TENANT_ID:
        raise UnknownTenantName(checked, "personal Microsoft accounts, not an organisation")
    if normalise_tenant_id(checked) and checked != tenant_id:
        raise UnreadableDiscovery(checked, f"the document is that of tenant {tenant_id}")
    return tenant_id
