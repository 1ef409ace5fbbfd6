"""Who the sandbox is to Entra ID's clients: its discovery documents, its signing key
(published at the keys endpoints) and the tokens it signs with that key.

The identity platform is four modules, one per capability:

- ``identity.py`` (here): discovery, keys, signing and minting the access tokens, and
  Entra ID's error body, which every endpoint of the platform answers with;
- ``client_tokens.py``: the token endpoints, client authentication (secret or
  certificate assertion) and the client credentials grant;
- ``codes.py``: authorization codes (the v1 consent link, the OpenID Connect sign-in)
  and their redemption at the token endpoint, PKCE included;
- ``token_check.py``: validating the bearer tokens the APIs receive.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any

import jwt

from .catalog import DIRECTORY_ROLES, GRAPH_ROLES, MDE_ROLES, XDR_ROLES
from .directory import Tenant, User
from .state import Sandbox
from .web import Request, Response, json_response

if TYPE_CHECKING:
    from .routing import Router

MDE_AUDIENCE = "https://api.securitycenter.microsoft.com"
XDR_AUDIENCE = "https://api.security.microsoft.com"
MDE_APP_ID = "fc780465-2017-40d4-a0c5-307022471b92"
XDR_APP_ID = "8ee8fdad-f234-4243-8f3b-15c294843740"
GRAPH_AUDIENCE = "https://graph.microsoft.com"  # Graph app tokens carry this aud
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Resource identifiers a client may ask for, and the audience its token then carries.
RESOURCES = {
    MDE_AUDIENCE: MDE_AUDIENCE,
    "https://securitycenter.onmicrosoft.com/windowsatpservice": MDE_AUDIENCE,
    MDE_APP_ID: MDE_AUDIENCE,
    XDR_AUDIENCE: XDR_AUDIENCE,
    XDR_APP_ID: XDR_AUDIENCE,
    GRAPH_AUDIENCE: GRAPH_AUDIENCE,
    GRAPH_APP_ID: GRAPH_AUDIENCE,
}
ROLES_OF_AUDIENCE = {
    MDE_AUDIENCE: set(MDE_ROLES),
    XDR_AUDIENCE: set(XDR_ROLES),
    GRAPH_AUDIENCE: set(GRAPH_ROLES + DIRECTORY_ROLES),
}
TOKEN_LIFETIME = 3600
BACKDATE = 300  # seconds by which iat and nbf precede the moment of issue
MULTI_TENANT_SEGMENTS = {"common", "organizations"}
# Directory role template IDs as the ``wids`` claim lists them.
USER_ROLE_TEMPLATE = "b79fbf4d-3ef9-4689-8143-76b194e85509"  # every member user
GLOBAL_ADMIN_TEMPLATE = "62e90394-69f5-4237-9190-012177145e10"
TENANT_PATH = r"(?P<segment>[^/]+)"  # a tenant GUID, a domain, common or organizations
# The claims both discovery documents list first; each version then adds its own.
CLAIMS_BOTH_VERSIONS = (
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
)


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


class Identity:
    """Discovery documents, signing keys and signed tokens for every tenant."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sandbox = sandbox
        signing = sandbox.pki.signing
        self._private_key = signing.private_key
        self._headers = {"kid": signing.kid, "x5t": signing.x5t}

    @property
    def origin(self) -> str:
        return self.sandbox.origin

    def register(self, router: Router) -> None:
        t = TENANT_PATH
        router.route("GET", rf"/{t}/v2\.0/\.well-known/openid-configuration", self.discovery_v2)
        router.route("GET", rf"/{t}/\.well-known/openid-configuration", self.discovery_v1)
        router.route("GET", rf"/{t}/discovery/v2\.0/keys", self.keys_v2)
        router.route("GET", rf"/{t}/discovery/keys", self.keys_v1)

    def discovery_v2(self, request: Request, segment: str) -> Response:
        return self.discovery(segment, v2=True)

    def discovery_v1(self, request: Request, segment: str) -> Response:
        return self.discovery(segment, v2=False)

    def keys_v2(self, request: Request, segment: str) -> Response:
        return self.keys(segment, v2=True)

    def keys_v1(self, request: Request, segment: str) -> Response:
        return self.keys(segment, v2=False)

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
        # The authorize page is a browser's: the plain-HTTP loopback one when it exists.
        pages = f"{self.sandbox.pages_origin}/{path_tenant}"
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
                "authorization_endpoint": f"{pages}/oauth2/v2.0/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
                "kerberos_endpoint": f"{base}/kerberos",
                "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "claims_supported": [
                    *CLAIMS_BOTH_VERSIONS,
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
                "authorization_endpoint": f"{pages}/oauth2/authorize",
                "device_authorization_endpoint": f"{base}/oauth2/devicecode",
                "end_session_endpoint": f"{base}/oauth2/logout",
                "check_session_iframe": f"{base}/oauth2/checksession",
                "kerberos_endpoint": f"{base}/kerberos",
                "userinfo_endpoint": f"{base}/openid/userinfo",
                "microsoft_multi_refresh_token": True,
                "scopes_supported": ["openid"],
                "claims_supported": [
                    *CLAIMS_BOTH_VERSIONS,
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

    # ---- signed tokens ----------------------------------------------------------------

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
