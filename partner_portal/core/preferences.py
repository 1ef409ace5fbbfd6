"""A person's own time zone: every time the portal shows them is read in it.

Times are stored in UTC and shown through `core/times.py`, which formats in Django's
active zone. The person's zone is copied into their session when they sign in
(`remember_zone`, on Django's `user_logged_in`), and `TimeZoneMiddleware` activates it
for each of their requests from there — a page costs no query for it; everyone else gets
the portal's zone. Choosing a zone on "Your settings" (`/accounts/settings/`) saves it
and updates the session at once; other sessions of the same person pick it up when they
next sign in. Form inputs without a zone (the list's "From"/"Until") are read in the
same active zone, so what a person types means what they see.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from partner_portal.core.models import Preference

SESSION_KEY = "time_zone"


@cache
def zone_names() -> tuple[str, ...]:
    """The IANA zones a person may choose, sorted (the tz database's own names)."""
    return tuple(sorted(zoneinfo.available_timezones()))


def valid_zone(name: str) -> bool:
    return name == "" or name in zone_names()


def zone_of(user: AbstractBaseUser | AnonymousUser) -> str:
    """The person's chosen zone, "" for the portal's."""
    if not user.is_authenticated:
        return ""
    chosen = Preference.objects.filter(user_id=user.pk).values_list("time_zone", flat=True)
    name = next(iter(chosen), "")
    return name if valid_zone(name) else ""


def set_time_zone(*, user: AbstractBaseUser, time_zone: str, request: HttpRequest | None) -> None:
    """Save `time_zone` ("" for the portal's) as the person's and use it from now on."""
    if not valid_zone(time_zone):
        raise ValueError(f"unknown time zone {time_zone[:64]!r}")
    Preference.objects.update_or_create(user_id=user.pk, defaults={"time_zone": time_zone})
    if request is not None:
        request.session[SESSION_KEY] = time_zone
        _activate(time_zone)


def _activate(name: str) -> None:
    if name:
        timezone.activate(zoneinfo.ZoneInfo(name))
    else:
        timezone.deactivate()


def portal_zone_name() -> str:
    return str(settings.TIME_ZONE)


def remember_zone(
    sender: object, request: HttpRequest | None, user: AbstractBaseUser, **_: object
) -> None:
    """On sign-in: keep the person's zone in the new session."""
    if request is not None and hasattr(request, "session"):
        request.session[SESSION_KEY] = zone_of(user)


class TimeZoneMiddleware:
    """Activate the zone kept in the session (the portal's when there is none)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        session = getattr(request, "session", None)
        name = session.get(SESSION_KEY, "") if session is not None else ""
        _activate(name if isinstance(name, str) and valid_zone(name) else "")
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
