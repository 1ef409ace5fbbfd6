"""Token cache backends: expiry, and locks that exclude other threads and processes."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from partner_portal.defender.token_cache import (
    FileTokenCache,
    InMemoryTokenCache,
    TokenCacheBackend,
)


def test_in_memory_cache_expiry_and_lock() -> None:
    now = [0.0]
    cache = InMemoryTokenCache(clock=lambda: now[0])
    cache.save("k", "blob", ttl_seconds=10)
    assert cache.load("k") == "blob"
    now[0] = 11
    assert cache.load("k") is None
    with cache.lock("k"):
        assert not cache.lock("k").acquire(blocking=False)  # type: ignore[attr-defined]


def test_file_cache_roundtrip_and_expiry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = FileTokenCache(tmp_path)
    assert cache.load("missing") is None
    cache.save("a", "blob-a", ttl_seconds=100)
    cache.save("b", "blob-b", ttl_seconds=5)
    assert (cache.load("a"), cache.load("b")) == ("blob-a", "blob-b")
    later = time.time() + 50
    monkeypatch.setattr("partner_portal.defender.token_cache.time.time", lambda: later)
    assert (cache.load("a"), cache.load("b")) == ("blob-a", None)
    assert isinstance(cache, TokenCacheBackend)


def test_file_cache_files_are_private_to_their_account(tmp_path: Path) -> None:
    """Cached entries hold access tokens: a 0700 folder of 0600 files, whatever the umask."""
    cache = FileTokenCache(tmp_path / "token-cache")
    cache.save("key", "blob", ttl_seconds=100)
    with cache.lock("key"):
        pass
    folder = tmp_path / "token-cache"
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    files = list(folder.iterdir())
    assert {path.suffix for path in files} == {".json", ".lock"}
    assert {oct(path.stat().st_mode & 0o777) for path in files} == {"0o600"}


def test_file_lock_excludes_other_threads(tmp_path: Path) -> None:
    cache = FileTokenCache(tmp_path)
    inside = threading.Event()
    release = threading.Event()
    order: list[str] = []

    def holder() -> None:
        with cache.lock("k"):
            inside.set()
            release.wait(5)
            order.append("holder-out")

    def waiter() -> None:
        inside.wait(5)
        with cache.lock("k"):
            order.append("waiter-in")

    t1, t2 = threading.Thread(target=holder), threading.Thread(target=waiter)
    t1.start()
    t2.start()
    inside.wait(5)
    release.set()
    t1.join()
    t2.join()
    assert order == ["holder-out", "waiter-in"]
