"""Short-lived named locks shared by every process, kept in the cache (Redis in production).

A holder extends its lock while it works; if it dies, the lock expires by itself, so a
killed worker never blocks a customer's sync for longer than one lock lifetime.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from django.core.cache import cache


@dataclass
class CacheLock:
    name: str
    token: str
    ttl: int

    @property
    def key(self) -> str:
        return f"lock:{self.name}"

    def extend(self) -> bool:
        """Push the expiry out again; False if the lock was lost (expired and taken)."""
        if cache.get(self.key) != self.token:
            return False
        cache.touch(self.key, self.ttl)
        return True

    def release(self) -> None:
        if cache.get(self.key) == self.token:
            cache.delete(self.key)


def try_lock(name: str, *, ttl: int) -> CacheLock | None:
    """Take the lock `name` for `ttl` seconds, or return None if someone holds it."""
    token = secrets.token_hex(16)
    if cache.add(f"lock:{name}", token, timeout=ttl):
        return CacheLock(name=name, token=token, ttl=ttl)
    return None


def is_locked(name: str) -> bool:
    return cache.get(f"lock:{name}") is not None
