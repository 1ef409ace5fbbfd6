"""Short-lived named locks shared by every process, kept in the cache (Redis in production).

A holder extends its lock while it works; if it dies, the lock expires by itself, so a
killed worker never blocks a customer's sync for longer than one lock lifetime.

On Redis the lock is one key set with NX and an expiry; extending and releasing compare
the holder's token and act in one atomic script, so a holder whose lock expired and was
taken by another process can neither extend nor delete the new holder's lock. Other
cache backends (the embedded setup's database cache, tests' local memory) fall back to
the cache API, which is good enough on one machine.

When the lock store cannot be reached, taking a lock raises `LockUnavailable`; extending
answers False (the holder can no longer prove it holds the lock, so it must stop);
releasing gives up quietly (the expiry cleans up).

A holder whose single step can take longer than the lifetime (a slow page on a busy
machine) keeps the lock alive from a background thread (`CacheLock.keep_alive`): the
lock then outlives any step while its holder lives, and still expires one lifetime after
the holder dies, since a dead process extends nothing. The keeper gives up at the
holder's deadline (`until`): a holder stuck past it in a process that lives on (a thread
of a threads-pool worker, which no hard time limit kills) loses its lock one lifetime
later, as a killed one would, and finds it lost when it wakes.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import redis
from django.core.cache import cache, caches
from django.core.cache.backends.redis import RedisCache

logger = logging.getLogger(__name__)

# Both compare the stored token with ours before touching the key.
_EXTEND = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


class LockUnavailable(RuntimeError):
    """The lock store (Redis or the cache) did not answer."""

    failure_code = "lock_unavailable"
    explanation = "The shared lock store (Redis) did not answer; retried later."


_clients: dict[str, redis.Redis] = {}
_clients_lock = threading.Lock()


def _redis_for_cache() -> redis.Redis | None:
    """A Redis client for the default cache's server when that cache is Redis, else None."""
    backend = caches["default"]
    if not isinstance(backend, RedisCache):
        return None
    servers: list[str] = backend._servers  # type: ignore[attr-defined]
    location = servers[0]  # the first server takes the writes
    with _clients_lock:
        client = _clients.get(location)
        if client is None:
            # Short timeouts: a Redis outage must fail a sync quickly, not hang it.
            client = redis.Redis.from_url(location, socket_timeout=5, socket_connect_timeout=3)
            _clients[location] = client
        return client


@dataclass
class CacheLock:
    """One held lock: its name, the holder's random token and its lifetime in seconds."""

    name: str
    token: str
    ttl: int
    _client: Any = field(default=None, repr=False)

    @property
    def key(self) -> str:
        return lock_key(self.name)

    def extend(self) -> bool:
        """Push the expiry out again; False if the lock was lost (expired and taken, or
        the lock store cannot vouch for it any more)."""
        try:
            if self._client is not None:
                return bool(self._client.eval(_EXTEND, 1, self.key, self.token, self.ttl * 1000))
            if cache.get(self.key) != self.token:
                return False
            return bool(cache.touch(self.key, self.ttl))
        except Exception:  # any failure of the store means "not provably ours"
            logger.warning("Could not extend lock %s; treating it as lost", self.name)
            return False

    @contextmanager
    def keep_alive(
        self, every: float | None = None, *, until: float | None = None
    ) -> Iterator[threading.Event]:
        """Extend the lock every `every` seconds (a third of its lifetime) while the block
        runs, and no longer than `until` (a `time.monotonic()` deadline); the yielded
        event is set once the lock is lost, or kept no longer, and the holder must stop.

        Only a Redis lock is kept alive this way: the cache fallback serves one machine
        (the embedded setup, whose database the thread would contend for), and its holder
        extends between steps instead.
        """
        lost = threading.Event()
        if self._client is None:
            yield lost
            return
        stop = threading.Event()
        interval = every if every is not None else max(self.ttl / 3, 0.05)

        def beat() -> None:
            while not stop.wait(interval):
                if until is not None and time.monotonic() >= until:
                    lost.set()  # past the deadline: left to expire, as if we had died
                    return
                if not self.extend():
                    lost.set()
                    return

        thread = threading.Thread(target=beat, name=f"lock-keeper:{self.name}", daemon=True)
        thread.start()
        try:
            yield lost
        finally:
            stop.set()
            thread.join(timeout=max(interval, 1.0) + 5)

    def release(self) -> None:
        """Give the lock up if it is still ours; an unreachable store is left to expire."""
        try:
            if self._client is not None:
                self._client.eval(_RELEASE, 1, self.key, self.token)
            elif cache.get(self.key) == self.token:
                cache.delete(self.key)
        except Exception:  # the expiry frees it anyway
            logger.warning("Could not release lock %s; it will expire by itself", self.name)


def lock_key(name: str) -> str:
    """The key of lock `name` in the store (on Redis, with the cache's key prefix)."""
    client = _redis_for_cache()
    if client is not None:
        return caches["default"].make_and_validate_key(f"lock:{name}")
    return f"lock:{name}"


def try_lock(name: str, *, ttl: int) -> CacheLock | None:
    """Take the lock `name` for `ttl` seconds, or return None if someone holds it.

    Raises `LockUnavailable` when the lock store does not answer.
    """
    token = secrets.token_hex(16)
    try:
        client = _redis_for_cache()
        if client is not None:
            key = caches["default"].make_and_validate_key(f"lock:{name}")
            if client.set(key, token, nx=True, ex=ttl):
                return CacheLock(name=name, token=token, ttl=ttl, _client=client)
            return None
        if cache.add(f"lock:{name}", token, timeout=ttl):
            return CacheLock(name=name, token=token, ttl=ttl)
        return None
    except Exception as exc:
        raise LockUnavailable(f"the lock store did not answer: {type(exc).__name__}") from exc


def is_locked(name: str) -> bool:
    client = _redis_for_cache()
    if client is not None:
        return bool(client.exists(lock_key(name)))
    return cache.get(f"lock:{name}") is not None
