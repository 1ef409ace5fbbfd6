"""Checks that an access token really is what the portal asked Microsoft for.

A customer counts as connected only when a client-credentials token issued for its
tenant passes these checks: RS256 signature by a key the tenant publishes, issuer of
that tenant, ``tid`` equal to the tenant, audience equal to the Defender resource, and
a current validity window. The ``roles`` claim then tells which of the needed
permissions were granted; missing roles are reported, not raised, so the portal can
say exactly what the customer still has to consent to.

Discovery documents and key sets are cached (with a TTL) and shared between threads;
a token signed with an unknown key causes one refresh of the key set (Microsoft
rotates keys) before it is refused.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import jwt
import requests
from jwt.algorithms import RSAAlgorithm

from .clouds import (
    GRAPH_APP_ID,
    GRAPH_RESOURCE,
    MDE_APP_ID,
    MDE_RESOURCE,
    XDR_APP_ID,
    XDR_RESOURCE,
    Endpoints,
)
from .consent import normalise_tenant_id
from .identity_errors import (
    BadSignature,
    InvalidToken,
    MalformedToken,
    TenantNotFound,
    TokenExpired,
    TokenNotYetValid,
    TransientIdentityError,
    UnknownSigningKey,
    WrongAudience,
    WrongIssuer,
    WrongNonce,
    WrongTenant,
)

__all__ = [
    "BadSignature",
    "InvalidToken",
    "MalformedToken",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenValidator",
    "UnknownSigningKey",
    "ValidatedToken",
    "WrongAudience",
    "WrongIssuer",
    "WrongNonce",
    "WrongTenant",
]

# Version 2.0 tokens name the resource by its application ID instead of its URI.
_RESOURCE_APP_IDS = {
    MDE_RESOURCE: MDE_APP_ID,
    XDR_RESOURCE: XDR_APP_ID,
    GRAPH_RESOURCE: GRAPH_APP_ID,
}


@dataclass(frozen=True)
class ValidatedToken:
    """A token that passed every check; ``missing_roles`` may still be non-empty."""

    claims: Mapping[str, Any]
    roles: frozenset[str]
    missing_roles: tuple[str, ...]

    @property
    def complete(self) -> bool:
        return not self.missing_roles


@dataclass(frozen=True)
class _Discovery:
    issuer: str
    jwks_uri: str


class TokenValidator:
    """Validates Entra ID access tokens against a tenant's published configuration."""

    def __init__(
        self,
        endpoints: Endpoints,
        session: requests.Session,
        *,
        leeway_seconds: int = 60,
        clock: Callable[[], float] = time.time,
        cache_ttl_seconds: float = 24 * 3600,
    ) -> None:
        self.endpoints = endpoints
        self.session = session
        self.leeway = leeway_seconds
        self.clock = clock
        self.cache_ttl = cache_ttl_seconds
        self._lock = threading.Lock()
        self._discovery: dict[str, tuple[float, _Discovery]] = {}
        self._keys: dict[str, tuple[float, dict[str, Any]]] = {}
        self.key_fetches = 0

    # -- cached documents ---------------------------------------------------------

    def _get_json(self, url: str, *, tenant_id: str) -> dict[str, Any]:
        try:
            response = self.session.get(url)
        except requests.RequestException as exc:
            raise TransientIdentityError(
                f"Could not fetch {url}: {type(exc).__name__}", tenant_id=tenant_id
            ) from None
        if 400 <= response.status_code < 500:
            raise TenantNotFound(
                f"{url} answered HTTP {response.status_code}.",
                tenant_id=tenant_id,
                http_status=response.status_code,
            )
        if response.status_code != 200:
            raise TransientIdentityError(
                f"{url} answered HTTP {response.status_code}.",
                tenant_id=tenant_id,
                http_status=response.status_code,
            )
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise TransientIdentityError(f"{url} did not answer with JSON.", tenant_id=tenant_id)
        return body

    def _discover(self, tenant_id: str, version: str) -> _Discovery:
        suffix = "/v2.0" if version == "2.0" else ""
        url = f"{self.endpoints.login_url}/{tenant_id}{suffix}/.well-known/openid-configuration"
        now = self.clock()
        with self._lock:
            cached = self._discovery.get(url)
            if cached and now - cached[0] < self.cache_ttl:
                return cached[1]
        body = self._get_json(url, tenant_id=tenant_id)
        issuer, jwks_uri = body.get("issuer"), body.get("jwks_uri")
        if not isinstance(issuer, str) or not isinstance(jwks_uri, str):
            raise TransientIdentityError(
                "Discovery document lacks issuer or jwks_uri.", tenant_id=tenant_id
            )
        # Multi-tenant documents carry a "{tenantid}" placeholder in the issuer.
        found = _Discovery(issuer=issuer.replace("{tenantid}", tenant_id), jwks_uri=jwks_uri)
        with self._lock:
            self._discovery[url] = (now, found)
        return found

    def _key_set(self, jwks_uri: str, *, tenant_id: str, refresh: bool) -> dict[str, Any]:
        now = self.clock()
        with self._lock:
            cached = self._keys.get(jwks_uri)
            if cached and not refresh and now - cached[0] < self.cache_ttl:
                return cached[1]
        body = self._get_json(jwks_uri, tenant_id=tenant_id)
        keys: dict[str, Any] = {}
        for jwk in body.get("keys") or []:
            if not isinstance(jwk, dict) or jwk.get("kty") != "RSA" or "kid" not in jwk:
                continue
            try:
                keys[str(jwk["kid"])] = RSAAlgorithm.from_jwk(json.dumps(jwk))
            except (jwt.PyJWTError, ValueError, KeyError):
                continue
        with self._lock:
            self._keys[jwks_uri] = (now, keys)
            self.key_fetches += 1
        return keys

    def _signing_key(self, jwks_uri: str, kid: str, *, tenant_id: str) -> Any:
        key = self._key_set(jwks_uri, tenant_id=tenant_id, refresh=False).get(kid)
        if key is None:
            # Microsoft rotates signing keys: look once more before refusing.
            key = self._key_set(jwks_uri, tenant_id=tenant_id, refresh=True).get(kid)
        if key is None:
            raise UnknownSigningKey(f"no published key with kid {kid!r}")
        return key

    # -- validation ---------------------------------------------------------------

    def _verified_claims(self, token: str, tid: str) -> dict[str, Any]:
        """Claims of a token signed by a key ``tid`` publishes, current, issued by ``tid``.

        The checks every Entra ID token of the tenant must pass, whatever it is for:
        RS256 with a published key, validity window, ``tid`` and the tenant's issuer.
        """
        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError:
            raise MalformedToken("not a JWT") from None
        if header.get("alg") != "RS256":
            raise MalformedToken(f"unexpected signing algorithm {header.get('alg')!r}")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise MalformedToken("no key ID (kid) in the header")

        # The issuer and key location come from the tenant's own documents: v1 tokens
        # (the client-credentials default for these resources) or v2 ones.
        version = "2.0" if unverified.get("ver") == "2.0" else "1.0"
        discovery = self._discover(tid, version)
        key = self._signing_key(discovery.jwks_uri, kid, tenant_id=tid)
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=["RS256"],
                options={
                    "verify_signature": True,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise BadSignature("signature does not verify") from None
        except jwt.PyJWTError as exc:
            raise MalformedToken(type(exc).__name__) from None

        now = self.clock()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float):
            raise MalformedToken("no expiry (exp)")
        if now > exp + self.leeway:
            raise TokenExpired(f"expired {int(now - exp)} s ago")
        if isinstance(nbf, int | float) and now + self.leeway < nbf:
            raise TokenNotYetValid(f"valid only in {int(nbf - now)} s")

        token_tid = normalise_tenant_id(str(claims.get("tid", "")))
        if token_tid != tid:
            raise WrongTenant(f"token tenant {claims.get('tid')!r} is not {tid}")
        # v1: "https://sts.windows.net/{tid}/"; v2: "{login}/{tid}/v2.0"; as published.
        if claims.get("iss") != discovery.issuer:
            raise WrongIssuer(f"issuer {claims.get('iss')!r} is not the tenant's")
        return claims

    def validate(
        self,
        token: str,
        *,
        tenant_id: str,
        resource: str,
        required_roles: Iterable[str] = (),
    ) -> ValidatedToken:
        """Check ``token`` for ``tenant_id`` and ``resource``; raise ``InvalidToken`` if bad."""
        tid = normalise_tenant_id(tenant_id)
        if tid is None:
            raise ValueError("tenant_id must be a GUID")
        claims = self._verified_claims(token, tid)

        wanted = resource.rstrip("/")
        accepted_audiences = {wanted, wanted + "/"}
        if wanted in _RESOURCE_APP_IDS:
            accepted_audiences.add(_RESOURCE_APP_IDS[wanted])
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if not any(a in accepted_audiences for a in audiences):
            raise WrongAudience(f"audience {aud!r} is not {wanted}")

        raw_roles = claims.get("roles") or []
        roles = frozenset(r for r in raw_roles if isinstance(r, str))
        missing = tuple(r for r in dict.fromkeys(required_roles) if r not in roles)
        return ValidatedToken(claims=claims, roles=roles, missing_roles=missing)

    def validate_id_token(
        self, token: str, *, tenant_id: str, client_id: str, nonce: str
    ) -> Mapping[str, Any]:
        """Check an OpenID Connect ID token issued to ``client_id`` for a sign-in at
        ``tenant_id`` that sent ``nonce``; return its claims or raise ``InvalidToken``."""
        tid = normalise_tenant_id(tenant_id)
        if tid is None:
            raise ValueError("tenant_id must be a GUID")
        if not nonce:
            raise ValueError("nonce is required")
        claims = self._verified_claims(token, tid)
        aud = claims.get("aud")
        if aud != client_id and not (isinstance(aud, list) and client_id in aud):
            raise WrongAudience(f"audience {aud!r} is not this application")
        # The nonce ties the token to the sign-in this browser started: a token from
        # another sign-in (replayed or injected) carries another one.
        if claims.get("nonce") != nonce:
            raise WrongNonce("the ID token was not issued for this sign-in")
        return claims
