"""Proving who consented: the customer's admin, signed in, checked against Microsoft's keys.

Microsoft's admin-consent redirect names a tenant in its query string, and anybody can
type that (Microsoft's documentation says so). A token that validates for the tenant
proves only that *someone* there consented, not that the person holding this
customer's link did. So a tenant is bound to a customer only from a token Microsoft
signed for the browser that came back:

* after a v2 admin consent, the same browser signs in: an OpenID Connect authorization
  code flow at the claimed tenant's authority, run by MSAL with PKCE and a nonce
  (:meth:`AdminSignIn.begin`, :meth:`AdminSignIn.finish`). MSAL keeps the flow's
  secrets in a dictionary that the caller keeps with that browser; the ID token is then
  checked here against the tenant's published keys (MSAL no longer validates it);
* the v1 partner link already returns an authorization code: redeeming it
  (:meth:`AdminSignIn.redeem_partner_code`) gives an access token for the person who
  consented, checked the same way.

Either way the answer is a :class:`SignedInUser`: the tenant (``tid``), who signed in,
and the directory roles Microsoft says they hold (``wids``; the partner app must emit
directory roles in its tokens). Whether they may bind the tenant is the caller's rule;
:attr:`SignedInUser.can_grant_admin_consent` names the roles that can consent.

The same sign-in, at the partner's own tenant, signs the partner's staff in to the
portal: :class:`SignedInUser` then also carries their security groups (``groups``),
app roles (``roles``), the Conditional Access authentication contexts the sign-in
satisfied (``acrs``) and when the token expires (``exp``, after which its app roles are
no longer Microsoft's word). :meth:`AdminSignIn.begin` asks for a context with the OpenID
Connect ``claims`` parameter (``{"id_token":{"acrs":{"essential":true,"value":"c1"}}}``),
which MSAL passes on as its ``claims_challenge``. There is no ``amr``: Microsoft's v2.0
ID tokens do not carry it.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import msal
import requests

from .clouds import Endpoints
from .consent import normalise_tenant_id
from .credentials import AppCredentials
from .errors import DefenderError, MalformedResponse
from .identity_errors import (
    MalformedToken,
    TenantNotFound,
    TransientIdentityError,
    WrongTenant,
    token_error_from_result,
)
from .validation import TokenValidator

__all__ = [
    "CONSENT_ADMIN_ROLES",
    "AdminSignIn",
    "SignInMismatch",
    "SignInRequest",
    "SignedInUser",
    "auth_context_claims",
]

#: Directory roles (template IDs, as in the ``wids`` claim) that can grant tenant-wide
#: admin consent to an application's permissions, with Microsoft's names for them.
#: Application and Cloud Application Administrators can consent to every application
#: permission except Microsoft Graph's.
CONSENT_ADMIN_ROLES: Mapping[str, str] = {
    "62e90394-69f5-4237-9190-012177145e10": "Global Administrator",
    "e8611ab8-c189-46e8-94e1-60213ab1f814": "Privileged Role Administrator",
    "158c047a-c907-4556-b7ef-446551a6b5f7": "Cloud Application Administrator",
    "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3": "Application Administrator",
}

# What MSAL keeps between the two halves of a sign-in; the rest of its flow (the URL)
# is not needed to finish it.
_FLOW_KEYS = ("state", "redirect_uri", "scope", "code_verifier", "nonce", "claims_challenge")


class SignInMismatch(DefenderError):
    """The answer does not belong to the sign-in this browser started (state)."""

    explanation = "The sign-in answer does not belong to the sign-in started in this browser."


@dataclass(frozen=True)
class SignedInUser:
    """A person Microsoft signed in, as its signed token says."""

    tenant_id: str
    object_id: str
    username: str
    #: Directory role template IDs from ``wids``; ``None`` when the token had no such
    #: claim (the app registration does not emit directory roles).
    directory_roles: frozenset[str] | None
    #: Security group object IDs from ``groups``; ``None`` when the token had no such
    #: claim (not emitted, or too many groups: Microsoft then names Graph instead).
    groups: frozenset[str] | None = None
    #: The app roles assigned to the person in the app's home tenant (``roles``).
    app_roles: frozenset[str] = frozenset()
    #: The authentication context IDs the sign-in satisfied (``acrs``: ``c1``, …), whose
    #: Conditional Access policies Entra enforced.
    auth_contexts: frozenset[str] = frozenset()
    display_name: str = ""
    #: When the token Microsoft signed stops being valid (``exp``, epoch seconds): how long
    #: its word on the claims above holds.
    expires_at: float | None = None

    def satisfied(self, context: str) -> bool:
        """Whether the sign-in satisfied the authentication context ``context``."""
        return context.lower() in self.auth_contexts

    @property
    def consent_admin_roles(self) -> tuple[str, ...]:
        """Names of the roles held that can grant admin consent."""
        held = self.directory_roles or frozenset()
        return tuple(name for role, name in CONSENT_ADMIN_ROLES.items() if role in held)

    @property
    def can_grant_admin_consent(self) -> bool:
        return bool(self.consent_admin_roles)


@dataclass(frozen=True)
class SignInRequest:
    """Where to send the browser, and what to keep with that browser until it is back."""

    url: str
    flow: Mapping[str, Any]

    def __repr__(self) -> str:
        # The flow holds the PKCE verifier and the nonce: never in logs or tracebacks.
        return f"SignInRequest(url=<{len(self.url)} chars>, flow=<kept>)"


def _strings(value: Any, *, lower: bool = True) -> frozenset[str] | None:
    """A list claim as a set of strings, or None when the claim is not a list."""
    if not isinstance(value, list):
        return None
    return frozenset((v.lower() if lower else v) for v in value if isinstance(v, str))


def auth_context_claims(context: str) -> str:
    """The ``claims`` request that makes ``context`` essential for the ID token."""
    return json.dumps({"id_token": {"acrs": {"essential": True, "value": context}}})


def _contexts(value: Any) -> frozenset[str]:
    """``acrs`` as a set of context IDs: Microsoft sends a list, a single one may come as a
    string."""
    if isinstance(value, str):
        value = [value]
    return _strings(value) or frozenset()


def _user_from(claims: Mapping[str, Any], tenant_id: str) -> SignedInUser:
    username = claims.get("preferred_username") or claims.get("upn") or claims.get("email")
    exp = claims.get("exp")
    return SignedInUser(
        tenant_id=tenant_id,
        object_id=str(claims.get("oid") or "").lower(),
        username=str(username or "")[:256],
        directory_roles=_strings(claims.get("wids")),
        groups=_strings(claims.get("groups")),
        app_roles=_strings(claims.get("roles"), lower=False) or frozenset(),
        auth_contexts=_contexts(claims.get("acrs")),
        display_name=str(claims.get("name") or "")[:150],
        expires_at=float(exp) if isinstance(exp, int | float) else None,
    )


class AdminSignIn:
    """The sign-in half of onboarding, for one cloud's login host."""

    def __init__(
        self,
        credentials: AppCredentials,
        endpoints: Endpoints,
        validator: TokenValidator,
        session: requests.Session,
    ) -> None:
        self.credentials = credentials
        self.endpoints = endpoints
        self.validator = validator
        self.session = session

    def __repr__(self) -> str:
        return (
            f"AdminSignIn(client_id={self.credentials.client_id!r}, "
            f"login_url={self.endpoints.login_url!r})"
        )

    def _app(self, tenant_id: str) -> msal.ConfidentialClientApplication:
        kwargs: dict[str, Any] = {}
        if not self.endpoints.is_microsoft_login:
            kwargs["instance_discovery"] = False
        try:
            # A fresh app and cache per sign-in: the person's tokens are not kept.
            return msal.ConfidentialClientApplication(
                self.credentials.client_id,
                client_credential=self.credentials.msal_credential(),
                authority=f"{self.endpoints.login_url}/{tenant_id}",
                token_cache=msal.TokenCache(),
                http_client=self.session,
                **kwargs,
            )
        except ValueError as exc:
            raise TenantNotFound(
                "Microsoft has no OpenID configuration for this tenant.", tenant_id=tenant_id
            ) from exc
        except (requests.RequestException, msal.exceptions.MsalServiceError) as exc:
            raise TransientIdentityError(
                f"Discovery request failed: {type(exc).__name__}", tenant_id=tenant_id
            ) from None

    @staticmethod
    def _tenant(tenant_id: str) -> str:
        tid = normalise_tenant_id(tenant_id)
        if tid is None:
            raise ValueError("tenant_id must be a GUID")
        return tid

    def begin(
        self,
        *,
        tenant_id: str,
        redirect_uri: str,
        state: str,
        login_hint: str | None = None,
        auth_context: str = "",
    ) -> SignInRequest:
        """Start a sign-in at ``tenant_id``'s authority; Microsoft returns ``state``.

        With ``auth_context`` (``c1`` … ``c99``) the request asks Entra to enforce that
        authentication context's Conditional Access policies and to name it in ``acrs``.
        """
        tid = self._tenant(tenant_id)
        app = self._app(tid)
        with warnings.catch_warnings():
            # MSAL recommends form_post. The answer comes back as a query instead: the
            # cookie that holds this flow is SameSite=Lax, which a browser sends with a
            # top-level GET from Microsoft but not with a cross-site POST. The code is
            # single-use and bound to the verifier, and the portal's pages send no
            # referrer to other sites.
            warnings.filterwarnings("ignore", message="response_mode='form_post'")
            flow = app.initiate_auth_code_flow(
                scopes=[],  # MSAL asks for openid and profile itself
                redirect_uri=redirect_uri,
                state=state,
                prompt="select_account",
                login_hint=login_hint,
                response_mode="query",
                claims_challenge=auth_context_claims(auth_context) if auth_context else None,
            )
        return SignInRequest(url=flow["auth_uri"], flow={k: flow.get(k) for k in _FLOW_KEYS})

    def finish(
        self, *, tenant_id: str, flow: Mapping[str, Any], response: Mapping[str, str]
    ) -> SignedInUser:
        """Redeem the answer's code with the kept flow and check the ID token.

        Raises ``SignInMismatch`` for an answer of another sign-in, a ``TokenError`` when
        Microsoft refuses the code (``TransientIdentityError`` when it cannot be
        reached), an ``InvalidToken`` when the ID token fails a check.
        """
        tid = self._tenant(tenant_id)
        app = self._app(tid)
        try:
            result = app.acquire_token_by_auth_code_flow(dict(flow), dict(response), scopes=[])
        except ValueError:
            # MSAL: the answer's state is not the flow's.
            raise SignInMismatch("state does not match the sign-in") from None
        except RuntimeError:
            # MSAL: the ID token's nonce is not the flow's.
            raise MalformedToken("the ID token's nonce is not this sign-in's") from None
        except requests.RequestException as exc:
            raise TransientIdentityError(
                f"Code redemption failed: {type(exc).__name__}", tenant_id=tid
            ) from None
        if "error" in result or "id_token" not in result:
            if "error" not in result:
                raise MalformedToken("Microsoft's answer carries no ID token")
            raise token_error_from_result(result, tenant_id=tid)
        nonce = hashlib.sha256(str(flow.get("nonce") or "").encode("ascii")).hexdigest()
        claims = self.validator.validate_id_token(
            str(result["id_token"]),
            tenant_id=tid,
            client_id=self.credentials.client_id,
            nonce=nonce,
        )
        return _user_from(claims, tid)

    def redeem_partner_code(
        self, *, code: str, redirect_uri: str, resource: str | None = None
    ) -> SignedInUser:
        """Redeem the v1 partner link's code: who consented, from a validated token.

        The access token Microsoft returns for the person is signed by their tenant's
        keys; its ``tid`` names the tenant. The (unsigned) v1 ID token, when present,
        must name the same tenant.
        """
        if not code:
            raise ValueError("code is required")
        resource = resource or self.endpoints.mde_resource
        token_endpoint = f"{self.endpoints.login_url}/common/oauth2/token"
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "resource": resource,
            **self.credentials.client_auth_fields(token_endpoint),
        }
        try:
            response = self.session.post(token_endpoint, data=form)
        except requests.RequestException as exc:
            raise TransientIdentityError(f"Code redemption failed: {type(exc).__name__}") from None
        body = _json_object(response)
        if response.status_code != 200 or "error" in body:
            retry_after = response.headers.get("Retry-After")
            raise token_error_from_result(
                body,
                http_status=response.status_code,
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        access_token = body.get("access_token")
        if not isinstance(access_token, str):
            raise MalformedResponse(response.status_code, None, "token answer has no access token")
        try:
            unverified = jwt.decode(access_token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise MalformedToken("the access token is not a JWT") from None
        tid = normalise_tenant_id(str(unverified.get("tid", "")))
        if tid is None:
            raise MalformedToken("the access token names no tenant")
        validated = self.validator.validate(access_token, tenant_id=tid, resource=resource)
        id_token = body.get("id_token")
        if isinstance(id_token, str):
            try:
                id_claims = jwt.decode(id_token, options={"verify_signature": False})
            except jwt.PyJWTError:
                raise MalformedToken("the ID token is not a JWT") from None
            if normalise_tenant_id(str(id_claims.get("tid", ""))) != tid:
                raise WrongTenant("the ID token and the access token name different tenants")
        return _user_from(validated.claims, tid)


def _json_object(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        return body
    if response.status_code >= 500:
        raise TransientIdentityError(
            "Token endpoint answered with a server error.", http_status=response.status_code
        )
    raise MalformedResponse(response.status_code, None, "token answer is not JSON")
