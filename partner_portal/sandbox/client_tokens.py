"""The token endpoints and the client credentials grant.

``POST /{tenant}/oauth2/v2.0/token`` (``scope``) and ``POST /{tenant}/oauth2/token`` (v1:
``resource``, numbers as strings). Every request is first read the same way: the client
credential from the form or from HTTP basic authentication, the tenant of the path
(unknown: AADSTS90002), the token request counted and the tenant's token faults drawn
(503 or 429 with AADSTS90055), then the ``grant_type`` picks a grant handler from
:attr:`TokenEndpoint.grants`. This module serves ``client_credentials``: app-only
tokens for a consented tenant, the client authenticated by its secret (7000215 wrong,
7000222 expired, 7000216 missing) or by a certificate assertion (700027, 700024).
``codes.py`` registers ``authorization_code``.
"""

from __future__ import annotations

import base64
import secrets
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives import hashes

from .directory import Tenant
from .faults import Faults
from .identity import (
    MULTI_TENANT_SEGMENTS,
    TENANT_PATH,
    AadError,
    Identity,
    app_not_found,
    resolve_resource,
    tenant_not_found,
)
from .limits import Stats
from .pki import b64url_thumbprint
from .state import Sandbox
from .web import Request, Response, json_response

if TYPE_CHECKING:
    from .routing import Router

RESERVED_SCOPES = {"openid", "profile", "offline_access", "email"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
# A grant's answer: (form, tenant of the path or None, path segment, request, v2) → response.
Grant = Callable[[dict[str, str], Tenant | None, str, Request, bool], Response]


class TokenEndpoint:
    """Both token endpoints: reads the request, authenticates the client, and hands the
    request to the grant its ``grant_type`` names."""

    def __init__(self, sandbox: Sandbox, identity: Identity, faults: Faults, stats: Stats) -> None:
        self.sandbox = sandbox
        self.identity = identity
        self.faults = faults
        self.stats = stats
        app_cert = sandbox.pki.app.certificate
        self._app_public_key = app_cert.public_key()
        self._app_x5t = b64url_thumbprint(app_cert, hashes.SHA1())  # noqa: S303 - x5t is SHA-1 by definition
        self._app_x5t256 = b64url_thumbprint(app_cert, hashes.SHA256())
        self.grants: dict[str, Grant] = {"client_credentials": self._client_credentials}

    @property
    def origin(self) -> str:
        return self.sandbox.origin

    def register(self, router: Router) -> None:
        router.route("POST", rf"/{TENANT_PATH}/oauth2/v2\.0/token", self.token_v2)
        router.route("POST", rf"/{TENANT_PATH}/oauth2/token", self.token_v1)

    def token_v2(self, request: Request, segment: str) -> Response:
        return self.token(request, segment, v2=True)

    def token_v1(self, request: Request, segment: str) -> Response:
        return self.token(request, segment, v2=False)

    # ---- reading the request ---------------------------------------------------------

    def token(self, request: Request, segment: str, *, v2: bool) -> Response:
        """``POST /{tenant}/oauth2/v2.0/token`` and ``/{tenant}/oauth2/token``."""
        try:
            return self._token(request, segment, v2=v2)
        except AadError as err:
            return self.identity.error_response(err)

    def _credentials(self, request: Request, form: dict[str, str]) -> dict[str, str]:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("basic "):
            try:
                decoded = base64.b64decode(auth[6:].strip()).decode()
                user, _, password = decoded.partition(":")
            except ValueError:
                raise AadError(
                    900144,
                    "The HTTP Authorization header is malformed.",
                    error="invalid_client",
                    status=401,
                ) from None
            form = {**form, "client_id": unquote(user), "client_secret": unquote(password)}
        return form

    def _token(self, request: Request, segment: str, *, v2: bool) -> Response:
        form = self._credentials(request, request.form())
        grant_type = form.get("grant_type")
        if not grant_type:
            raise AadError(
                900144, "The request body must contain the following parameter: 'grant_type'."
            )
        tenant: Tenant | None = None
        if segment.lower() not in MULTI_TENANT_SEGMENTS:
            tenant = self.sandbox.resolve(segment)
            if tenant is None:
                raise tenant_not_found(segment)
        if tenant is not None:
            self.stats.token(tenant.tenant_id)
            self._token_fault(tenant)
        client_id = form.get("client_id")
        if not client_id:
            raise AadError(
                900144, "The request body must contain the following parameter: 'client_id'."
            )
        grant = self.grants.get(grant_type)
        if grant is None:
            raise AadError(
                70003,
                f"The app requested an unsupported grant type '{grant_type}'.",
                error="unsupported_grant_type",
            )
        return grant(form, tenant, segment, request, v2)

    def _token_fault(self, tenant: Tenant) -> None:
        kind, config = self.faults.draw_token(tenant.tenant_id)
        if kind == "rate_token_503":
            raise AadError(
                90055,
                "The service is temporarily unavailable. Please try again later.",
                error="temporarily_unavailable",
                status=503,
            )
        if kind == "rate_token_throttle":
            raise AadError(
                90055,
                "TenantThrottlingThreshold exceeded: the request was throttled because the "
                "tenant is sending too many requests.",
                error="temporarily_unavailable",
                status=429,
                headers=[("Retry-After", str(config.retry_after_seconds))],
            )

    # ---- client authentication ------------------------------------------------------

    def authenticate_client(
        self, form: dict[str, str], tenant: Tenant | None, segment: str, request: Request
    ) -> str:
        """Check the secret or the assertion; return appidacr ("1" secret, "2" certificate)."""
        client_id = form["client_id"]
        assertion = form.get("client_assertion")
        secret = form.get("client_secret")
        if assertion:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise AadError(
                    700027,
                    f"Client assertion type must be '{ASSERTION_TYPE}'.",
                    error="invalid_client",
                    status=401,
                )
            self._check_assertion(assertion, client_id, tenant, segment, request)
            return "2"
        if secret is None:
            raise AadError(
                7000216,
                "'client_assertion', 'client_secret' or 'request' is required for the "
                "'client_credentials' grant type.",
                error="invalid_client",
                status=401,
            )
        if not secrets.compare_digest(secret.encode(), self.sandbox.client_secret.encode()):
            raise AadError(
                7000215,
                "Invalid client secret provided. Ensure the secret being sent in the request is "
                "the client secret value, not the client secret ID, for a secret added to app "
                f"'{client_id}'.",
                error="invalid_client",
                status=401,
            )
        if self.sandbox.secret_expired:
            raise AadError(
                7000222,
                f"The provided client secret keys for app '{client_id}' are expired. Visit the "
                "Azure portal to create new keys for your app: "
                "https://aka.ms/NewClientSecret, or consider using certificate credentials for "
                "added security: https://aka.ms/certCreds.",
                error="invalid_client",
                status=401,
            )
        return "1"

    def _assertion_audiences(
        self, tenant: Tenant | None, segment: str, request: Request
    ) -> set[str]:
        origins = {self.origin.lower()}
        host = request.headers.get("host")
        if host:
            origins.add(f"https://{host}".lower())
        segments = {segment.lower()}
        if tenant is not None:
            segments |= {tenant.tenant_id.lower(), tenant.domain.lower()}
        return {
            f"{origin}/{seg}/oauth2/{path}"
            for origin in origins
            for seg in segments
            for path in ("v2.0/token", "token")
        }

    def _check_assertion(
        self,
        assertion: str,
        client_id: str,
        tenant: Tenant | None,
        segment: str,
        request: Request,
    ) -> None:
        def bad(message: str, code: int = 700027) -> AadError:
            return AadError(code, message, error="invalid_client", status=401)

        try:
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise bad("Client assertion is not a valid JWT.") from None
        alg = header.get("alg")
        # Clients differ on base64 padding of the thumbprint (MSAL keeps it).
        x5t = str(header.get("x5t") or "").rstrip("=")
        x5t256 = str(header.get("x5t#S256") or "").rstrip("=")
        registered = (alg == "RS256" and x5t == self._app_x5t) or (
            alg == "PS256" and x5t256 == self._app_x5t256
        )
        if registered:
            pass
        elif alg not in {"RS256", "PS256"}:
            raise bad(f"Client assertion uses an unsupported algorithm '{alg}'.")
        else:
            raise bad(
                "The certificate with identifier used to sign the client assertion is not "
                f"registered on application. [Reason - The key was not found., Thumbprint of key "
                f"used by client: '{header.get('x5t') or header.get('x5t#S256')}']"
            )
        try:
            claims = jwt.decode(
                assertion,
                self._app_public_key,  # type: ignore[arg-type]
                algorithms=[str(alg)],
                options={"verify_aud": False, "require": ["exp", "aud", "iss", "sub"]},
            )
        except (jwt.ExpiredSignatureError, jwt.ImmatureSignatureError):
            raise bad("Client assertion is not within its valid time range.", 700024) from None
        except jwt.InvalidSignatureError:
            raise bad("Client assertion failed signature validation.") from None
        except jwt.PyJWTError as exc:
            raise bad(f"Client assertion is invalid: {exc}.") from None
        if claims.get("iss") != client_id or claims.get("sub") != client_id:
            raise bad("Client assertion issuer and subject must both be the client ID.")
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        allowed = self._assertion_audiences(tenant, segment, request)
        if not any(str(a).lower() in allowed for a in audiences):
            raise bad(
                f"Client assertion audience claim does not match Realm issuer. Audience: "
                f"'{audiences[0]}'; expected the token endpoint."
            )

    def _audience_from_request(self, form: dict[str, str], tenant: Tenant, *, v2: bool) -> str:
        if v2:
            scope = form.get("scope")
            if not scope:
                raise AadError(
                    900144, "The request body must contain the following parameter: 'scope'."
                )
            requested = [s for s in scope.split() if s.lower() not in RESERVED_SCOPES]
            if len(requested) != 1 or not requested[0].endswith("/.default"):
                raise AadError(
                    70011,
                    f"The provided request must include a 'scope' input parameter. The provided "
                    f"value for the input parameter 'scope' is not valid. The scope {scope} is "
                    "not valid.",
                    error="invalid_scope",
                )
            resource = requested[0][: -len("/.default")]
        else:
            resource = form.get("resource", "")
            if not resource:
                raise AadError(
                    900144, "The request body must contain the following parameter: 'resource'."
                )
        audience = resolve_resource(resource)
        if audience is None:
            raise AadError(
                500011,
                f"The resource principal named {resource} was not found in the tenant named "
                f"{tenant.name}. This can happen if the application has not been installed by "
                "the administrator of the tenant or consented to by any user in the tenant. You "
                "might have sent your authentication request to the wrong tenant.",
                error="invalid_resource",
            )
        return audience

    # ---- client credentials -----------------------------------------------------------

    def _client_credentials(
        self, form: dict[str, str], tenant: Tenant | None, segment: str, request: Request, v2: bool
    ) -> Response:
        if tenant is None:
            raise AadError(
                50059,
                "No tenant-identifying information found in either the request or implied "
                "by any provided credentials.",
            )
        client_id = form["client_id"]
        if client_id != self.sandbox.client_id or not tenant.consented:
            raise app_not_found(client_id, tenant.name)
        appidacr = self.authenticate_client(form, tenant, segment, request)
        audience = self._audience_from_request(form, tenant, v2=v2)
        token, issued, expires = self.identity.app_token(tenant, audience, appidacr=appidacr)
        return json_response(200, self._token_body(token, issued, expires, audience, v2=v2))

    @staticmethod
    def _token_body(
        token: str, issued: int, expires: int, audience: str, *, v2: bool
    ) -> dict[str, Any]:
        expires_in = expires - int(time.time()) - 1
        if v2:
            return {
                "token_type": "Bearer",
                "expires_in": expires_in,
                "ext_expires_in": expires_in,
                "access_token": token,
            }
        # The v1 endpoint sends its numbers as strings.
        return {
            "token_type": "Bearer",
            "expires_in": str(expires_in),
            "ext_expires_in": str(expires_in),
            "expires_on": str(expires),
            "not_before": str(issued),
            "resource": audience,
            "access_token": token,
        }
