"""Staff sign in with Microsoft: their accounts in the partner's own Entra ID tenant.

1. ``staff_signin_begin``: the sign-in page's **Sign in with Microsoft** starts an
   OpenID Connect authorization code flow at the partner's tenant, run by MSAL with
   PKCE and a nonce (the consent proof's :class:`AdminSignIn`). With
   STAFF_SIGNIN_AUTH_CONTEXT the request asks for that Conditional Access authentication
   context (the ``claims`` parameter), so Entra enforces the partner's policy for it (a
   second factor). The flow's secrets and the page to go to afterwards (``next``, only a
   path of this site) stay in this browser's session.
2. ``staff_signin_finish``: Microsoft sends the browser back with a code. Redeemed with
   the kept flow, the ID token is checked against the partner tenant's keys (signature,
   issuer, audience, expiry, nonce) and must name the partner tenant (``tid``). With
   STAFF_SIGNIN_AUTH_CONTEXT its ``acrs`` must name that context: Entra says so only
   when the policy was met (``amr`` is no proof: v2.0 ID tokens lack it). The person's
   groups (the
   ``groups`` claim; Graph when the token had too many to list) and app roles give the
   portal roles (``staff_roles.py``); no role, no entry.
3. The portal account is the one linked to that tenant and object ID
   (:class:`StaffIdentity`), made at the first sign-in (without a password: only
   Microsoft signs it in); never matched by name or e-mail. Its roles follow the groups
   at every sign-in, and at every request after it (``staff_membership.py``); what app
   roles give holds until the ID token that carried them expires (its ``exp``, kept in
   the session), then only a new sign-in renews it.

Every outcome is an audit event: ``staff.signed_in``, ``person.created``,
``person.roles_changed``, ``staff.sign_in_refused`` (why, in words).
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, login
from django.contrib.auth.models import User
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme

from partner_portal.core import second_factor
from partner_portal.core.http import client_ip
from partner_portal.defender import (
    DefenderError,
    IdentityThrottled,
    InvalidToken,
    SignedInUser,
    SignInMismatch,
    TokenError,
    TransientIdentityError,
    WrongTenant,
)
from tenants import staff_directory
from tenants.audit import audit_record
from tenants.models import StaffIdentity
from tenants.people import CREATED
from tenants.staff_roles import Grant, apply_grant, grant_for, mapped_group_ids, parse_group_map

logger = logging.getLogger(__name__)

FLOW_KEY = "_staff_signin_flow"
#: In a session signed in with Microsoft: who (``tid``, ``oid``), the mapped groups last
#: confirmed (``groups``) and when (``checked``, ``confirmed``), the app roles of the
#: sign-in (``app_roles``) and until when they hold (``app_roles_until``: the ID token's
#: ``exp``).
SESSION_KEY = "_staff_signin"
SIGN_IN_SECONDS = 600
SIGNED_IN = "staff.signed_in"
REFUSED = "staff.sign_in_refused"

#: Entra ID's errors for a second factor that was asked and not given: failed or given up
#: (500121), required (50074, 50076) or not registered (50072, 50079).
SECOND_FACTOR_ERRORS = ("AADSTS500121", "AADSTS50074", "AADSTS50076", "AADSTS50072", "AADSTS50079")

#: Why a staff sign-in was refused, for the person (the page) and staff (the audit log).
REFUSALS: dict[str, tuple[int, str]] = {
    "not_configured": (404, "Signing in with Microsoft is not set up on this portal."),
    "no_flow": (
        400,
        "This sign-in was not started in this browser, or it took longer than ten minutes. "
        "Start again from the sign-in page.",
    ),
    "mismatch": (400, "The answer from Microsoft does not belong to this sign-in. Start again."),
    "cancelled": (400, "Microsoft did not sign you in. Start again from the sign-in page."),
    "second_factor_failed": (
        403,
        "Microsoft did not sign you in: the second factor your organisation asks for was not "
        "completed, or your account has none set up. Sign in again and complete it, or ask "
        "your Microsoft Entra admin to help you set one up.",
    ),
    "code_rejected": (400, "Microsoft refused to finish this sign-in. Start again."),
    "token_invalid": (
        400,
        "Microsoft's answer did not pass the portal's checks (signature, issuer, audience, "
        "expiry or nonce). Nobody was signed in.",
    ),
    "wrong_tenant": (
        403,
        "You signed in with an account of another organisation. Use your account in the "
        "partner's own directory.",
    ),
    "no_auth_context": (
        403,
        "This portal needs a sign-in that meets your organisation's stronger sign-in policy "
        "(such as a second factor), and Microsoft's answer does not say yours did. Sign in "
        "again and complete every step Microsoft asks for.",
    ),
    "no_role": (
        403,
        "Your Microsoft account is in none of the groups that give access to this portal, "
        "and holds no app role that does. Ask a portal admin to add you to one.",
    ),
    "deactivated": (403, "Your portal account is deactivated. Ask a portal admin."),
    "unavailable": (
        503,
        "Microsoft could not be reached to finish signing you in. Try again in a minute.",
    ),
}


@dataclass(frozen=True)
class StaffOutcome:
    """What to show: a redirect (to Microsoft, or into the portal) or a refusal."""

    status: int
    redirect_to: str = ""
    reason: str = ""

    @property
    def words(self) -> str:
        return REFUSALS[self.reason][1] if self.reason else ""


def signs_in_with_microsoft(user: User) -> bool:
    """An account made by (and linked to) a Microsoft sign-in takes no password: a
    password set later (a set-password link) would keep it open after its groups go."""
    return StaffIdentity.objects.filter(user_id=user.pk).exists()


def enabled() -> bool:
    return staff_directory.staff_directory() is not None


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    """``candidate`` if it is a path of this site, else the home page."""
    if (
        candidate
        and candidate.startswith("/")
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
    ):
        return candidate
    return "/"


def staff_signin_begin(*, request: HttpRequest, next_url: str | None) -> StaffOutcome:
    """Send the browser to Microsoft's sign-in at the partner's tenant."""
    directory = staff_directory.staff_directory()
    if directory is None:
        return _refuse(request, "not_configured", record=False)
    state = secrets.token_urlsafe(24)
    try:
        started = staff_directory.staff_sign_in(directory).begin(
            tenant_id=directory.tenant_id,
            redirect_uri=staff_directory.staff_redirect_uri(),
            state=state,
            auth_context=settings.STAFF_SIGNIN_AUTH_CONTEXT,
        )
    except DefenderError:
        return _refuse(request, "unavailable", record=False)
    request.session[FLOW_KEY] = {
        "flow": dict(started.flow),
        "next": safe_next(request, next_url),
        "t": time.time(),
    }
    return StaffOutcome(302, redirect_to=started.url)


def staff_signin_finish(*, request: HttpRequest, query: dict[str, str]) -> StaffOutcome:
    """Microsoft's answer: check it, find or make the account, sign it in."""
    kept = request.session.pop(FLOW_KEY, None)
    directory = staff_directory.staff_directory()
    if directory is None:
        return _refuse(request, "not_configured", record=False)
    if not isinstance(kept, dict) or time.time() - float(kept.get("t", 0)) > SIGN_IN_SECONDS:
        return _refuse(request, "no_flow")
    if "error" in query:
        said = str(query.get("error_description") or "")
        reason = "second_factor_failed" if said.startswith(SECOND_FACTOR_ERRORS) else "cancelled"
        return _refuse(request, reason, detail=str(query.get("error"))[:64])
    try:
        person = staff_directory.staff_sign_in(directory).finish(
            tenant_id=directory.tenant_id, flow=kept["flow"], response=query
        )
    except SignInMismatch:
        return _refuse(request, "mismatch")
    except WrongTenant:
        return _refuse(request, "wrong_tenant")
    except (IdentityThrottled, TransientIdentityError):
        return _refuse(request, "unavailable", record=False)
    except TokenError:
        return _refuse(request, "code_rejected")
    except (InvalidToken, DefenderError):
        return _refuse(request, "token_invalid")
    context = settings.STAFF_SIGNIN_AUTH_CONTEXT
    if context and not person.satisfied(context):
        return _refuse(request, "no_auth_context", person=person)
    mapping = parse_group_map(directory.groups)
    held = person.groups
    if held is None:
        # Too many groups for the token: Microsoft leaves them for Graph to tell.
        try:
            held = staff_directory.staff_member_groups(
                directory, user_id=person.object_id, group_ids=mapped_group_ids(mapping)
            )
        except DefenderError:
            return _refuse(request, "unavailable", record=False)
    grant = grant_for(mapping, [*held, *person.app_roles])
    if not grant.roles:
        return _refuse(request, "no_role", person=person)
    user = _sign_in(request, person, grant, mapping, sorted(set(held) & set(mapping)))
    if user is None:
        return _refuse(request, "deactivated", person=person)
    return StaffOutcome(302, redirect_to=str(kept.get("next") or "/"))


@transaction.atomic
def _sign_in(
    request: HttpRequest,
    person: SignedInUser,
    grant: Grant,
    mapping: dict[str, Grant],
    groups: list[str],
) -> User | None:
    address = client_ip(request)
    link = (
        StaffIdentity.objects.select_for_update()
        .select_related("user")
        .filter(tenant_id=person.tenant_id, object_id=person.object_id)
        .first()
    )
    if link is None:
        user = _create(person, grant, address)
        link = StaffIdentity.objects.create(
            user=user, tenant_id=person.tenant_id, object_id=person.object_id
        )
    user = link.user
    if not user.is_active:
        return None
    apply_grant(user=user, grant=grant, mapping=mapping, ip_address=address)
    link.last_sign_in = timezone.now()
    link.save(update_fields=["last_sign_in"])
    # The session keeps the portal's own backend, which loads the user at each request.
    login(request, user, backend=settings.AUTHENTICATION_BACKENDS[0])
    context = settings.STAFF_SIGNIN_AUTH_CONTEXT
    second_factor.proven_elsewhere(request)
    now = time.time()
    request.session[SESSION_KEY] = {
        "tid": person.tenant_id,
        "oid": person.object_id,
        "app_roles": sorted(person.app_roles),
        # Microsoft vouches for the app roles only while the ID token is valid.
        "app_roles_until": person.expires_at or now,
        "groups": groups,
        "checked": now,
        "confirmed": now,
    }
    audit_record(
        action=SIGNED_IN,
        customer=None,
        actor=user,
        ip_address=address,
        summary=f"{user.get_username()} signed in with Microsoft"
        + (f" (authentication context {context})" if context else ""),
        details={
            "tenant_id": person.tenant_id,
            "object_id": person.object_id,
            "auth_contexts": sorted(person.auth_contexts),
        },
    )
    return user


def _free_username(wanted: str, object_id: str) -> str:
    model = get_user_model()
    name = (wanted or object_id)[:150]
    if not model.objects.filter(username=name).exists():
        return name
    # Taken by another account (a local one, or someone who had this name before):
    # never theirs to inherit.
    return f"{name[:140]}~{object_id[:8]}"


def _create(person: SignedInUser, grant: Grant, address: str | None) -> User:
    first, _, last = person.display_name.partition(" ")
    user = get_user_model()(
        username=_free_username(person.username, person.object_id),
        first_name=first[:150],
        last_name=last[:150],
        email=person.username if "@" in person.username else "",
    )
    user.set_unusable_password()
    user.save()
    audit_record(
        action=CREATED,
        customer=None,
        actor_label="Microsoft sign-in",
        ip_address=address,
        summary=f"{user.get_username()} was added at their first sign-in with Microsoft",
        details={
            "user_id": user.pk,
            "username": user.get_username(),
            "tenant_id": person.tenant_id,
            "object_id": person.object_id,
            "roles": sorted(r.value for r in grant.roles),
        },
    )
    return user


def _refuse(
    request: HttpRequest,
    reason: str,
    *,
    person: SignedInUser | None = None,
    record: bool = True,
    detail: str = "",
) -> StaffOutcome:
    status, words = REFUSALS[reason]
    logger.warning("Staff sign-in with Microsoft refused: %s", reason)
    if record:
        who = person.username if person else ""
        details: dict[str, Any] = {"reason": reason, "signed_in_as": who}
        if person:
            details["object_id"] = person.object_id
            details["auth_contexts"] = sorted(person.auth_contexts)
            if settings.STAFF_SIGNIN_AUTH_CONTEXT:
                details["auth_context_required"] = settings.STAFF_SIGNIN_AUTH_CONTEXT
        if detail:
            details["error"] = detail
        audit_record(
            action=REFUSED,
            customer=None,
            actor_label="Microsoft sign-in",
            ip_address=client_ip(request),
            summary=f"Sign-in with Microsoft refused{f' for {who}' if who else ''}: {words}",
            details=details,
        )
    return StaffOutcome(status, reason=reason)
