"""A token cache backend on Redis, so that every worker on every machine shares tokens.

The lock is Redis's own (SET NX with expiry): N workers asking for one tenant's token
at once make one token request; a crashed holder's lock expires by itself.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import redis


class RedisTokenCache:
    """`partner_portal.defender.TokenCacheBackend` on a Redis server."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "portal:tokens:",
        lock_timeout: float = 30.0,
        lock_wait: float = 45.0,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.lock_timeout = lock_timeout
        self.lock_wait = lock_wait

    @classmethod
    def from_url(cls, url: str) -> RedisTokenCache:
        return cls(redis.Redis.from_url(url, socket_timeout=10, socket_connect_timeout=5))

    def load(self, key: str) -> str | None:
        value = self.client.get(self.prefix + key)
        return value.decode() if isinstance(value, bytes) else value

    def save(self, key: str, blob: str, ttl_seconds: int) -> None:
        self.client.set(self.prefix + key, blob, ex=max(1, int(ttl_seconds)))

    def lock(self, key: str) -> AbstractContextManager[object]:
        return self.client.lock(
            self.prefix + "lock:" + key,
            timeout=self.lock_timeout,
            blocking_timeout=self.lock_wait,
        )
