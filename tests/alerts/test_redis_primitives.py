"""The shared primitives of the sync on a real Redis: the per-customer lock, the rate
limiter every worker shares, and the token cache every worker shares."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from partner_portal.core import locks
from partner_portal.core.redis_limiter import RedisRateLimiter
from partner_portal.core.redis_token_cache import RedisTokenCache
from tests.conftest import redis_url
from tests.waiting import wait_until

pytestmark = pytest.mark.redis


@pytest.fixture
def client() -> Iterator[redis.Redis]:
    connection = redis.Redis.from_url(redis_url())
    yield connection
    connection.close()


@pytest.fixture
def redis_cache(settings: Any) -> str:
    """The default cache on Redis, under a prefix of this test's own."""
    prefix = f"locktest-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url(),
            "KEY_PREFIX": prefix,
        }
    }
    return prefix


# --- locks -------------------------------------------------------------------------------
def test_a_lock_is_held_by_one_holder_until_released(redis_cache: str) -> None:
    first = locks.try_lock("sync:1:alerts", ttl=30)
    assert first is not None
    assert locks.try_lock("sync:1:alerts", ttl=30) is None
    assert locks.is_locked("sync:1:alerts")
    first.release()
    assert not locks.is_locked("sync:1:alerts")
    second = locks.try_lock("sync:1:alerts", ttl=30)
    assert second is not None
    second.release()


def test_a_lock_lives_in_redis_under_the_cache_prefix_with_an_expiry(
    redis_cache: str, client: redis.Redis
) -> None:
    lock = locks.try_lock("sync:2:alerts", ttl=30)
    assert lock is not None
    keys = [k.decode() for k in client.keys(f"{redis_cache}:*")]
    assert keys == [lock.key]
    assert 0 < client.ttl(lock.key) <= 30
    lock.release()


def test_a_dead_holders_lock_expires_and_the_late_holder_cannot_touch_the_new_one(
    redis_cache: str, client: redis.Redis
) -> None:
    stale = locks.try_lock("sync:3:alerts", ttl=1)
    assert stale is not None
    # Redis itself expires the key (its real TTL is what is tested); wait for that.
    wait_until(lambda: not locks.is_locked("sync:3:alerts"), timeout=5, every=0.05)
    fresh = locks.try_lock("sync:3:alerts", ttl=30)
    assert fresh is not None, "an expired lock must be free again"
    # The first holder wakes up: it can neither extend nor release the new lock.
    assert stale.extend() is False
    stale.release()
    assert client.get(fresh.key) == fresh.token.encode()
    assert fresh.extend() is True
    fresh.release()


def test_extending_pushes_the_expiry_out(redis_cache: str, client: redis.Redis) -> None:
    lock = locks.try_lock("sync:4:alerts", ttl=2)
    assert lock is not None
    client.pexpire(lock.key, 200)
    assert lock.extend() is True
    assert client.pttl(lock.key) > 1000
    lock.release()


def test_a_kept_alive_lock_outlives_its_lifetime_while_its_holder_works(
    redis_cache: str, client: redis.Redis
) -> None:
    lock = locks.try_lock("sync:6:alerts", ttl=1)
    assert lock is not None
    with lock.keep_alive(every=0.2) as lost:
        # A step three lifetimes long: nobody else may take the lock meanwhile.
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            assert locks.try_lock("sync:6:alerts", ttl=1) is None
            # Kept: the three seconds are the behaviour under test, checked throughout.
            time.sleep(0.1)
        assert not lost.is_set()
    lock.release()
    assert not locks.is_locked("sync:6:alerts")


def test_a_kept_alive_lock_that_is_lost_says_so(redis_cache: str, client: redis.Redis) -> None:
    lock = locks.try_lock("sync:7:alerts", ttl=30)
    assert lock is not None
    with lock.keep_alive(every=0.05) as lost:
        client.delete(lock.key)  # expired and gone, as after a long pause of this process
        assert lost.wait(timeout=10)
    lock.release()


def test_a_kept_alive_lock_is_let_go_at_its_holders_deadline(
    redis_cache: str, client: redis.Redis
) -> None:
    # A holder stuck past its deadline in a process that lives on (a threads-pool worker)
    # loses its lock as a killed one would: the keeper stops extending it.
    lock = locks.try_lock("sync:8:alerts", ttl=1)
    assert lock is not None
    with lock.keep_alive(every=0.1, until=time.monotonic() + 0.3) as lost:
        assert lost.wait(timeout=10)
        wait_until(lambda: locks.try_lock("sync:8:alerts", ttl=30) is not None, timeout=10)
        assert lock.extend() is False
    lock.release()


def test_only_one_of_many_concurrent_takers_gets_the_lock(redis_cache: str) -> None:
    got: list[Any] = []
    barrier = threading.Barrier(8)

    def take() -> None:
        barrier.wait()
        got.append(locks.try_lock("sync:5:alerts", ttl=30))

    threads = [threading.Thread(target=take) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [lock for lock in got if lock is not None]
    assert len(winners) == 1
    winners[0].release()


def test_an_unreachable_redis_fails_loudly_on_take_and_safely_on_extend(settings: Any) -> None:
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with pytest.raises(locks.LockUnavailable):
        locks.try_lock("sync:6:alerts", ttl=30)
    orphan = locks.CacheLock(
        name="sync:6:alerts",
        token="x",
        ttl=30,
        _client=redis.Redis(port=1, socket_connect_timeout=0.5),
    )
    assert orphan.extend() is False
    orphan.release()  # gives up quietly


# --- rate limiter ----------------------------------------------------------------------------
class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000_000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_the_limiter_admits_up_to_the_limit_then_waits_for_the_window(
    client: redis.Redis,
) -> None:
    clock = FakeClock()
    prefix = f"limtest-{uuid.uuid4().hex[:8]}:"
    limiter = RedisRateLimiter(client, [(5, 60.0)], prefix=prefix, clock=clock, sleep=clock.sleep)
    for _ in range(5):
        assert limiter.acquire("mde:t1") == 0
        clock.now += 1
    waited = limiter.acquire("mde:t1")
    # The oldest of the five calls leaves the 60 s window 55 s from now.
    assert 55 <= waited <= 55.1
    assert limiter.recent_calls("mde:t1") == 5
    # Another tenant has its own window.
    assert limiter.acquire("mde:t2") == 0


def test_two_limiters_count_one_tenants_calls_together(client: redis.Redis) -> None:
    clock = FakeClock()
    prefix = f"limtest-{uuid.uuid4().hex[:8]}:"
    one = RedisRateLimiter(client, [(4, 60.0)], prefix=prefix, clock=clock, sleep=clock.sleep)
    two = RedisRateLimiter(client, [(4, 60.0)], prefix=prefix, clock=clock, sleep=clock.sleep)
    for limiter in (one, two, one, two):
        assert limiter.acquire("mde:t") == 0
    assert two.acquire("mde:t") > 0


def test_the_limiter_honours_every_window(client: redis.Redis) -> None:
    clock = FakeClock()
    prefix = f"limtest-{uuid.uuid4().hex[:8]}:"
    limiter = RedisRateLimiter(
        client, [(100, 60.0), (3, 3600.0)], prefix=prefix, clock=clock, sleep=clock.sleep
    )
    for _ in range(3):
        assert limiter.acquire("mde:t") == 0
    waited = limiter.acquire("mde:t")
    assert waited >= 3599, "the hourly limit must hold even when the minute has room"
    assert client.ttl(prefix + "mde:t") > 3500


def test_the_limiter_survives_a_script_cache_flush(client: redis.Redis) -> None:
    prefix = f"limtest-{uuid.uuid4().hex[:8]}:"
    limiter = RedisRateLimiter(client, [(10, 60.0)], prefix=prefix)
    assert limiter.acquire("mde:t") == 0
    client.script_flush()  # what a Redis restart does to loaded scripts
    assert limiter.acquire("mde:t") == 0
    assert limiter.recent_calls("mde:t") == 2


# --- token cache -----------------------------------------------------------------------------
def test_the_token_cache_saves_with_expiry_and_loads(client: redis.Redis) -> None:
    prefix = f"tokentest-{uuid.uuid4().hex[:8]}:"
    cache = RedisTokenCache(client, prefix=prefix)
    assert cache.load("tenant-a") is None
    cache.save("tenant-a", '{"AccessToken": {}}', 120)
    assert cache.load("tenant-a") == '{"AccessToken": {}}'
    assert 0 < client.ttl(prefix + "tenant-a") <= 120
    cache.save("tenant-b", "{}", 0)
    assert client.ttl(prefix + "tenant-b") >= 1, "a zero TTL still expires, never persists"


def test_the_token_cache_from_url_has_timeouts_so_an_outage_fails_fast() -> None:
    cache = RedisTokenCache.from_url("redis://127.0.0.1:1/0")
    began = time.monotonic()
    with pytest.raises(redis.ConnectionError):
        cache.load("tenant")
    assert time.monotonic() - began < 10


def test_the_token_cache_lock_lets_one_process_in_at_a_time(client: redis.Redis) -> None:
    prefix = f"tokentest-{uuid.uuid4().hex[:8]}:"
    cache = RedisTokenCache(client, prefix=prefix, lock_timeout=5, lock_wait=5)
    inside = 0
    most = 0
    guard = threading.Lock()

    def work() -> None:
        nonlocal inside, most
        with cache.lock("tenant"):
            with guard:
                inside += 1
                most = max(most, inside)
            # Kept: the holder stays inside for a moment, so a second one let in would
            # overlap it and be counted.
            time.sleep(0.05)
            with guard:
                inside -= 1

    threads = [threading.Thread(target=work) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert most == 1
