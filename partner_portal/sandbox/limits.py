"""Documented call limits (sliding windows per app, tenant and API) and call counts.

Each API declares its limits with its family (``api.ApiFamily``: alerts 100 per minute
and 1,500 per hour, incidents 50 and 1,500); the gate defines them here when the API's
routes are registered. The counts are what tests and benchmarks read back through
``/_sandbox/stats`` to prove that a client stayed under the limits rather than merely
survived them.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any

# One window of a limit: (seconds, maximum calls, unit name as the 429 message says it).
Window = tuple[int, int, str]


@dataclass(frozen=True)
class Throttle:
    """Why a call was refused and when the client may call again."""

    retry_after: int
    maximum: int
    unit: str


class RateLimiter:
    """Sliding windows of admitted calls per (app, tenant, api)."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._lock = threading.Lock()
        self._calls: dict[tuple[str, str, str], deque[float]] = {}
        self._windows: dict[str, tuple[Window, ...]] = {}

    def define(self, api: str, windows: tuple[Window, ...]) -> None:
        """The limits of ``api``, shortest window first."""
        self._windows[api] = windows

    def admit(self, app: str, tenant: str, api: str) -> Throttle | None:
        """Admit and record the call, or say how long to wait."""
        if not self.enabled:
            return None
        now = time.monotonic()
        windows = self._windows[api]
        longest = max(w[0] for w in windows)
        with self._lock:
            calls = self._calls.setdefault((app, tenant, api), deque())
            while calls and calls[0] <= now - longest:
                calls.popleft()
            for seconds, maximum, unit in windows:
                start = now - seconds
                inside = [t for t in calls if t > start] if seconds < longest else calls
                if len(inside) >= maximum:
                    # The window frees a slot when its oldest call in it falls out.
                    oldest = inside[len(inside) - maximum]
                    wait = max(1, math.ceil(oldest + seconds - now))
                    return Throttle(retry_after=wait, maximum=maximum, unit=unit)
            calls.append(now)
        return None

    def reset(self) -> None:
        with self._lock:
            self._calls.clear()


@dataclass
class _Counter:
    total: int = 0
    throttled: int = 0
    max_per_minute: int = 0
    recent: deque[float] = field(default_factory=deque)

    def hit(self, now: float) -> None:
        self.total += 1
        self.recent.append(now)
        self._trim(now)
        self.max_per_minute = max(self.max_per_minute, len(self.recent))

    def _trim(self, now: float) -> None:
        while self.recent and self.recent[0] <= now - 60:
            self.recent.popleft()

    def as_json(self, now: float) -> dict[str, int]:
        self._trim(now)
        return {
            "calls_last_minute": len(self.recent),
            "calls_total": self.total,
            "max_calls_per_minute": self.max_per_minute,
            "throttled": self.throttled,
        }


class Stats:
    """Counts of API calls (every call that reached an API path with a valid token),
    token requests and 429 answers, per tenant and over all tenants."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._api: dict[tuple[str, str], _Counter] = {}
        self._tokens: dict[str, int] = {}
        self._since = time.time()
        self._apis: list[str] = []

    def track(self, api: str) -> None:
        """List ``api`` in every snapshot, also before its first call."""
        if api not in self._apis:
            self._apis.append(api)

    def reset(self) -> None:
        with self._lock:
            self._api = {}
            self._tokens = {}
            self._since = time.time()

    def _counter(self, tenant: str, api: str) -> _Counter:
        return self._api.setdefault((tenant, api), _Counter())

    def call(self, tenant: str, api: str) -> None:
        now = time.monotonic()
        with self._lock:
            self._counter(tenant, api).hit(now)
            self._counter("*", api).hit(now)

    def throttled(self, tenant: str, api: str) -> None:
        with self._lock:
            self._counter(tenant, api).throttled += 1
            self._counter("*", api).throttled += 1

    def token(self, tenant: str) -> None:
        with self._lock:
            self._tokens[tenant] = self._tokens.get(tenant, 0) + 1
            self._tokens["*"] = self._tokens.get("*", 0) + 1

    def snapshot(self, tenant: str | None) -> dict[str, Any]:
        key = tenant or "*"
        now = time.monotonic()
        with self._lock:
            apis = {api: self._counter(key, api).as_json(now) for api in self._apis}
            return {
                "tenant": tenant,
                "since": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self._since)),
                "apis": apis,
                "token_requests": self._tokens.get(key, 0),
                "throttled_total": sum(a["throttled"] for a in apis.values()),
            }
