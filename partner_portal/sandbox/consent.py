"""Admin consent as a customer's global admin sees it: the v2 ``adminconsent`` endpoint
and the v1 partner link (``/common/oauth2/authorize?prompt=consent``), each with a
sign-in page, a permissions page and a redirect back with Microsoft's parameters.

Errors Microsoft shows on its own pages (unknown app AADSTS700016, unregistered reply
URL AADSTS50011, user from another directory AADSTS50020, non-admin AADSTS90094) are
pages here too, never redirects. The pages are plain HTML forms with labelled inputs,
so browser tests and ``requests`` can drive them alike. Form state travels in a signed
hidden field, so the flow needs no server-side session.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import html
import json
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from .catalog import PERMISSION_TEXT
from .codes import AuthorizationCodes
from .directory import APP_DISPLAY_NAME, Tenant, User
from .identity import MULTI_TENANT_SEGMENTS, TENANT_PATH
from .state import Sandbox
from .web import Request, Response, html_response, redirect

if TYPE_CHECKING:
    from .routing import Router

DEFAULT_SCOPE = (
    "https://api.securitycenter.microsoft.com/.default https://api.security.microsoft.com/.default"
)
_LOOPBACK_HOSTS = {"localhost", "127.0.0.1"}
# Ends a sign-in at /common/login for a flow that is not consent: (ctx, tenant, user).
Finisher = Callable[[dict[str, Any], Tenant, User], Response]


def redirect_uri_matches(requested: str, registered: str) -> bool:
    """Exact, case-sensitive match, except that the port of an ``http://localhost`` or
    ``http://127.0.0.1`` URI is ignored, as Entra ID does for native and test apps."""
    if requested == registered:
        return True
    try:
        want, have = urlsplit(requested), urlsplit(registered)
        _ports = (want.port, have.port)  # reading them rejects malformed ports
    except ValueError:
        return False
    if want.scheme != "http" or have.scheme != "http":
        return False
    # urlsplit lower-cases .hostname; the match must stay case-sensitive.
    want_host, have_host = _raw_host(want.netloc), _raw_host(have.netloc)
    if want_host not in _LOOPBACK_HOSTS or want_host != have_host:
        return False
    return (want.path, want.query, want.fragment) == (have.path, have.query, have.fragment)


def _raw_host(netloc: str) -> str:
    host = netloc.rpartition("@")[2]
    return host.rpartition(":")[0] if ":" in host else host


def _trace() -> str:
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")
    return f"\r\nTrace ID: {uuid.uuid4()}\r\nCorrelation ID: {uuid.uuid4()}\r\nTimestamp: {stamp}"


class ConsentFlow:
    """The pages and redirects of both consent flows."""

    def __init__(self, sandbox: Sandbox, codes: AuthorizationCodes) -> None:
        self.sandbox = sandbox
        self.codes = codes
        # Flows whose sign-in skips the permissions page, by ctx["flow"] (see signin.py).
        self.finishers: dict[str, Finisher] = {}

    def register(self, router: Router) -> None:
        # Pages a person's browser visits: also on the plain-HTTP loopback listener.
        t = TENANT_PATH
        router.route("GET", rf"/{t}/v2\.0/adminconsent", self.admin_consent_v2, browser=True)
        router.route("GET", rf"/{t}/oauth2/authorize", self.authorize_v1, browser=True)
        router.route("POST", r"/common/login", self.login, browser=True)
        router.route("POST", r"/common/consent", self.decide, browser=True)

    # ---- signed context -----------------------------------------------------------

    def pack(self, ctx: dict[str, Any]) -> str:
        raw = base64.urlsafe_b64encode(json.dumps(ctx, sort_keys=True).encode()).decode()
        mac = hmac.new(self.sandbox.form_key, raw.encode(), hashlib.sha256).hexdigest()
        return f"{raw}.{mac}"

    def unpack(self, packed: str | None) -> dict[str, Any] | None:
        if not packed or "." not in packed:
            return None
        raw, _, mac = packed.rpartition(".")
        expected = hmac.new(self.sandbox.form_key, raw.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(mac, expected):
            return None
        try:
            value = json.loads(base64.urlsafe_b64decode(raw.encode()))
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    # ---- pages --------------------------------------------------------------------

    def error_page(self, code: int, message: str) -> Response:
        body = (
            "<h1>Sorry, but we're having trouble signing you in.</h1>"
            f'<p class="error" id="error-code">AADSTS{code}</p>'
            f'<p id="error-message">AADSTS{code}: {html.escape(message)}</p>'
            f'<p class="muted">Request Id: {uuid.uuid4()}<br>Correlation Id: {uuid.uuid4()}<br>'
            f"Timestamp: {dt.datetime.now(dt.UTC).strftime('%Y-%m-%dT%H:%M:%SZ')}</p>"
        )
        return html_response(400, f"AADSTS{code}", body)

    def _candidates(self, ctx: dict[str, Any]) -> list[tuple[Tenant, User]]:
        # Consent offers every account, also on a tenant-specific path, so that signing in
        # with the wrong directory's account (AADSTS50020) can be tried too. The OpenID
        # Connect sign-in on a tenant path offers that tenant's accounts: a customer's, or
        # the partner's own for its staff (the wrong directory's account can still be typed).
        tenants = list(self.sandbox.tenants.values())
        path = str(ctx.get("tenant_path"))
        if ctx.get("flow") == "signin" and path not in MULTI_TENANT_SEGMENTS:
            tenants = [t for t in self.sandbox.all_tenants() if t.tenant_id == path]
        return [(t, u) for t in tenants for u in t.users]

    def sign_in_page(self, ctx: dict[str, Any], error: str | None = None) -> Response:
        """The account picker; ``ctx`` travels signed in every form of it."""
        packed = html.escape(self.pack(ctx))
        hint = html.escape(str(ctx.get("login_hint") or ""))
        picks = []
        for n, (tenant, user) in enumerate(self._candidates(ctx)):
            role = "Global administrator" if user.admin else "User"
            if tenant.groups:
                groups = [g.display_name for g in tenant.groups if user.object_id in g.members]
                factor = "second factor" if user.mfa else "no second factor"
                role += f" ({', '.join(groups) or 'no groups'}; {factor})"
            picks.append(
                '<li><form method="post" action="/common/login">'
                f'<input type="hidden" name="ctx" value="{packed}">'
                f'<input type="hidden" name="login" value="{html.escape(user.upn)}">'
                f'<button type="submit" id="pick-{n}" data-upn="{html.escape(user.upn)}">'
                f"{html.escape(user.upn)}</button> "
                f'<span class="muted">{role}, {html.escape(tenant.name)}</span></form></li>'
            )
        message = f'<p class="error" id="signin-error">{html.escape(error)}</p>' if error else ""
        body = (
            f"<h1>Sign in</h1><p>to continue to <b>{html.escape(APP_DISPLAY_NAME)}</b></p>"
            f"{message}"
            '<form method="post" action="/common/login" id="signin-form">'
            f'<input type="hidden" name="ctx" value="{packed}">'
            '<label for="username">Email or username</label>'
            f'<input type="text" id="username" name="login" value="{hint}" '
            'autocomplete="username">'
            '<button type="submit" id="signin">Next</button></form>'
            '<h2>Pick an account</h2><ul id="accounts">' + "".join(picks) + "</ul>"
            '<p class="muted">This is the Partner Portal sandbox: no password is asked.</p>'
        )
        return html_response(200, "Sign in to your account", body)

    def _consent_page(self, ctx: dict[str, Any], tenant: Tenant, user: User) -> Response:
        packed = html.escape(self.pack(ctx))
        items = []
        for role in tenant.requested_roles():
            api, text = PERMISSION_TEXT.get(role, ("", role))
            items.append(
                f'<li data-permission="{html.escape(role)}">{html.escape(text)} '
                f'<span class="muted">({html.escape(role)}, {html.escape(api)})</span></li>'
            )
        body = (
            "<h1>Permissions requested</h1><p><b>Accept for your organization</b></p>"
            f'<p><b id="app-name">{html.escape(APP_DISPLAY_NAME)}</b> '
            f'<span class="muted">(app ID {html.escape(self.sandbox.client_id)})</span></p>'
            f'<p id="signed-in-as">Signed in as {html.escape(user.upn)} '
            f"({html.escape(tenant.name)})</p>"
            '<p>This app would like to:</p><ul id="permissions">' + "".join(items) + "</ul>"
            "<p>If you accept, this app will get access to the specified resources for all "
            "users in your organization. No one else will be prompted to review these "
            "permissions.</p>"
            '<form method="post" action="/common/consent" id="consent-form">'
            f'<input type="hidden" name="ctx" value="{packed}">'
            '<button type="submit" name="decision" value="cancel" id="cancel">Cancel</button>'
            '<button type="submit" name="decision" value="accept" id="accept">Accept</button>'
            "</form>"
        )
        return html_response(200, "Permissions requested", body)

    def _need_admin_page(self, ctx: dict[str, Any], user: User) -> Response:
        packed = html.escape(self.pack(ctx))
        retry = self.pack({k: v for k, v in ctx.items() if k not in {"user", "tenant"}})
        body = (
            "<h1>Need admin approval</h1>"
            '<p class="error" id="error-code">AADSTS90094</p>'
            f'<p id="error-message">AADSTS90094: {html.escape(APP_DISPLAY_NAME)} needs permission '
            "to access resources in your organization that only an admin can grant. Please ask "
            f"an admin to grant permission to this app before you can use it. Signed in as "
            f"{html.escape(user.upn)}.</p>"
            '<form method="post" action="/common/login">'
            f'<input type="hidden" name="ctx" value="{html.escape(retry)}">'
            '<button type="submit" id="use-admin">Have an admin account? Sign in with that '
            "account</button></form>"
            '<form method="post" action="/common/consent">'
            f'<input type="hidden" name="ctx" value="{packed}">'
            '<button type="submit" name="decision" value="cancel" id="return">Return to the '
            "application without granting consent</button></form>"
        )
        return html_response(200, "Need admin approval", body)

    # ---- redirects ----------------------------------------------------------------

    @staticmethod
    def _redirect(ctx: dict[str, Any], params: list[tuple[str, str]]) -> Response:
        uri = str(ctx["redirect_uri"])
        separator = "&" if "?" in uri else "?"
        return redirect(uri + separator + urlencode(params))

    def _error_redirect(self, ctx: dict[str, Any], error: str, description: str) -> Response:
        params = [("error", error), ("error_description", description + _trace())]
        params.append(("admin_consent", "True"))
        if ctx.get("state") is not None:
            params.append(("state", str(ctx["state"])))
        return self._redirect(ctx, params)

    # ---- entry points -------------------------------------------------------------

    def check_request(self, request: Request, segment: str, flow: str) -> dict[str, Any] | Response:
        """The start of the sign-in context, or the error page Microsoft shows for an
        unknown tenant (90002), app (700016) or reply URL (50011)."""
        tenant_path = segment.lower()
        if tenant_path not in MULTI_TENANT_SEGMENTS:
            tenant = self.sandbox.resolve(segment)
            if tenant is None:
                return self.error_page(
                    90002,
                    f"Tenant '{segment}' not found. Check to make sure you have the "
                    "correct tenant ID and are signing into the correct cloud.",
                )
            tenant_path = tenant.tenant_id
        client_id = request.arg("client_id")
        if not client_id:
            return self.error_page(
                900144, "The request body must contain the following parameter: 'client_id'."
            )
        if client_id != self.sandbox.client_id:
            return self.error_page(
                700016,
                f"Application with identifier '{client_id}' was not found in the directory "
                "'Microsoft'. This can happen if the application has not been installed by the "
                "administrator of the tenant or consented to by any user in the tenant. You may "
                "have sent your authentication request to the wrong tenant.",
            )
        redirect_uri = request.arg("redirect_uri")
        if redirect_uri is None and flow == "v1":
            redirect_uri = self.sandbox.redirect_uris[0]  # v1 falls back to the app's first
        if not redirect_uri or not any(
            redirect_uri_matches(redirect_uri, r) for r in self.sandbox.redirect_uris
        ):
            return self.error_page(
                50011,
                f"The redirect URI '{redirect_uri or ''}' specified in the request does not match "
                f"the redirect URIs configured for the application '{client_id}'. Make sure the "
                "redirect URI sent in the request matches one added to your application in the "
                "Azure portal. Navigate to https://aka.ms/redirectUriMismatchError to learn more "
                "about how to fix this.",
            )
        return {
            "flow": flow,
            "tenant_path": tenant_path,
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": request.arg("state"),
        }

    def _start(self, request: Request, segment: str, flow: str) -> Response:
        ctx = self.check_request(request, segment, flow)
        if isinstance(ctx, Response):
            return ctx
        if flow == "v2":
            scope = request.arg("scope") or DEFAULT_SCOPE
            ctx["scope"] = scope
            bad = [
                s
                for s in scope.split()
                if s.lower() not in {"openid", "profile", "offline_access"}
                and not s.endswith("/.default")
            ]
            if bad:
                return self._error_redirect(
                    ctx,
                    "invalid_request",
                    f"AADSTS70011: The provided value for the input parameter 'scope' is not "
                    f"valid. The scope {bad[0]} is not valid. The admin consent endpoint only "
                    "accepts '{resource}/.default' scopes.",
                )
        else:
            if request.arg("response_type") != "code":
                return self._error_redirect(
                    ctx,
                    "unsupported_response_type",
                    "AADSTS70005: response_type 'code' is required by this sandbox's consent link.",
                )
        return self.sign_in_page(ctx)

    def admin_consent_v2(self, request: Request, segment: str) -> Response:
        """``GET /{tenant|organizations}/v2.0/adminconsent``."""
        return self._start(request, segment, "v2")

    def authorize_v1(self, request: Request, segment: str) -> Response:
        """``GET /{tenant|common}/oauth2/authorize`` (the partner consent link)."""
        return self._start(request, segment, "v1")

    def login(self, request: Request) -> Response:
        """``POST /common/login``: the account was entered or picked."""
        form = request.form()
        ctx = self.unpack(form.get("ctx"))
        if ctx is None:
            return self.error_page(
                90014, "The sign-in request is missing or was altered; start again."
            )
        upn = (form.get("login") or "").strip()
        if not upn:
            return self.sign_in_page(ctx)
        found: tuple[Tenant, User] | None = None
        for tenant in self.sandbox.all_tenants():
            for user in tenant.users:
                if user.upn.lower() == upn.lower():
                    found = (tenant, user)
        if found is None:
            return self.sign_in_page(
                ctx,
                f"AADSTS50034: The user account {upn} does not exist in this directory. To sign "
                "into this application, the account must be added to the directory.",
            )
        tenant, user = found
        path = str(ctx["tenant_path"])
        if path not in MULTI_TENANT_SEGMENTS and path != tenant.tenant_id:
            target = self.sandbox.resolve(path)
            return self.error_page(
                50020,
                f"User account '{user.upn}' from identity provider "
                f"'https://sts.windows.net/{tenant.tenant_id}/' does not exist in tenant "
                f"'{target.name if target else path}' and cannot access the application "
                f"'{self.sandbox.client_id}'({APP_DISPLAY_NAME}) in that tenant. The account needs "
                "to be added as an external user in the tenant first. Sign out and sign in again "
                "with a different Azure Active Directory user account.",
            )
        finish = self.finishers.get(str(ctx["flow"]))
        if finish is not None:
            return finish(ctx, tenant, user)
        ctx = {**ctx, "user": user.upn, "tenant": tenant.tenant_id}
        if not user.admin:
            return self._need_admin_page(ctx, user)
        return self._consent_page(ctx, tenant, user)

    def decide(self, request: Request) -> Response:
        """``POST /common/consent``: Accept or Cancel."""
        form = request.form()
        ctx = self.unpack(form.get("ctx"))
        if ctx is None or "tenant" not in ctx:
            return self.error_page(
                90014, "The consent request is missing or was altered; start again."
            )
        if form.get("decision") != "accept":
            return self._error_redirect(
                ctx, "access_denied", "AADSTS65004: User declined to consent to access the app."
            )
        tenant = self.sandbox.resolve(str(ctx["tenant"]))
        user = next((u for u in tenant.users if u.upn == ctx["user"]), None) if tenant else None
        if tenant is None or user is None or not user.admin:
            return self.error_page(90094, "Admin consent is required for this app.")
        self.sandbox.grant(tenant)
        state = ctx.get("state")
        if ctx["flow"] == "v2":
            params = [
                ("admin_consent", "True"),
                ("tenant", tenant.tenant_id),
                ("scope", str(ctx.get("scope") or DEFAULT_SCOPE)),
            ]
            if state is not None:
                params.append(("state", str(state)))
            return self._redirect(ctx, params)
        code = self.codes.issue_code(
            client_id=str(ctx["client_id"]),
            redirect_uri=str(ctx["redirect_uri"]),
            tenant=tenant,
            user=user,
        )
        params = [("code", code), ("session_state", str(uuid.uuid4()))]
        if state is not None:
            params.append(("state", str(state)))
        params.append(("admin_consent", "True"))
        return self._redirect(ctx, params)
