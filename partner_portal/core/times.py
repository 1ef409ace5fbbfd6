"""The portal's one way to show a moment, and how long ago it was.

Every time a person reads — in lists, details, the audit log, sync text, messages — is
24-hour with seconds and its zone ("2026-11-30 07:44:05 UTC"), so that events of the same
minute can be ordered and nobody wonders which zone is meant. Times are shown in the
portal's zone (`TIME_ZONE`, UTC by default). Where the age matters more than the moment
(a last success, a last verification) pages show "12 min ago" with the exact moment as
the element's title. The template filters `when` and `age`
(`partner_portal/core/templatetags/times.py`) and Django's own date formats
(`partner_portal/core/formats/`) all come back here.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

MOMENT_FORMAT = "%Y-%m-%d %H:%M:%S"


def as_moment(value: datetime | str | None) -> datetime | None:
    """`value` as an aware datetime (an ISO 8601 string is read; None stays None)."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if timezone.is_naive(value):
        value = timezone.make_aware(value, timezone.get_default_timezone())
    return value


def format_moment(value: datetime | str | None) -> str:
    """'2026-11-30 07:44:05 UTC' in the portal's zone; '' for no value."""
    moment = as_moment(value)
    if moment is None:
        return ""
    local = timezone.localtime(moment)
    return f"{local.strftime(MOMENT_FORMAT)} {local.tzname() or ''}".strip()


def format_age(value: datetime | str | None, *, now: datetime | None = None) -> str:
    """How long ago `value` was, in the largest unit that fits: 'just now', '40 s ago',
    '12 min ago', '3 h ago', '5 days ago' (or 'in 12 min' for a moment to come)."""
    moment = as_moment(value)
    if moment is None:
        return ""
    seconds = round(((now or timezone.now()) - moment).total_seconds())
    ahead = seconds < 0
    seconds = abs(seconds)
    if seconds < 5:
        return "just now"
    if seconds < 60:
        amount = f"{seconds} s"
    elif seconds < 3600:
        amount = f"{seconds // 60} min"
    elif seconds < 2 * 86400:
        amount = f"{seconds // 3600} h"
    else:
        days = seconds // 86400
        amount = f"{days} days"
    return f"in {amount}" if ahead else f"{amount} ago"
