"""Keeping each customer tenant under an API's documented rate limits, client-side.

Microsoft states its limits per application per tenant as calls per window (Defender for
Endpoint: 100 a minute and 1,500 an hour). Each client declares its API's
:data:`Limits` next to itself (:mod:`.mde`, :mod:`.xdr`) and asks a :class:`Limiter`
before every call, keyed by API and tenant. :class:`RateLimiter` is the in-process one:
a sliding window log per key, thread-safe, sleeping outside its lock so that one
throttled tenant does not hold up the others. The Django side plugs in a Redis one that
coordinates every worker; :data:`NO_LIMIT` switches client-side limiting off (Microsoft
still limits, and the client still honours its 429s).
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Sequence
from typing import Protocol

__all__ = ["NO_LIMIT", "Limiter", "Limits", "RateLimiter", "per_hour", "per_minute"]

#: ``(calls, window in seconds)`` pairs that must all hold over any window of that length.
Limits = tuple[tuple[int, float], ...]


def per_minute(calls: int) -> tuple[int, float]:
    return (calls, 60.0)


def per_hour(calls: int) -> tuple[int, float]:
    return (calls, 3600.0)


class Limiter(Protocol):
    """Blocks until one more call for ``key`` fits the limits; returns seconds waited."""

    def acquire(self, key: str) -> float: ...


class _NoLimit:
    def acquire(self, key: str) -> float:
        return 0.0


#: Pass as ``limiter`` to switch client-side limiting off (Microsoft still limits).
NO_LIMIT: Limiter = _NoLimit()


class RateLimiter:
    """Sliding-window limiter kept in this process, one window log per key.

    ``limits`` are ``(calls, seconds)`` pairs that must all hold over any window of
    that length. Thread-safe; the clock and sleep are injectable for tests.
    """

    def __init__(
        self,
        limits: Sequence[tuple[int, float]],
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not limits or any(n < 1 or w <= 0 for n, w in limits):
            raise ValueError("limits must be (calls >= 1, seconds > 0) pairs")
        self.limits = tuple(limits)
        self._horizon = max(w for _, w in self.limits)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._log: dict[str, list[float]] = {}

    def _wait_needed(self, log: list[float], now: float) -> float:
        wait = 0.0
        for calls, window in self.limits:
            # The calls-th most recent call must have left the window.
            if len(log) >= calls and log[-calls] > now - window:
                wait = max(wait, log[-calls] + window - now)
        return wait

    def acquire(self, key: str) -> float:
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                log = self._log.setdefault(key, [])
                del log[: bisect.bisect_right(log, now - self._horizon)]
                wait = self._wait_needed(log, now)
                if wait <= 0:
                    log.append(now)
                    return waited
            # Sleep outside the lock so other tenants are not held up.
            self._sleep(wait)
            waited += wait
