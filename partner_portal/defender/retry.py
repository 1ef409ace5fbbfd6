"""How long to wait before trying a call again, and how often to try.

:class:`RetryPolicy` bounds a call's retries: attempts after server errors and transport
failures, waits after HTTP 429, and the total seconds spent waiting. Between attempts
the client waits :func:`backoff_delay` (exponential, with "equal jitter"), except when
Microsoft says how long: :func:`retry_after_seconds` reads ``Retry-After`` as seconds or
as an HTTP date, else the seconds Defender names in its 429 message ("You can send
requests again in 8 seconds"). A 429 without either still gets the backoff.
"""

from __future__ import annotations

import email.utils
import re
from dataclasses import dataclass
from datetime import UTC, datetime

import requests

__all__ = ["RetryPolicy", "backoff_delay", "retry_after_seconds"]

_SECONDS_IN_MESSAGE = re.compile(r"again in (\d+(?:\.\d+)?) second", re.IGNORECASE)


@dataclass(frozen=True)
class RetryPolicy:
    """How long the client keeps trying before it raises.

    ``max_attempts`` bounds tries after server errors and transport failures;
    ``max_throttled`` bounds waits after HTTP 429 (a storm of 429s is normal and
    Microsoft says how long to wait); ``max_total_wait`` bounds the seconds one call
    may spend waiting in all.
    """

    max_attempts: int = 6
    max_throttled: int = 20
    max_total_wait: float = 900.0
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    retry_malformed: bool = True


def backoff_delay(policy: RetryPolicy, retry_number: int, jitter: float) -> float:
    """Seconds before retry number ``retry_number`` (from 0); ``jitter`` is in [0, 1)."""
    ceiling = min(policy.backoff_max, policy.backoff_base * 2.0**retry_number)
    # "Equal jitter": at least half the step, so retries stay spread but never bunch
    # at zero.
    return ceiling * (0.5 + 0.5 * jitter)


def retry_after_seconds(response: requests.Response, message: str) -> float | None:
    """Seconds a 429 asks to wait: ``Retry-After`` (seconds or a date), else the seconds
    Microsoft names in the message ("... again in 8 seconds"), else None."""
    header = response.headers.get("Retry-After")
    if header:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(header)
            except (TypeError, ValueError):
                when = None
            if when is not None:
                if when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                return max(0.0, (when - datetime.now(UTC)).total_seconds())
    match = _SECONDS_IN_MESSAGE.search(message or "")
    if match:
        return float(match.group(1))
    return None
