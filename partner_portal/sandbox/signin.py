"""OpenID Connect sign-in: the v2 authorization code flow with PKCE and a nonce.

Right after an admin consent the portal sends the same browser through a sign-in, to
learn from a signed ID token which tenant the admin belongs to (the consent redirect's
``tenant`` parameter can be forged). The flow runs in three steps:

1. ``GET /{tenant|organizations|common}/oauth2/v2.0/authorize``. The tenant, app and
   reply URL are checked as the consent pages check them, with the same error pages
   (AADSTS90002, 700016, 50011). Then the request itself is checked; a fault there goes
   back to the reply URL: ``unsupported_response_type``, ``invalid_request`` (no
   ``openid`` scope, a bad PKCE challenge, an unknown ``response_mode``) or
   ``login_required`` for ``prompt=none`` (the sandbox keeps no session). Last comes the
   consent module's sign-in page. On a tenant path it lists that tenant's accounts; on
   ``organizations``/``common`` it lists every tenant's accounts.
2. ``POST /common/login`` (consent.py) finds the account. It refuses an account of
   another directory on a tenant path (AADSTS50020), then hands over to
   :meth:`SignInFlow.finish`. There is no permissions page, and admins and plain users
   alike get a code: the portal must see a non-admin to refuse them. When the request's
   ``claims`` asked for an authentication context, the second factor comes first
   (``auth_context.py``). The redirect carries ``code``, ``client_info`` (when asked),
   ``state`` and ``session_state``.
3. ``POST /{tenant|organizations|common}/oauth2/v2.0/token`` (codes.py) checks the
   code as it checks every code, plus the PKCE verifier, and asks
   :meth:`SignInFlow.token_answer` for the body. The body holds a Graph delegated access
   token, an ID token signed like every sandbox token (``aud`` the client, ``iss`` the
   tenant's v2 issuer, ``nonce`` verbatim, ``tid``, ``oid``, pairwise ``sub``,
   ``preferred_username``, ``wids``; in the partner's own tenant also ``groups``, and
   ``roles`` when the person holds app roles of the app;
   ``acrs`` when the sign-in satisfied an authentication context; never ``amr``, which
   Microsoft puts in v1.0 tokens only), a refresh token when ``offline_access`` was asked
   and ``client_info`` when the token request asks for it.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import secrets
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from .auth_context import SecondFactor, requested_contexts
from .codes import AuthorizationCodes, CodeGrant
from .consent import ConsentFlow
from .directory import Tenant, User
from .identity import TENANT_PATH, TOKEN_LIFETIME, Identity, directory_roles
from .state import Sandbox
from .web import Request, Response, html_response, redirect

if TYPE_CHECKING:
    from .routing import Router

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
GRAPH_PREFIX = "https://graph.microsoft.com/"
OPENID_SCOPES = ("openid", "profile", "email")  # the ones a Graph token's scp repeats
PKCE_METHODS = {"S256", "plain"}
# The form_post answer submits its form at once, as Microsoft's page does.
FORM_POST_SCRIPT = "document.getElementById('form-post').submit()"
RESPONSE_MODES = {"query", "fragment", "form_post"}


def client_info(tenant: Tenant, user: User) -> str:
    """MSAL's ``client_info``: base64url JSON naming the account's home object and tenant."""
    raw = json.dumps({"uid": user.object_id, "utid": tenant.tenant_id}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def pairwise_subject(client_id: str, user: User) -> str:
    """The v2 ``sub``: stable for one user and one app, and different from ``oid``."""
    digest = hashlib.sha256(f"{client_id}:{user.object_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def granted_scopes(asked: str) -> list[str]:
    """The scopes of the Graph token: the OpenID ones asked, ``User.Read`` and any other
    Graph permission asked (bare, like ``Mail.Read``, or as a Graph URI)."""
    words = asked.split()
    lowered = {w.lower() for w in words}
    granted = [s for s in OPENID_SCOPES if s in lowered]
    graph = ["User.Read"]
    for word in words:
        name = word[len(GRAPH_PREFIX) :] if word.lower().startswith(GRAPH_PREFIX) else word
        if "/" in name or ":" in name or "." not in name or name == ".default":
            continue  # another resource's scope, or a word like openid or offline_access
        if name.lower() not in {g.lower() for g in graph}:
            graph.append(name)
    return granted + graph


class SignInFlow:
    """The authorize endpoint of the sign-in, and the answers for its codes."""

    def __init__(
        self,
        sandbox: Sandbox,
        identity: Identity,
        codes: AuthorizationCodes,
        consent: ConsentFlow,
    ) -> None:
        self.sandbox = sandbox
        self.identity = identity
        self.codes = codes
        self.consent = consent
        self.second_factor = SecondFactor(consent, self._issue, self._error)
        consent.finishers["signin"] = self.finish
        codes.answers["signin"] = self.token_answer

    def register(self, router: Router) -> None:
        path = rf"/{TENANT_PATH}/oauth2/v2\.0/authorize"
        router.route("GET", path, self.authorize, browser=True)  # a browser's page
        self.second_factor.register(router)

    # ---- authorize ------------------------------------------------------------------

    def authorize(self, request: Request, segment: str) -> Response:
        """``GET /{tenant|organizations|common}/oauth2/v2.0/authorize``."""
        ctx = self.consent.check_request(request, segment, "signin")
        if isinstance(ctx, Response):
            return ctx
        challenge = request.arg("code_challenge")
        method = request.arg("code_challenge_method")
        if challenge and not method:
            method = "plain"  # RFC 7636's default
        mode = request.arg("response_mode") or "query"
        ctx.update(
            scope=request.arg("scope") or "",
            nonce=request.arg("nonce"),
            code_challenge=challenge or None,
            code_challenge_method=method if challenge else None,
            response_mode=mode if mode in RESPONSE_MODES else "query",
            client_info=request.arg("client_info") == "1",
            login_hint=request.arg("login_hint"),
            acrs=requested_contexts(request.arg("claims")),
        )
        refusal = self._refusal(request, mode, challenge, method)
        if refusal is not None:
            return self._error(ctx, *refusal)
        return self.consent.sign_in_page(ctx)

    @staticmethod
    def _refusal(
        request: Request, mode: str, challenge: str | None, method: str | None
    ) -> tuple[str, str] | None:
        """(error, description) for a request the sandbox sends back, else None."""
        response_type = request.arg("response_type") or ""
        if response_type != "code":
            return (
                "unsupported_response_type",
                f"AADSTS700054: response_type '{response_type}' is not enabled for the "
                "application. The sandbox's sign-in answers response_type=code only.",
            )
        if mode not in RESPONSE_MODES:
            return (
                "invalid_request",
                f"AADSTS90100: response_mode parameter is empty or not valid: '{mode}'.",
            )
        if "openid" not in (request.arg("scope") or "").lower().split():
            return (
                "invalid_request",
                "AADSTS900144: The request body must contain the following parameter: "
                "'scope' with 'openid'. This sign-in is OpenID Connect and issues an ID token.",
            )
        if method is not None and method not in PKCE_METHODS:
            return ("invalid_request", "AADSTS50149: Invalid Code_Challenge_method parameter.")
        if challenge is not None and not 43 <= len(challenge) <= 128:
            return ("invalid_request", "AADSTS501491: Invalid size of Code_Challenge parameter.")
        if request.arg("prompt") == "none":
            return (
                "login_required",
                "AADSTS50058: A silent sign-in request was sent but no user is signed in.",
            )
        return None

    # ---- back to the application --------------------------------------------------

    def _deliver(self, ctx: dict[str, Any], params: list[tuple[str, str]]) -> Response:
        """Send ``params`` to the reply URL as ``response_mode`` says."""
        uri = str(ctx["redirect_uri"])
        mode = ctx.get("response_mode", "query")
        if mode == "fragment":
            return redirect(f"{uri}#{urlencode(params)}")
        if mode == "form_post":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in params
            )
            body = (
                f'<form method="post" action="{html.escape(uri)}" id="form-post">{fields}'
                '<noscript><button type="submit">Continue</button></noscript></form>'
            )
            return html_response(200, "Working...", body, script=FORM_POST_SCRIPT)
        separator = "&" if "?" in uri else "?"
        return redirect(uri + separator + urlencode(params))

    def _error(self, ctx: dict[str, Any], error: str, description: str) -> Response:
        code = description.split(":", 1)[0].removeprefix("AADSTS")
        stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
        trace = f"Trace ID: {uuid.uuid4()}\r\nCorrelation ID: {uuid.uuid4()}"
        params = [
            ("error", error),
            ("error_description", f"{description}\r\n{trace}\r\nTimestamp: {stamp}"),
            ("error_uri", f"{self.sandbox.origin}/error?code={code}"),
        ]
        if ctx.get("state") is not None:
            params.append(("state", str(ctx["state"])))
        return self._deliver(ctx, params)

    def finish(self, ctx: dict[str, Any], tenant: Tenant, user: User) -> Response:
        """The account is known and belongs here: a code, straight back to the app, or
        first the second factor when the app asked for an authentication context."""
        if ctx.get("acrs"):
            return self.second_factor.challenge(ctx, tenant, user)
        return self._issue(ctx, tenant, user, [])

    def _issue(self, ctx: dict[str, Any], tenant: Tenant, user: User, acrs: list[str]) -> Response:
        """The code, carrying the authentication contexts the sign-in satisfied."""
        code = self.codes.issue_code(
            client_id=str(ctx["client_id"]),
            redirect_uri=str(ctx["redirect_uri"]),
            tenant=tenant,
            user=user,
            flow="signin",
            scope=str(ctx.get("scope") or ""),
            nonce=ctx.get("nonce"),
            code_challenge=ctx.get("code_challenge"),
            code_challenge_method=ctx.get("code_challenge_method"),
            acrs=list(acrs),
        )
        params = [("code", code)]
        if ctx.get("client_info"):
            params.append(("client_info", client_info(tenant, user)))
        if ctx.get("state") is not None:
            params.append(("state", str(ctx["state"])))
        params.append(("session_state", str(uuid.uuid4())))
        return self._deliver(ctx, params)

    # ---- token endpoint -------------------------------------------------------------

    def id_token_claims(self, grant: CodeGrant) -> dict[str, Any]:
        """The v2 ID token: who signed in, in which tenant, with which directory roles."""
        tenant, user = grant.tenant, grant.user
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": grant.client_id,
            "iss": f"{self.sandbox.origin}/{tenant.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME,
            "name": user.display_name,
            "oid": user.object_id,
            "preferred_username": user.upn,
            "sub": pairwise_subject(grant.client_id, user),
            "tid": tenant.tenant_id,
            "ver": "2.0",
            "wids": directory_roles(user),
        }
        if grant.nonce is not None:
            claims["nonce"] = grant.nonce
        # No ``amr``: Microsoft's v2.0 ID tokens do not carry it. A sign-in that satisfied
        # the authentication contexts the app asked for names them.
        if grant.acrs:
            claims["acrs"] = list(grant.acrs)
        if tenant.groups:
            # The partner's own tenant: its app registration emits security groups.
            claims["groups"] = tenant.groups_of(user)
        if user.app_roles:
            # Only when assigned, as Entra does: the values of the app's roles.
            claims["roles"] = list(user.app_roles)
        return claims

    def token_answer(self, grant: CodeGrant, form: dict[str, str], appidacr: str) -> dict[str, Any]:
        """The token endpoint's body for a redeemed sign-in code."""
        scopes = " ".join(granted_scopes(grant.scope))
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": scopes,
            "expires_in": TOKEN_LIFETIME - 1,
            "ext_expires_in": TOKEN_LIFETIME - 1,
            "access_token": self.identity.delegated_token(
                grant.tenant, grant.user, GRAPH_APP_ID, appidacr=appidacr, scp=scopes
            ),
        }
        if "offline_access" in grant.scope.lower().split():
            body["refresh_token"] = "1.A" + secrets.token_urlsafe(160)
        body["id_token"] = self.identity.sign(self.id_token_claims(grant))
        if form.get("client_info") == "1":
            body["client_info"] = client_info(grant.tenant, grant.user)
        return body
