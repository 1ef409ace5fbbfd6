"""Where serialised MSAL token caches live, so that every worker shares one token.

:class:`TokenCacheBackend` is the protocol: load and save one serialised cache per key,
and a lock per key that excludes every other holder, in this process and in others.
:class:`~.tokens.TokenProvider` holds that lock around each token request, so however
many workers ask at once, one request per tenant reaches Microsoft.

Two backends live here, free of any framework: :class:`InMemoryTokenCache` (one
process: tests, tools) and :class:`FileTokenCache` (every process of one machine; files
replaced atomically, ``flock`` locks). The Django side adds a Redis one.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol, runtime_checkable

__all__ = ["FileTokenCache", "InMemoryTokenCache", "TokenCacheBackend"]


@runtime_checkable
class TokenCacheBackend(Protocol):
    """Where serialised MSAL caches live, shared by every worker that should share tokens.

    ``lock(key)`` must exclude every other holder of the same key, in this process and
    in others, for as long as the context lasts.
    """

    def load(self, key: str) -> str | None: ...

    def save(self, key: str, blob: str, ttl_seconds: int) -> None: ...

    def lock(self, key: str) -> AbstractContextManager[object]: ...


class InMemoryTokenCache:
    """A process-local backend (tests, single-process tools)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._data: dict[str, tuple[str, float]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self.saves = 0

    def load(self, key: str) -> str | None:
        with self._guard:
            entry = self._data.get(key)
            if entry is None:
                return None
            blob, expires = entry
            if expires <= self._clock():
                del self._data[key]
                return None
            return blob

    def save(self, key: str, blob: str, ttl_seconds: int) -> None:
        with self._guard:
            self._data[key] = (blob, self._clock() + max(1, ttl_seconds))
            self.saves += 1

    def lock(self, key: str) -> AbstractContextManager[object]:
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        return lock


class FileTokenCache:
    """A backend in a local directory, shared by every process on this machine.

    Each key has a data file (replaced atomically) and a lock file held with
    ``flock``. ``flock`` locks belong to the open file, so two threads of one process
    that each open the lock file also exclude each other. Files are private to the
    user (mode 600): they contain access tokens.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, key: str, suffix: str) -> Path:
        digest = hashlib.sha256(key.encode()).hexdigest()[:40]
        return self.directory / f"{digest}{suffix}"

    def load(self, key: str) -> str | None:
        try:
            with open(self._path(key, ".json"), encoding="utf-8") as fh:
                entry = json.load(fh)
        except (FileNotFoundError, ValueError):
            return None
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        if float(entry.get("expires_at", 0)) <= time.time():
            return None
        blob = entry.get("blob")
        return blob if isinstance(blob, str) else None

    def save(self, key: str, blob: str, ttl_seconds: int) -> None:
        target = self._path(key, ".json")
        entry = {"key": key, "expires_at": time.time() + max(1, ttl_seconds), "blob": blob}
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(entry, fh)
            Path(tmp).replace(target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    @contextmanager
    def _locked(self, key: str) -> Iterator[None]:
        fd = os.open(self._path(key, ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing the descriptor releases the lock

    def lock(self, key: str) -> AbstractContextManager[object]:
        return self._locked(key)
