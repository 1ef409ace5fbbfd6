"""What the portal reads of an incoming request beyond its form: who sent it, and whether
a person opened a page or a page's script asked."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(text: str) -> str | None:
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from, for the audit trail and the sign-in throttle.

    Directly served, it is the connection's (REMOTE_ADDR). Behind the reverse proxy that
    ends TLS (BEHIND_TLS_PROXY), the connection is the proxy's own, so the address is the
    last one in X-Forwarded-For: the one that proxy appended. Addresses before it are
    whatever the browser sent and are never believed.
    """
    if settings.BEHIND_TLS_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded:
            return _address(forwarded.split(",")[-1])
    return _address(request.META.get("REMOTE_ADDR") or "")


def made_by_a_page(request: HttpRequest) -> bool:
    """Whether a page's own script sent the request (a list's counts, its live updates)
    rather than a person opening a page: the browser says so in Sec-Fetch-Mode (anything
    but ``navigate``). Without the header (an older browser, a script, the test client)
    it counts as a page opened."""
    return request.headers.get("Sec-Fetch-Mode", "navigate") != "navigate"
