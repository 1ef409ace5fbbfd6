"""Authorization codes: issued at the end of a browser flow, redeemed once at the token
endpoint for tokens on behalf of the person who signed in.

Two flows issue codes. The v1 partner consent link (``consent.py``) issues one after the
admin accepts; its redemption answers here, at either token endpoint, with a delegated
access token and an unsigned v1 ``id_token`` (``alg: none``), as the v1 endpoint does.
The OpenID Connect sign-in (``signin.py``) issues codes with its scope, nonce and PKCE
challenge and registers its own answer in :attr:`AuthorizationCodes.answers`; those
codes are redeemed at the v2 endpoint only.

Every code is checked the same way before any answer: issued to this client, not yet
redeemed (54005), at most 10 minutes old (70008), the same ``redirect_uri`` (50011), a
tenant path that is the user's tenant (70000), and the PKCE verifier (501481; a failed
verifier does not use up the code).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt

from .client_tokens import TokenEndpoint
from .directory import Tenant, User
from .identity import TOKEN_LIFETIME, AadError, Identity, app_not_found, resolve_resource
from .state import Sandbox
from .web import Request, Response, json_response

AAD_GRAPH_APP_ID = "00000002-0000-0000-c000-000000000000"
CODE_LIFETIME = 600


@dataclass
class CodeGrant:
    """An authorization code: from the v1 consent link (``flow="v1"``) or from the OpenID
    Connect sign-in (``flow="signin"``, with its scope, nonce and PKCE challenge)."""

    client_id: str
    redirect_uri: str
    tenant: Tenant
    user: User
    expires: float
    redeemed: bool = False
    flow: str = "v1"
    scope: str = ""
    nonce: str | None = None
    code_challenge: str | None = None
    code_challenge_method: str | None = None
    #: The authentication contexts the sign-in satisfied (its ID token's ``acrs``).
    acrs: list[str] = field(default_factory=list)


def check_code_verifier(grant: CodeGrant, verifier: str | None) -> None:
    """PKCE (RFC 7636): a code asked for with a challenge needs the matching verifier."""
    if grant.code_challenge is None:
        return
    if verifier is not None:
        derived = verifier
        if grant.code_challenge_method == "S256":
            digest = hashlib.sha256(verifier.encode()).digest()
            derived = base64.urlsafe_b64encode(digest).decode().rstrip("=")
        if hmac.compare_digest(derived.encode(), grant.code_challenge.encode()):
            return
    raise AadError(
        501481,
        "The Code_Verifier does not match the code_challenge supplied in the authorization "
        "request.",
        error="invalid_grant",
    )


# Answers the token endpoint for a redeemed code of a flow: (grant, form, appidacr) → body.
CodeAnswer = Callable[[CodeGrant, dict[str, str], str], dict[str, Any]]


class AuthorizationCodes:
    """The codes issued and not yet expired, and the ``authorization_code`` grant."""

    def __init__(self, sandbox: Sandbox, identity: Identity, tokens: TokenEndpoint) -> None:
        self.sandbox = sandbox
        self.identity = identity
        self.tokens = tokens
        self._codes: dict[str, CodeGrant] = {}
        self._codes_lock = threading.Lock()
        # Token answers for codes of flows other than the v1 consent link (signin.py).
        self.answers: dict[str, CodeAnswer] = {}
        tokens.grants["authorization_code"] = self.redeem

    @property
    def origin(self) -> str:
        return self.sandbox.origin

    def issue_code(
        self, *, client_id: str, redirect_uri: str, tenant: Tenant, user: User, **extra: Any
    ) -> str:
        """A new code; ``extra`` sets the optional fields of CodeGrant (flow, nonce, …)."""
        code = "0.A" + secrets.token_urlsafe(96)
        with self._codes_lock:
            now = time.time()
            for key in [k for k, g in self._codes.items() if g.expires < now - 3600]:
                del self._codes[key]
            self._codes[code] = CodeGrant(
                client_id, redirect_uri, tenant, user, now + CODE_LIFETIME, **extra
            )
        return code

    def redeem(
        self,
        form: dict[str, str],
        path_tenant: Tenant | None,
        segment: str,
        request: Request,
        v2: bool,
    ) -> Response:
        """The ``authorization_code`` grant of both token endpoints."""
        code = form.get("code")
        if not code:
            raise AadError(900144, "The request body must contain the following parameter: 'code'.")
        client_id = form["client_id"]
        if client_id != self.sandbox.client_id:
            raise app_not_found(client_id, path_tenant.name if path_tenant else segment)
        appidacr = self.tokens.authenticate_client(form, path_tenant, segment, request)
        with self._codes_lock:
            grant = self._codes.get(code)
            if grant is None or grant.client_id != client_id:
                raise AadError(
                    70000,
                    "The provided value for the 'code' parameter is not valid.",
                    error="invalid_grant",
                )
            if grant.redeemed:
                raise AadError(
                    54005,
                    "OAuth2 Authorization code was already redeemed, please retry with a "
                    "new valid code or use an existing refresh token.",
                    error="invalid_grant",
                )
            if grant.expires < time.time():
                raise AadError(
                    70008,
                    "The provided authorization code or refresh token has expired due to "
                    "inactivity. Send a new interactive authorization request for this user and "
                    "resource.",
                    error="invalid_grant",
                )
            if form.get("redirect_uri") != grant.redirect_uri:
                raise AadError(
                    50011,
                    "The redirect URI specified in the request does not match the "
                    "redirect URI the authorization code was issued for.",
                    error="invalid_grant",
                )
            if path_tenant is not None and path_tenant is not grant.tenant:
                raise AadError(
                    70000,
                    "The provided value for the 'code' parameter is not valid for this tenant.",
                    error="invalid_grant",
                )
            answer = self.answers.get(grant.flow)
            if answer is not None and not v2:
                raise AadError(
                    70000,
                    "The provided value for the 'code' parameter is not valid: it was issued "
                    "by the v2.0 authorize endpoint; redeem it at /oauth2/v2.0/token.",
                    error="invalid_grant",
                )
            check_code_verifier(grant, form.get("code_verifier"))
            grant.redeemed = True
        if answer is not None:
            return json_response(200, answer(grant, form, appidacr))
        tenant, user = grant.tenant, grant.user
        now = int(time.time())
        if v2:
            scope = form.get("scope", "")
            resources = [s[: -len("/.default")] for s in scope.split() if s.endswith("/.default")]
            audience = (resolve_resource(resources[0]) if resources else None) or AAD_GRAPH_APP_ID
        else:
            audience = resolve_resource(form.get("resource", "")) or AAD_GRAPH_APP_ID
        issuer = f"https://sts.windows.net/{tenant.tenant_id}/"
        given, _, family = user.display_name.partition(" ")
        access_token = self.identity.delegated_token(
            tenant, user, audience, appidacr=appidacr, scp="user_impersonation"
        )
        id_claims: dict[str, Any] = {
            "aud": client_id,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "name": user.display_name,
            "oid": user.object_id,
            "sub": user.object_id,
            "tid": tenant.tenant_id,
        }
        if v2:
            id_claims.update(
                iss=f"{self.origin}/{tenant.tenant_id}/v2.0",
                preferred_username=user.upn,
                ver="2.0",
            )
            id_token = self.identity.sign(id_claims)
            body: dict[str, Any] = {
                "token_type": "Bearer",
                "scope": form.get("scope", ""),
                "expires_in": TOKEN_LIFETIME - 1,
                "ext_expires_in": TOKEN_LIFETIME - 1,
                "access_token": access_token,
                "id_token": id_token,
            }
        else:
            id_claims.update(
                iss=issuer,
                amr=["pwd"],
                family_name=family,
                given_name=given,
                unique_name=user.upn,
                upn=user.upn,
                ver="1.0",
            )
            # The v1 endpoint returns its id_token unsigned: it came straight over TLS.
            id_token = jwt.encode(id_claims, "", algorithm="none")
            body = {
                "token_type": "Bearer",
                "scope": "user_impersonation",
                "expires_in": str(TOKEN_LIFETIME - 1),
                "ext_expires_in": str(TOKEN_LIFETIME - 1),
                "expires_on": str(now + TOKEN_LIFETIME),
                "not_before": str(now - 300),
                "resource": audience,
                "access_token": access_token,
                "refresh_token": "0.A" + secrets.token_urlsafe(120),
                "id_token": id_token,
            }
        return json_response(200, body)
