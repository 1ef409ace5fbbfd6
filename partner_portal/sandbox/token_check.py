"""Validating the bearer tokens the APIs receive, as a resource server does.

A token is accepted when it is signed with the sandbox's key (RS256), not expired, for
one of the API's audiences and issued by a known tenant (``iss``
``https://sts.windows.net/{tid}/``), and was issued after the tenant last removed the
app's consent. Anything else is 401; a valid token without one of the roles the call
needs is 403. The tenant a call acts for comes from the token's ``tid``.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import jwt

from .identity import BACKDATE
from .state import Sandbox
from .web import Request


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
        token = token.strip()
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._public_key,
                algorithms=["RS256"],
                options={"verify_aud": False, "require": ["exp", "nbf", "aud", "iss", "tid"]},
            )
        except jwt.ExpiredSignatureError:
            raise ApiAuthError(401, "The access token has expired.") from None
        except jwt.PyJWTError:
            raise ApiAuthError(401, "The access token is invalid.") from None
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
