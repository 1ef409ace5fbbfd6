"""Conditional Access authentication context, as the sandbox plays it for the sign-in.

An application that wants a stronger sign-in for itself asks Entra ID for an
*authentication context* in the authorization request, with the OpenID Connect
``claims`` parameter::

    claims={"id_token":{"acrs":{"essential":true,"value":"c1"}}}

The partner's admin defines the context IDs (``c1`` … ``c99``) in Entra and targets
them with a Conditional Access policy, here: one that requires a second factor. Entra
then runs that policy during the sign-in, and the ID token names the contexts it
satisfied in ``acrs`` (``["c1"]``). Without the request there is no ``acrs``.

The sandbox plays it so: when the authorize request asks for contexts as essential
(:func:`requested_contexts`), picking the account leads to a second step
(:meth:`SecondFactor.challenge`) instead of straight back to the app. Staff of the
partner's tenant with a second factor (``User.mfa``) see the code their authenticator
app would show and type it in; ``POST /common/mfa`` (:meth:`SecondFactor.answer`)
checks it and only then hands over to the sign-in's code, which carries the asked
contexts into the ID token's ``acrs``. A wrong code, the "I can't use my authenticator
app" way out, or an account without a second factor ends the sign-in with an error at
the reply URL (AADSTS500121, AADSTS50079), never with a token.
"""

from __future__ import annotations

import hmac
import html
import json
import re
import secrets
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .consent import ConsentFlow
from .directory import Tenant, User
from .web import Request, Response, html_response

if TYPE_CHECKING:
    from .routing import Router

#: The authentication context IDs an admin can define in Entra.
CONTEXT_ID = re.compile(r"c(?:[1-9]|[1-9][0-9])")
FAILED = (
    "access_denied",
    "AADSTS500121: Authentication failed during strong authentication request.",
)
NOT_ENROLLED = (
    "interaction_required",
    "AADSTS50079: Due to a configuration change made by your administrator, or because you "
    "moved to a new location, you must enroll in multi-factor authentication to access "
    "this application.",
)

# Issues the sign-in's code: (ctx, tenant, user, satisfied contexts) → the redirect.
Issue = Callable[[dict[str, Any], Tenant, User, list[str]], Response]
# Sends an error to the reply URL: (ctx, error, description) → the redirect.
Refuse = Callable[[dict[str, Any], str, str], Response]


def requested_contexts(raw: str | None) -> list[str]:
    """The context IDs the ``claims`` parameter asks of the ID token as essential.

    Entra reads ``value`` (one ID) and ``values`` (a list). A parameter that is not
    JSON, asks nothing essential of ``acrs``, or names no valid ID asks for nothing.
    """
    try:
        claims = json.loads(raw) if raw else None
    except ValueError:
        return []
    id_token = claims.get("id_token") if isinstance(claims, dict) else None
    acrs = id_token.get("acrs") if isinstance(id_token, dict) else None
    if not isinstance(acrs, dict) or acrs.get("essential") is not True:
        return []
    values = acrs.get("values")
    asked = [acrs.get("value"), *(values if isinstance(values, list) else [])]
    wanted: list[str] = []
    for value in asked:
        if isinstance(value, str) and CONTEXT_ID.fullmatch(value) and value not in wanted:
            wanted.append(value)
    return wanted


class SecondFactor:
    """The sign-in's second step, asked when the app asked for an authentication context."""

    def __init__(self, consent: ConsentFlow, issue: Issue, refuse: Refuse) -> None:
        self.consent = consent
        self.issue = issue
        self.refuse = refuse

    def register(self, router: Router) -> None:
        router.route("POST", r"/common/mfa", self.answer, browser=True)

    def challenge(self, ctx: dict[str, Any], tenant: Tenant, user: User) -> Response:
        """The page of the second step for ``user``, who picked their account."""
        if not user.mfa:
            # Entra would ask them to register a method first; the sandbox has none to offer.
            return self.refuse(ctx, *NOT_ENROLLED)
        code = f"{secrets.randbelow(1_000_000):06d}"
        packed = html.escape(
            self.consent.pack(
                {**ctx, "mfa_tenant": tenant.tenant_id, "mfa_user": user.upn, "mfa_code": code}
            )
        )
        body = (
            "<h1>Verify your identity</h1>"
            f"<p>{html.escape(user.upn)}</p>"
            "<p>Enter the code displayed in the Microsoft Authenticator app on your device.</p>"
            f'<p class="muted">Sandbox: the app shows <b id="mfa-code">{code}</b>.</p>'
            '<form method="post" action="/common/mfa" id="mfa-form">'
            f'<input type="hidden" name="ctx" value="{packed}">'
            '<label for="otc">Code</label>'
            '<input type="text" id="otc" name="otc" inputmode="numeric" '
            'autocomplete="one-time-code">'
            '<button type="submit" name="decision" value="verify" id="verify">Verify</button>'
            "</form>"
            '<form method="post" action="/common/mfa">'
            f'<input type="hidden" name="ctx" value="{packed}">'
            '<button type="submit" name="decision" value="skip" id="skip">'
            "I can't use my Microsoft Authenticator app right now</button></form>"
        )
        return html_response(200, "Verify your identity", body)

    def answer(self, request: Request) -> Response:
        """``POST /common/mfa``: the code typed, or the way out taken."""
        form = request.form()
        ctx = self.consent.unpack(form.get("ctx"))
        if ctx is None or "mfa_code" not in ctx:
            return self.consent.error_page(
                90014, "The sign-in request is missing or was altered; start again."
            )
        tenant = self.consent.sandbox.resolve(str(ctx["mfa_tenant"]))
        user = tenant.user(str(ctx["mfa_user"])) if tenant is not None else None
        clean = {k: v for k, v in ctx.items() if not k.startswith("mfa_")}
        typed = (form.get("otc") or "").strip()
        if (
            tenant is None
            or user is None
            or not user.mfa
            or form.get("decision") != "verify"
            or not hmac.compare_digest(typed.encode(), str(ctx["mfa_code"]).encode())
        ):
            return self.refuse(clean, *FAILED)
        return self.issue(clean, tenant, user, list(clean.get("acrs") or []))
