"""The Entra ID side: discovery documents, signing keys, the token endpoints (client
credentials with a secret or a certificate assertion, and authorization codes from the
v1 consent link or the OpenID Connect sign-in of ``signin.py``, PKCE included) and
validation of the access tokens the Defender APIs receive.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives import hashes

from .catalog import MDE_ROLES, XDR_ROLES
from .directory import Tenant, User
from .faults import Faults
from .limits import Stats
from .pki import b64url_thumbprint
from .state import Sandbox
from .web import Request, Response, json_response

MDE_AUDIENCE = "https://api.securitycenter.microsoft.com"
XDR_AUDIENCE = "https://api.security.microsoft.com"
MDE_APP_ID = "fc780465-2017-40d4-a0c5-307022471b92"
XDR_APP_ID = "8ee8fdad-f234-4243-8f3b-15c294843740"
AAD_GRAPH_APP_ID = "00000002-0000-0000-c000-000000000000"
# Resource identifiers a client may ask for, and the audience its token then carries.
RESOURCES = {
    MDE_AUDIENCE: MDE_AUDIENCE,
    "https://securitycenter.onmicrosoft.com/windowsatpservice": MDE_AUDIENCE,
    MDE_APP_ID: MDE_AUDIENCE,
    XDR_AUDIENCE: XDR_AUDIENCE,
    XDR_APP_ID: XDR_AUDIENCE,
}
ROLES_OF_AUDIENCE = {MDE_AUDIENCE: set(MDE_ROLES), XDR_AUDIENCE: set(XDR_ROLES)}
RESERVED_SCOPES = {"openid", "profile", "offline_access", "email"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_LIFETIME = 3600
BACKDATE = 300  # seconds by which iat and nbf precede the moment of issue
CODE_LIFETIME = 600
MULTI_TENANT_SEGMENTS = {"common", "organizations"}
# Directory role template IDs as the ``wids`` claim lists them.
USER_ROLE_TEMPLATE = "b79fbf4d-3ef9-4689-8143-76b194e85509"  # every member user
GLOBAL_ADMIN_TEMPLATE = "62e90394-69f5-4237-9190-012177145e10"


class AadError(Exception):
    """An error the token endpoint answers in Entra ID's JSON shape."""

    def __init__(
        self,
        code: int,
        message: str,
        *,
        error: str = "invalid_request",
        status: int = 400,
        headers: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(f"AADSTS{code}: {message}")
        self.code = code
        self.message = message
        self.error = error
        self.status = status
        self.headers = headers or []


class ApiAuthError(Exception):
    """An access token the APIs refuse: 401 (invalid) or 403 (missing role)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _timestamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def aad_error_body(origin: str, code: int, message: str, error: str) -> dict[str, Any]:
    """The JSON body Entra ID sends with a failed token request."""
    trace_id, correlation_id, stamp = str(uuid.uuid4()), str(uuid.uuid4()), _timestamp()
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {message} Trace ID: {trace_id} "
        f"Correlation ID: {correlation_id} Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{origin}/error?code={code}",
    }


def tenant_not_found(segment: str) -> AadError:
    return AadError(
        90002,
        f"Tenant '{segment}' not found. Check to make sure you have the correct tenant ID and "
        "are signing into the correct cloud. Check with your subscription administrator, this "
        "may happen if there are no active subscriptions for the tenant.",
        error="invalid_tenant",
    )


def app_not_found(client_id: str, tenant_name: str) -> AadError:
    return AadError(
        700016,
        f"Application with identifier '{client_id}' was not found in the directory "
        f"'{tenant_name}'. This can happen if the application has not been installed by the "
        "administrator of the tenant or consented to by any user in the tenant. You may have "
        "sent your authentication request to the wrong tenant.",
        error="unauthorized_client",
    )


def resolve_resource(value: str) -> str | None:
    """The audience for a resource identifier (URI with or without a trailing slash, or app ID)."""
    key = value.strip().rstrip("/")
    for known, audience in RESOURCES.items():
        if key.lower() == known.lower():
            return audience
    return None


def directory_roles(user: User) -> list[str]:
    """The user's ``wids``: Global Administrator for an admin, "User" for every member."""
    return [GLOBAL_ADMIN_TEMPLATE, USER_ROLE_TEMPLATE] if user.admin else [USER_ROLE_TEMPLATE]


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


class Identity:
    """Discovery, keys and tokens for every tenant of the sandbox."""

    def __init__(self, sandbox: Sandbox, faults: Faults, stats: Stats) -> None:
        self.sandbox = sandbox
        self.faults = faults
        self.stats = stats
        signing = sandbox.pki.signing
        self._private_key = signing.private_key
        self._public_key = signing.private_key.public_key()
        self._headers = {"kid": signing.kid, "x5t": signing.x5t}
        app_cert = sandbox.pki.app.certificate
        self._app_public_key = app_cert.public_key()
        self._app_x5t = b64url_thumbprint(app_cert, hashes.SHA1())  # noqa: S303 - x5t is SHA-1 by definition
        self._app_x5t256 = b64url_thumbprint(app_cert, hashes.SHA256())
        self._codes: dict[str, CodeGrant] = {}
        self._codes_lock = threading.Lock()
        # Token answers for codes of flows other than the v1 consent link (signin.py).
        self.code_answers: dict[str, CodeAnswer] = {}

    @property
    def origin(self) -> str:
        return self.sandbox.origin

    # ---- discovery ------------------------------------------------------------------

    def _discovery_tenant(self, segment: str) -> tuple[str, str]:
        """(tenant id for issuers, tenant segment for endpoints) or AadError."""
        if segment.lower() in MULTI_TENANT_SEGMENTS:
            return "{tenantid}", segment.lower()
        tenant = self.sandbox.resolve(segment)
        if tenant is None:
            raise tenant_not_found(segment)
        return tenant.tenant_id, tenant.tenant_id

    def discovery(self, segment: str, *, v2: bool) -> Response:
        try:
            tid, path_tenant = self._discovery_tenant(segment)
        except AadError as err:
            return self.error_response(err)
        base = f"{self.origin}/{path_tenant}"
        common = {
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": [
                "code",
                "id_token",
                "code id_token",
                "token id_token",
                "token",
            ],
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "request_uri_parameter_supported": False,
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }
        if v2:
            doc = {
                "token_endpoint": f"{base}/oauth2/v2.0/token",
                "jwks_uri": f"{base}/discovery/v2.0/keys",
                "issuer": f"{self.origin}/{tid}/v2.0",
                "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "kerberos_endpoint": f"{base}/kerberos",
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "claims_supported": [
                    "sub",
                    "iss",
                    "cloud_instance_name",
                    "cloud_instance_host_name",
                    "cloud_graph_host_name",
                    "msgraph_host",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "acr",
                    "nonce",
                    "preferred_username",
                    "name",
                    "tid",
                    "ver",
                    "at_hash",
                    "c_hash",
                    "email",
                ],
                **common,
            }
        else:
            doc = {
                "token_endpoint": f"{base}/oauth2/token",
                "jwks_uri": f"{self.origin}/common/discovery/keys",
                "issuer": f"https://sts.windows.net/{tid}/",
                "authorization_endpoint": f"{base}/oauth2/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/devicecode",
                "end_session_endpoint": f"{base}/oauth2/logout",
                "check_session_iframe": f"{base}/oauth2/checksession",
                "kerberos_endpoint": f"{base}/kerberos",
                "userinfo_endpoint": f"{base}/openid/userinfo",
                "microsoft_multi_refresh_token": True,
                "scopes_supported": ["openid"],
                "claims_supported": [
                    "sub",
                    "iss",
                    "cloud_instance_name",
                    "cloud_instance_host_name",
                    "cloud_graph_host_name",
                    "msgraph_host",
                    "aud",
                    "exp",
                    "iat",
                    "auth_time",
                    "acr",
                    "amr",
                    "nonce",
                    "email",
                    "given_name",
                    "family_name",
                    "nickname",
                ],
                **common,
            }
        return json_response(200, doc)

    def keys(self, segment: str, *, v2: bool) -> Response:
        if segment.lower() not in MULTI_TENANT_SEGMENTS and self.sandbox.resolve(segment) is None:
            return self.error_response(tenant_not_found(segment))
        key = self.sandbox.pki.signing.jwk()
        if v2:
            tid = "{tenantid}"
            tenant = self.sandbox.resolve(segment)
            if tenant is not None:
                tid = tenant.tenant_id
            key["issuer"] = f"{self.origin}/{tid}/v2.0"
        return json_response(200, {"keys": [key]})

    def error_response(self, err: AadError) -> Response:
        return json_response(
            err.status, aad_error_body(self.origin, err.code, err.message, err.error), err.headers
        )

    # ---- tokens ---------------------------------------------------------------------

    def sign(self, claims: dict[str, Any]) -> str:
        return jwt.encode(claims, self._private_key, algorithm="RS256", headers=self._headers)

    def app_token(
        self,
        tenant: Tenant,
        audience: str,
        *,
        appidacr: str,
        roles: list[str] | None = None,
        lifetime: int = TOKEN_LIFETIME,
    ) -> tuple[str, int, int]:
        """An app-only v1 access token for ``tenant``: (token, issued at, expires)."""
        now = int(time.time())
        issuer = f"https://sts.windows.net/{tenant.tenant_id}/"
        if roles is None:
            roles = [r for r in tenant.roles if r in ROLES_OF_AUDIENCE[audience]]
        service_principal = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"sp:{tenant.tenant_id}:{self.sandbox.client_id}")
        )
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": issuer,
            "iat": now - BACKDATE,  # Entra ID back-dates iat/nbf by five minutes (clock skew)
            "nbf": now - BACKDATE,
            "exp": now + lifetime,
            "aio": base64.b64encode(secrets.token_bytes(48)).decode(),
            "appid": self.sandbox.client_id,
            "appidacr": appidacr,
            "idp": issuer,
            "oid": service_principal,
            "rh": "0." + base64.urlsafe_b64encode(secrets.token_bytes(24)).decode().rstrip("="),
            "sub": service_principal,
            "tid": tenant.tenant_id,
            "uti": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode().rstrip("="),
            "ver": "1.0",
        }
        if roles:  # Entra ID leaves the claim out when the app holds no role there
            claims["roles"] = roles
        return self.sign(claims), now, now + lifetime

    def token(self, request: Request, segment: str, *, v2: bool) -> Response:
        """``POST /{tenant}/oauth2/v2.0/token`` and ``/{tenant}/oauth2/token``."""
        try:
            return self._token(request, segment, v2=v2)
        except AadError as err:
            return self.error_response(err)

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
        if grant_type == "client_credentials":
            if tenant is None:
                raise AadError(
                    50059,
                    "No tenant-identifying information found in either the request or implied "
                    "by any provided credentials.",
                )
            return self._client_credentials(form, tenant, segment, request, v2=v2)
        if grant_type == "authorization_code":
            return self._authorization_code(form, tenant, segment, request, v2=v2)
        raise AadError(
            70003,
            f"The app requested an unsupported grant type '{grant_type}'.",
            error="unsupported_grant_type",
        )

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

    def _authenticate_client(
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

    def _client_credentials(
        self, form: dict[str, str], tenant: Tenant, segment: str, request: Request, *, v2: bool
    ) -> Response:
        client_id = form["client_id"]
        if client_id != self.sandbox.client_id or not tenant.consented:
            raise app_not_found(client_id, tenant.name)
        appidacr = self._authenticate_client(form, tenant, segment, request)
        audience = self._audience_from_request(form, tenant, v2=v2)
        token, issued, expires = self.app_token(tenant, audience, appidacr=appidacr)
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

    # ---- authorization codes (consent link, OpenID Connect sign-in) -------------------

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

    def delegated_token(
        self, tenant: Tenant, user: User, audience: str, *, appidacr: str, scp: str
    ) -> str:
        """A v1 access token on behalf of ``user``, with the user's directory roles."""
        now = int(time.time())
        issuer = f"https://sts.windows.net/{tenant.tenant_id}/"
        given, _, family = user.display_name.partition(" ")
        return self.sign(
            {
                "aud": audience,
                "iss": issuer,
                "iat": now - BACKDATE,
                "nbf": now - BACKDATE,
                "exp": now + TOKEN_LIFETIME,
                "amr": ["pwd"],
                "appid": self.sandbox.client_id,
                "appidacr": appidacr,
                "family_name": family,
                "given_name": given,
                "idp": issuer,
                "name": user.display_name,
                "oid": user.object_id,
                "scp": scp,
                "sub": user.object_id,
                "tid": tenant.tenant_id,
                "unique_name": user.upn,
                "upn": user.upn,
                "ver": "1.0",
                "wids": directory_roles(user),
            }
        )

    def _authorization_code(
        self,
        form: dict[str, str],
        path_tenant: Tenant | None,
        segment: str,
        request: Request,
        *,
        v2: bool,
    ) -> Response:
        code = form.get("code")
        if not code:
            raise AadError(900144, "The request body must contain the following parameter: 'code'.")
        client_id = form["client_id"]
        if client_id != self.sandbox.client_id:
            raise app_not_found(client_id, path_tenant.name if path_tenant else segment)
        appidacr = self._authenticate_client(form, path_tenant, segment, request)
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
            answer = self.code_answers.get(grant.flow)
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
        access_token = self.delegated_token(
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
            id_token = self.sign(id_claims)
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

    # ---- validation for the APIs ------------------------------------------------------

    def validate(self, request: Request, audiences: set[str]) -> dict[str, Any]:
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
