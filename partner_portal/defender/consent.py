"""Admin-consent links and the parsing of Microsoft's answer to them.

Two link forms are supported:

* the v2 admin-consent endpoint, which sends the browser back with the customer's
  tenant ID (the default);
* the v1 "partner" link from the Defender documentation, which sends back an
  authorization code; the tenant is then learned by redeeming the code
  (:meth:`partner_portal.defender.signin.AdminSignIn.redeem_partner_code`).

:func:`parse_consent_callback` turns the redirect's query string into exactly one of
four outcomes. It checks shapes only; the caller still has to check that ``state`` is
the one it issued, and Microsoft warns that ``tenant`` can be forged: a tenant is
learned only from a token Microsoft signed for the admin's own sign-in
(:mod:`partner_portal.defender.signin`); the query's ``tenant`` is checked against it.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from .clouds import MDE_RESOURCE, scope_for
from .identity_errors import parse_aadsts_code

__all__ = [
    "MAX_DESCRIPTION",
    "MAX_STATE",
    "CodeReceived",
    "ConsentDenied",
    "ConsentGranted",
    "ConsentInvalid",
    "ConsentResult",
    "admin_consent_url",
    "normalise_tenant_id",
    "parse_consent_callback",
    "partner_consent_url",
]

#: ``error_description`` is shown to people: it is untrusted text from the query string.
MAX_DESCRIPTION = 500
#: States the portal issues are far shorter; anything longer is not ours.
MAX_STATE = 2048
MAX_CODE = 8192
MAX_SCOPE = 2048

_GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)(?:[A-Za-z0-9-]{1,63}\.)+[A-Za-z]{2,63}$")


def normalise_tenant_id(value: str | None) -> str | None:
    """Return the tenant ID in lower case if ``value`` is a GUID, else ``None``."""
    if not value or not _GUID_RE.match(value.strip()):
        return None
    return str(uuid.UUID(value.strip()))


def _check_redirect_uri(redirect_uri: str) -> None:
    # Microsoft accepts https, or http for loopback only; catch mistakes before the
    # customer's admin sees Microsoft's error page (AADSTS50011 is not redirected).
    lower = redirect_uri.lower()
    loopback = lower.startswith(("http://localhost", "http://127.0.0.1", "http://[::1]"))
    if not (lower.startswith("https://") or loopback):
        raise ValueError("redirect_uri must use https (http only for localhost)")


def admin_consent_url(
    *,
    login_url: str,
    client_id: str,
    redirect_uri: str,
    state: str,
    tenant: str | None = None,
    resources: Iterable[str] = (MDE_RESOURCE,),
) -> str:
    """The v2 admin-consent link: ``{login}/{tenant|organizations}/v2.0/adminconsent``.

    ``tenant`` may be the customer's tenant ID or verified domain when known; without
    it the customer signs in to whichever organisation they administer. ``common``
    does not work with this endpoint and is refused. Each resource becomes one
    ``{resource}/.default`` scope.
    """
    if not state:
        raise ValueError("state is required")
    _check_redirect_uri(redirect_uri)
    if tenant is None:
        authority_tenant = "organizations"
    else:
        guid = normalise_tenant_id(tenant)
        if guid:
            authority_tenant = guid
        elif tenant.lower() == "organizations" or _DOMAIN_RE.match(tenant):
            authority_tenant = tenant.lower()
        else:
            raise ValueError("tenant must be a tenant ID, a domain or 'organizations'")
    scopes = [scope_for(r) for r in resources]
    if not scopes:
        raise ValueError("at least one resource is required")
    query = urlencode(
        {
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": " ".join(scopes),
        }
    )
    return f"{login_url.rstrip('/')}/{authority_tenant}/v2.0/adminconsent?{query}"


def partner_consent_url(
    *,
    login_url: str,
    client_id: str,
    redirect_uri: str,
    state: str,
) -> str:
    """The v1 link Microsoft's Defender partner documentation gives to customers.

    ``{login}/common/oauth2/authorize?prompt=consent&client_id=...&response_type=code
    &sso_reload=true`` plus ``redirect_uri`` and ``state``. The answer carries a
    ``code`` rather than the tenant ID.
    """
    if not state:
        raise ValueError("state is required")
    _check_redirect_uri(redirect_uri)
    query = urlencode(
        {
            "prompt": "consent",
            "client_id": client_id,
            "response_type": "code",
            "sso_reload": "true",
            "redirect_uri": redirect_uri,
            "state": state,
        }
    )
    return f"{login_url.rstrip('/')}/common/oauth2/authorize?{query}"


@dataclass(frozen=True)
class ConsentGranted:
    """The v2 endpoint reports admin consent for ``tenant_id`` (not yet verified)."""

    tenant_id: str
    state: str
    scope: str


@dataclass(frozen=True)
class CodeReceived:
    """The v1 partner link returned an authorization code to redeem."""

    code: str = ""
    state: str = ""

    def __repr__(self) -> str:
        # The code can be redeemed for tokens: keep it out of logs and tracebacks.
        return f"CodeReceived(code=<{len(self.code)} chars>, state={self.state!r})"


@dataclass(frozen=True)
class ConsentDenied:
    """Microsoft reports an error (the admin declined, or could not consent)."""

    error: str
    aadsts_code: int | None
    description: str
    state: str


@dataclass(frozen=True)
class ConsentInvalid:
    """The query is not a well-formed answer from Microsoft."""

    reason: str
    state: str | None


ConsentResult = ConsentGranted | CodeReceived | ConsentDenied | ConsentInvalid


def _printable(text: str, limit: int) -> str:
    cleaned = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def parse_consent_callback(query: Mapping[str, str]) -> ConsentResult:
    """Classify the query string Microsoft sent the browser back with.

    Order of the checks: a missing or oversized ``state`` makes the answer invalid
    (nothing can be tied to a request without it); an ``error`` wins over anything
    else; then a v1 ``code``; then a v2 ``tenant`` with ``admin_consent=True``.
    """
    state = (query.get("state") or "").strip()
    if not state:
        return ConsentInvalid(reason="missing state", state=None)
    if len(state) > MAX_STATE:
        return ConsentInvalid(reason="state too long", state=None)

    error = (query.get("error") or "").strip()
    if error:
        raw_description = query.get("error_description") or ""
        return ConsentDenied(
            error=_printable(error, 100),
            aadsts_code=parse_aadsts_code(raw_description[: MAX_DESCRIPTION * 4]),
            description=_printable(raw_description, MAX_DESCRIPTION),
            state=state,
        )

    code = (query.get("code") or "").strip()
    tenant = (query.get("tenant") or "").strip()
    if code and tenant:
        return ConsentInvalid(reason="both code and tenant present", state=state)
    if code:
        if len(code) > MAX_CODE:
            return ConsentInvalid(reason="authorization code too long", state=state)
        return CodeReceived(code=code, state=state)
    if not tenant:
        return ConsentInvalid(reason="missing tenant", state=state)
    tenant_id = normalise_tenant_id(tenant)
    if tenant_id is None:
        return ConsentInvalid(reason="tenant is not a GUID", state=state)
    # Microsoft sends "True"; anything else means consent was not recorded.
    if (query.get("admin_consent") or "").strip().lower() != "true":
        return ConsentInvalid(reason="admin_consent is not True", state=state)
    scope = _printable(query.get("scope") or "", MAX_SCOPE)
    return ConsentGranted(tenant_id=tenant_id, state=state, scope=scope)
