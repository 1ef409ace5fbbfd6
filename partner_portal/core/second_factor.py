"""An optional second factor for local accounts: a code from an authenticator app (TOTP,
RFC 6238), kept by django-otp.

Enrolling. On "Two-step sign-in" (`/accounts/two-factor/`) a person gets a new secret,
shown as text and as an `otpauth://` URI for the app, and proves the app holds it by
typing a current code; only then is the authenticator confirmed (an unconfirmed one asks
nothing at sign-in). Removing it takes a current code too, so a session left open is not
enough to turn it off.

Signing in. After the password, a person with a confirmed authenticator is sent to
`/accounts/two-factor/verify/` before any page of the portal or of Django's admin
(`SecondFactorMiddleware`); the public pages (a customer's consent pages, health, sign-in
and sign-out) stay open. A right code marks the session as verified (django-otp keeps
the device in the session); each wrong code doubles the wait before the next one is
looked at (1, 2, 4 … seconds, django-otp's throttle), and a code is accepted once.

Whether a person owes a code is decided when they sign in (`on_logged_in`) and kept in
the session, so pages cost no query for it: a session already signed in when its person
sets up an authenticator elsewhere is not asked (it ends at sign-out or after
SESSION_COOKIE_AGE); every later sign-in is.

Requiring it. With REQUIRE_SECOND_FACTOR=true every signed-in local account without an
authenticator is sent to enrol first, and cannot remove the one it has.

Enrolling and removing are announced (`account_events.second_factor_changed`) for the
audit trail; secrets and codes never are.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from partner_portal.core.access import access_policy_of
from partner_portal.core.account_events import second_factor_changed

if TYPE_CHECKING:
    from django.contrib.auth.models import User

NAME = "Authenticator app"
# In the session: whether its person owed a code when it signed in ("owed" or "none").
_STATE = "_portal_second_factor"
_ELSEWHERE = "microsoft"


class CodeRefused(ValueError):
    """The code is wrong, already used, or comes too soon after wrong ones (in words)."""


# --- the person's authenticator ------------------------------------------------------------
def confirmed_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_second_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def enrolment_device(user: User) -> TOTPDevice:
    """The unconfirmed authenticator being set up (the same secret until it is confirmed)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=NAME, confirmed=False)
    return device


def secret_text(device: TOTPDevice) -> str:
    """The secret in base32, in groups of four, as authenticator apps ask to type it."""
    from base64 import b32encode

    text = b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def _attempt(device_pk: int, code: str) -> tuple[TOTPDevice, str]:
    """Try `code` on the device (locked, so a code counts once); what is wrong, in words.

    The attempt commits whatever its outcome: a wrong code's count must stay counted, so
    callers raise only after it."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().get(pk=device_pk)
        allowed, data = device.verify_is_allowed()
        if not allowed:
            until: datetime | None = (data or {}).get("locked_until")
            when = f" after {until:%H:%M:%S} UTC" if until else " in a moment"
            return device, f"Too many wrong codes: try again{when}."
        if not device.verify_token(code.replace(" ", "")):
            return device, (
                "That code is not right (or was already used): type the one the app shows now."
            )
    return device, ""


def enrol_confirm(*, user: User, code: str, address: str | None) -> TOTPDevice:
    """Confirm the authenticator being set up with a current code; raises `CodeRefused`."""
    device, wrong = _attempt(enrolment_device(user).pk, code)
    if wrong:
        raise CodeRefused(wrong)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        second_factor_changed.send(sender=TOTPDevice, user=user, address=address, enrolled=True)
    return device


def remove(*, user: User, code: str, address: str | None) -> None:
    """Turn the second factor off with a current code; raises `CodeRefused`."""
    device = confirmed_device(user)
    if device is None:
        return
    if settings.REQUIRE_SECOND_FACTOR:
        raise CodeRefused("The portal requires a second factor: it cannot be turned off.")
    _, wrong = _attempt(device.pk, code)
    if wrong:
        raise CodeRefused(wrong)
    with transaction.atomic():
        TOTPDevice.objects.filter(user=user).delete()
        second_factor_changed.send(sender=TOTPDevice, user=user, address=address, enrolled=False)


def verify(*, request: HttpRequest, code: str) -> None:
    """Mark this session as having passed the second step; raises `CodeRefused`."""
    user: Any = request.user
    device = confirmed_device(user)
    if device is None:
        return
    device, wrong = _attempt(device.pk, code)
    if wrong:
        raise CodeRefused(wrong)
    otp_login(request, device)


def reset(*, user: User) -> bool:
    """Remove a person's authenticator (a portal admin's action, for a lost phone);
    whether there was one. They set up a new one at their next sign-in if required."""
    deleted, _ = TOTPDevice.objects.filter(user=user).delete()
    return bool(deleted)


def mark_verified(request: HttpRequest, device: TOTPDevice) -> None:
    """This session has shown a code of `device` (e.g. the one that just enrolled it)."""
    otp_login(request, device)


# --- the gate ------------------------------------------------------------------------------------
def on_logged_in(sender: Any, request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """At sign-in, note in the session whether this person owes a code."""
    if request is not None and hasattr(request, "session"):
        request.session[_STATE] = "owed" if has_second_factor(user) else "none"


def settle(request: HttpRequest) -> None:
    """The person has no authenticator (any more): this session owes no code."""
    request.session[_STATE] = "none"


def proven_elsewhere(request: HttpRequest) -> None:
    """This session was signed in by Microsoft (staff sign-in), whose own rules (and the
    Conditional Access policy of STAFF_SIGNIN_AUTH_CONTEXT) decide the second factor: the
    portal asks for no code."""
    request.session[_STATE] = _ELSEWHERE


def _needs(request: HttpRequest) -> str | None:
    """Which second-factor page the signed-in request must see first, if any."""
    user: Any = request.user
    if not user.is_authenticated or user.is_verified():
        return None
    state = request.session.get(_STATE)
    if state is None:  # a session from before this check existed
        state = "owed" if has_second_factor(user) else "none"
        request.session[_STATE] = state
    if state == "owed":
        return "second_factor_verify"
    if state == _ELSEWHERE:
        return None
    if settings.REQUIRE_SECOND_FACTOR and not has_second_factor(user):
        return "second_factor"
    return None


class SecondFactorMiddleware:
    """Sends a signed-in person who still owes the second step to it, before any page
    but the public ones and that step's own page. Goes after django-otp's OTPMiddleware,
    which tells whether the session passed it.

    The enrolment page is behind the check too once an authenticator is confirmed: with a
    password alone, nobody can swap in an authenticator of their own."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Callable[..., Any], args: Any, kwargs: Any
    ) -> HttpResponse | None:
        if access_policy_of(view) == "public":
            return None
        page = _needs(request)
        match = request.resolver_match
        if page is None or (match is not None and match.url_name == page):
            return None
        nxt = request.get_full_path() if request.method == "GET" else reverse("home")
        return HttpResponseRedirect(reverse(page) + "?" + urlencode({"next": nxt}))
