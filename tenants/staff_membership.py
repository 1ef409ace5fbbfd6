"""A person removed from the groups loses access at the next request.

A session signed in with Microsoft (``staff_signin.py``) carries who signed in and when
Graph last confirmed their groups. Before any page that is not public, once
STAFF_SIGNIN_RECHECK_SECONDS (60; 0: every request) have passed since, the portal asks
Graph again which of the mapped groups the account is in (``checkMemberGroups``, an app
token of the partner tenant), and:

* in none that gives a role: the session is signed out and the page says why (403),
  and the audit log has ``staff.access_ended``;
* in some: the person's roles and mapped teams follow them (``person.roles_changed``
  when they changed) and the page opens;
* Graph cannot be asked (Microsoft unreachable, throttled, refusing the app): the
  session goes on while the last confirmation is less than
  STAFF_SIGNIN_OFFLINE_GRACE_SECONDS (300) old, asking again at the next check; after
  that every page answers 503 saying the portal cannot confirm the access, until
  Microsoft answers again. Nobody is signed out by an outage, and nobody keeps access
  for longer than the grace without Microsoft's word.

App roles (the ``roles`` claim) are not groups: what they give holds until the next
sign-in.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from partner_portal.core.access import access_policy_of
from partner_portal.core.http import client_ip
from partner_portal.defender import DefenderError
from tenants import staff_directory
from tenants.audit import audit_record
from tenants.microsoft import PartnerAppNotConfigured
from tenants.staff_roles import apply_grant, grant_for, mapped_group_ids, parse_group_map
from tenants.staff_signin import SESSION_KEY

logger = logging.getLogger(__name__)

ACCESS_ENDED = "staff.access_ended"
REMOVED_WORDS = (
    "You are no longer in any Microsoft Entra group that gives access to this portal, so "
    "you have been signed out. If that is a mistake, ask a portal admin."
)
UNCONFIRMED_WORDS = (
    "The portal cannot confirm with Microsoft that you still have access: Microsoft has not "
    "answered for a while. Try again in a few minutes."
)


def _page(request: HttpRequest, status: int, title: str, text: str) -> HttpResponse:
    context = {"status": status, "title": title, "text": text}
    return render(request, "core/error.html", context, status=status)


def recheck(request: HttpRequest) -> HttpResponse | None:
    """The answer that replaces the page when the person lost access, else None."""
    mark: dict[str, Any] = request.session.get(SESSION_KEY) or {}
    now = time.time()
    if now - float(mark.get("checked", 0)) < settings.STAFF_SIGNIN_RECHECK_SECONDS:
        return None
    directory = staff_directory.staff_directory()
    mapping = parse_group_map(directory.groups) if directory else {}
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
        if now - float(mark.get("confirmed", 0)) <= settings.STAFF_SIGNIN_OFFLINE_GRACE_SECONDS:
            return None
        return _page(request, 503, "Access cannot be confirmed", UNCONFIRMED_WORDS)
    grant = grant_for(mapping, [*held, *mark.get("app_roles", [])])
    user: Any = request.user
    address = client_ip(request)
    if not grant.roles:
        apply_grant(user=user, grant=grant, mapping=mapping, ip_address=address)
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
        return _page(request, 403, "Your access has ended", REMOVED_WORDS)
    apply_grant(user=user, grant=grant, mapping=mapping, ip_address=address)
    mark["checked"] = mark["confirmed"] = now
    request.session[SESSION_KEY] = mark
    return None


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
