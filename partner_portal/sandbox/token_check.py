"""Validating the bearer tokens the APIs receive, as a resource server does.

A token is accepted when it is signed with the sandbox's key (RS256), not expired, for
one of the API's audiences and issued by a known tenant (``iss``
``https://sts.windows.net/{tid}/``), and was issued after the tenant last removed the
app's consent. Anything else is 401; a valid token without one of the roles the call
needs is 403. The tenant a call acts for comes from the token's ``tid``.

A client presents one token for an hour, call after call, and checking its RS256
signature was a fifth of the sandbox's CPU in a fleet's idle passes. So the claims of a
token whose signature (and format) checked out are remembered, keyed by the token's
SHA-256, and a token seen before has only its times checked again (``exp``, ``nbf``,
``iat``, as PyJWT checks them, no leeway), then everything below the signature as on
first sight: what a client sees is the same either way. The memory is bounded
(MEMO_SIZE tokens); when full, it is emptied and fills again with the tokens in use.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Collection
from typing import Any

import jwt

from .identity import BACKDATE
from .state import Sandbox
from .web import Request

#: Tokens whose checked signature is remembered (a fleet's tenants hold one each).
MEMO_SIZE = 20_000


class ApiAuthError(Exception):
    """An access token the APIs refuse: 401 (invalid) or 403 (missing role)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class TokenCheck:
    """Checks the bearer token of an API request against the sandbox's signing key."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        self._public_key = sandbox.pki.signing.private_key.public_key()
        # SHA-256 of a token whose signature checked out -> its claims.
        self._verified: dict[bytes, dict[str, Any]] = {}

    def authorize(
        self, request: Request, audiences: Collection[str], roles: Collection[str]
    ) -> dict[str, Any]:
        """Claims of a valid token holding one of ``roles``; ApiAuthError(401 or 403)."""
        claims = self.validate(request, audiences)
        if not set(claims.get("roles") or []) & set(roles):
            raise ApiAuthError(
                403,
                "The application does not have any of the required application permissions "
                f"({', '.join(sorted(roles))}) to access the resource.",
            )
        return claims

    def validate(self, request: Request, audiences: Collection[str]) -> dict[str, Any]:
        """Claims of the request's bearer token, or ApiAuthError(401)."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise ApiAuthError(401, "Authorization header is missing or is not a Bearer token.")
        claims = self._signed_claims(token.strip())
        if claims.get("aud") not in audiences:
            raise ApiAuthError(
                401, f"The access token audience '{claims.get('aud')}' is not valid for this API."
            )
        tenant_id = str(claims.get("tid"))
        tenant = self.sandbox.resolve(tenant_id)
        if claims.get("iss") != f"https://sts.windows.net/{tenant_id}/" or tenant is None:
            raise ApiAuthError(401, "The access token was not issued for a known tenant.")
        # Once the customer removes the app, the API stops honouring the tokens it was
        # given before; the client's next token request then meets AADSTS700016.
        if int(claims.get("iat", 0)) + BACKDATE < int(tenant.revoked_at):
            raise ApiAuthError(
                401, "The application is no longer authorized in this tenant (consent removed)."
            )
        return claims

    def _signed_claims(self, token: str) -> dict[str, Any]:
        """The claims of a token signed with the sandbox's key and in its lifetime, or
        ApiAuthError(401); its signature is checked once (see the module's story)."""
        key = hashlib.sha256(token.encode()).digest()
        claims = self._verified.get(key)
        if claims is None:
            try:
                claims = jwt.decode(
                    token,
                    self._public_key,
                    algorithms=["RS256"],
                    options={"verify_aud": False, "require": ["exp", "nbf", "aud", "iss", "tid"]},
                )
            except jwt.ExpiredSignatureError:
                raise ApiAuthError(401, "The access token has expired.") from None
            except jwt.PyJWTError:
                raise ApiAuthError(401, "The access token is invalid.") from None
            if len(self._verified) >= MEMO_SIZE:
                self._verified.clear()
            self._verified[key] = claims
            return claims
        now = time.time()
        if int(claims["exp"]) <= now:
            raise ApiAuthError(401, "The access token has expired.")
        if int(claims["nbf"]) > now or int(claims.get("iat", 0)) > now:
            raise ApiAuthError(401, "The access token is invalid.")
        return claims
