"""System checks for settings that would otherwise fail only when a customer clicks."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, register


@register(Tags.security)
def public_base_url_check(app_configs: Any, **kwargs: Any) -> list[Error]:
    parts = urlsplit(settings.PUBLIC_BASE_URL)
    loopback = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme == "https" or (parts.scheme == "http" and loopback):
        return []
    return [
        Error(
            "PUBLIC_BASE_URL must be an https:// address (http:// only for localhost).",
            hint="Microsoft sends customers back to {PUBLIC_BASE_URL}/consent/callback/ and "
            "accepts plain http only for loopback addresses.",
            id="portal.E001",
        )
    ]
