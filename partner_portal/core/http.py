"""What the portal reads of an incoming request beyond its form: who sent it."""

from __future__ import annotations

from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str | None:
    """The address the request came from, for the audit trail.

    REMOTE_ADDR is the proxy's when behind one; the proxy is trusted to set it right
    (gunicorn's forwarded-allow-ips), never a header a browser can forge.
    """
    return request.META.get("REMOTE_ADDR") or None
