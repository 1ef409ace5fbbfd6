"""A person removed from the groups loses access at the next request, and what app
roles give holds no longer than Microsoft vouches for it.

A session signed in with Microsoft (``staff_signin.py``) carries who signed in, the
mapped groups Graph last confirmed and when, and the app roles of the sign-in with the
time their ID token expires. Before any page that is not public, once
STAFF_SIGNIN_RECHECK_SECONDS (60; 0: every request) have passed since the last check,
or at once when the app roles have just expired, the portal asks Graph again which of
the mapped groups the account is in (``checkMemberGroups``, an app token of the partner
tenant), and:

* in none that gives a role, and no valid app role that does: the session is signed
  out and the page says why (403), and the audit log has ``staff.access_ended``; when
  the request was one a page's script made (the alert list's counts and live updates),
  the reason is left as a message for the next page the person opens, the sign-in form
  (the list opens it by itself once its next request is answered "signed out");
* in some: the person's roles and mapped teams follow them (``person.roles_changed``
  when they changed) and the page opens;
* Graph cannot be asked (Microsoft unreachable, throttled, refusing the app): the
  session goes on while the last confirmation is less than
  STAFF_SIGNIN_OFFLINE_GRACE_SECONDS (300) old, asking again at the next check; after
  that every page answers 503 saying the portal cannot confirm the access, until
  Microsoft answers again. Nobody is signed out by an outage, and nobody keeps access
  for longer than the grace without Microsoft's word.

App roles (the ``roles`` claim) cannot be asked about this way: Graph lists a user's
direct assignments only, not those through a group, and by role ID, not value. So they
count only until the ID token that carried them expires (its ``exp``, an hour by
Microsoft's default). At the first request after that the session's app roles are
dropped (``staff.app_roles_expired``) and the roles become what the groups give, as
above; when the groups give none, the session is signed out and the browser is sent to
sign in with Microsoft again, back to the same page (Entra's single sign-on usually
needs nothing typed), with a message saying why. That sign-in's token renews them. If
Graph cannot be asked at that moment, the groups last confirmed stand in for it within
the grace.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from partner_portal.core.access import access_policy_of
from partner_portal.core.http import client_ip, made_by_a_page
from partner_portal.defender import DefenderError
from tenants import staff_directory
from tenants.audit import audit_record
from tenants.microsoft import PartnerAppNotConfigured
from tenants.staff_roles import (
    Grant,
    apply_grant,
    grant_for,
    mapped_group_ids,
    parse_group_map,
)
from tenants.staff_signin import SESSION_KEY, safe_next

logger = logging.getLogger(__name__)

ACCESS_ENDED = "staff.access_ended"
APP_ROLES_EXPIRED = "staff.app_roles_expired"
REMOVED_WORDS = (
    "You are no longer in any Microsoft Entra group that gives access to this portal, so "
    "you have been signed out. If that is a mistake, ask a portal admin."
)
UNCONFIRMED_WORDS = (
    "The portal cannot confirm with Microsoft that you still have access: Microsoft has not "
    "answered for a while. Try again in a few minutes."
)
SIGN_IN_AGAIN_WORDS = (
    "Your access to this portal comes from a Microsoft Entra app role, which the portal "
    "accepts only while the Microsoft sign-in that carried it is valid (about an hour). "
    "That sign-in has expired, so you were sent to sign in with Microsoft again."
)


def _page(request: HttpRequest, status: int, title: str, text: str) -> HttpResponse:
    context = {"status": status, "title": title, "text": text}
    return render(request, "core/error.html", context, status=status)


def _app_roles_lapsed(mark: dict[str, Any], now: float) -> bool:
    """Whether the session holds app roles whose ID token has expired (a session kept
    from before the expiry was recorded counts as expired)."""
    return bool(mark.get("app_roles")) and now >= float(mark.get("app_roles_until", 0))


def _back_to(request: HttpRequest) -> str:
    """The page to come back to after signing in again: this one, when it can be opened
    again (GET); after a form, the page the form was on; else home."""
    if request.method in {"GET", "HEAD"}:
        return request.get_full_path()
    referer = urlsplit(request.headers.get("Referer", ""))
    if referer.netloc == request.get_host() and referer.path:
        return safe_next(request, referer.path + (f"?{referer.query}" if referer.query else ""))
    return "/"


def recheck(request: HttpRequest) -> HttpResponse | None:
    """The answer that replaces the page when the person lost access, else None."""
    mark: dict[str, Any] = request.session.get(SESSION_KEY) or {}
    now = time.time()
    lapsed = _app_roles_lapsed(mark, now)
    if not lapsed and now - float(mark.get("checked", 0)) < settings.STAFF_SIGNIN_RECHECK_SECONDS:
        return None
    directory = staff_directory.staff_directory()
    mapping = parse_group_map(directory.groups) if directory else {}
    confirmed = True
    try:
        if directory is None or directory.tenant_id != mark.get("tid"):
            raise PartnerAppNotConfigured("staff sign-in is no longer configured")
        held = staff_directory.staff_member_groups(
            directory, user_id=str(mark["oid"]), group_ids=mapped_group_ids(mapping)
        )
    except (DefenderError, PartnerAppNotConfigured) as exc:
        logger.warning("Could not confirm a staff member's groups: %s", type(exc).__name__)
        mark["checked"] = now
        request.session[SESSION_KEY] = mark
        within = (
            now - float(mark.get("confirmed", 0)) <= settings.STAFF_SIGNIN_OFFLINE_GRACE_SECONDS
        )
        # The groups last confirmed stand in, within the grace, for app roles that expired;
        # if they give nothing, signing in again needs no Graph.
        held = frozenset(mark.get("groups") or ())
        if lapsed and (within or not grant_for(mapping, held).roles):
            confirmed = False
        elif within:
            return None
        else:
            return _page(request, 503, "Access cannot be confirmed", UNCONFIRMED_WORDS)
    app_roles = [] if lapsed else list(mark.get("app_roles", []))
    grant = grant_for(mapping, [*held, *app_roles])
    user: Any = request.user
    address = client_ip(request)
    apply_grant(user=user, grant=grant, mapping=mapping, ip_address=address)
    if lapsed:
        _record_expiry(request, mark, grant)
    if not grant.roles:
        if lapsed:
            logout(request)
            messages.warning(request, SIGN_IN_AGAIN_WORDS)
            query = urlencode({"next": _back_to(request)})
            return HttpResponseRedirect(f"{reverse('tenants:staff_signin')}?{query}")
        audit_record(
            action=ACCESS_ENDED,
            customer=None,
            actor=user,
            ip_address=address,
            summary=f"{user.get_username()} was signed out: no longer in a Microsoft Entra "
            "group that gives access",
            details={"object_id": mark.get("oid")},
        )
        logout(request)
        if made_by_a_page(request):
            # A request the page made by itself (its counts, its live updates): nobody
            # reads the answer, so the reason waits for the next page the person opens.
            messages.warning(request, REMOVED_WORDS)
            return HttpResponse(REMOVED_WORDS, status=403, content_type="text/plain")
        return _page(request, 403, "Your access has ended", REMOVED_WORDS)
    if lapsed:
        mark["app_roles"], mark["app_roles_until"] = [], 0
    mark["checked"] = now
    if confirmed:
        mark["confirmed"] = now
        mark["groups"] = sorted(held)
    request.session[SESSION_KEY] = mark
    return None


def _record_expiry(request: HttpRequest, mark: dict[str, Any], grant: Grant) -> None:
    user: Any = request.user
    outcome = "continues with what their groups give" if grant.roles else "sent to sign in again"
    audit_record(
        action=APP_ROLES_EXPIRED,
        customer=None,
        actor=user,
        ip_address=client_ip(request),
        summary=f"{user.get_username()}'s Microsoft Entra app roles expired with their "
        f"sign-in's ID token: {outcome}",
        details={
            "object_id": mark.get("oid"),
            "app_roles": list(mark.get("app_roles", [])),
            "expired_at": float(mark.get("app_roles_until", 0)),
            "roles_after": sorted(r.value for r in grant.roles),
            "signed_out": not grant.roles,
        },
    )


class StaffMembershipMiddleware:
    """Runs :func:`recheck` before every non-public view of a Microsoft-signed session."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if not request.user.is_authenticated or SESSION_KEY not in request.session:
            return None
        if access_policy_of(view) == "public":
            return None
        return recheck(request)
