"""Test-wide rules: no outbound internet, and real services used when configured.

Tests marked `postgres`, `redis`, `worker` or `browser` run when the service is there;
otherwise they are skipped, except under CI=true, where a missing service is a failure.
"""

from __future__ import annotations

import importlib.util
import ipaddress
import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest_plugins = [
    plugin
    for plugin in (
        "tests.fixtures.sandbox",
        "tests.fixtures.portal",
        "tests.fixtures.customers",
        "tests.fixtures.portal_process",
        "tests.fixtures.browser",
    )
    if importlib.util.find_spec(plugin)
]

IN_CI = os.environ.get("CI", "").lower() == "true"


# --- outbound internet is blocked for the whole run --------------------------------------
class OutboundConnectionBlocked(OSError):
    """A test tried to reach a host that is not this machine."""


def _is_local(host: Any) -> bool:
    if not isinstance(host, str):
        return True
    if host in ("localhost", "") or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        raise OutboundConnectionBlocked(f"tests may not connect to {address[0]}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        raise OutboundConnectionBlocked(f"tests may not connect to {address[0]}")
    return _real_connect_ex(self, address)


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    if host is not None and not _is_local(host if isinstance(host, str) else host.decode()):
        raise socket.gaierror(socket.EAI_NONAME, f"tests may not resolve {host}")
    return _real_getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
socket.getaddrinfo = _guarded_getaddrinfo


# --- real services --------------------------------------------------------------------
def postgres_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    return url if url.startswith(("postgres://", "postgresql://", "pgsql://")) else ""


def redis_url() -> str:
    for name in ("REDIS_URL", "CELERY_BROKER_URL"):
        url = os.environ.get(name, "")
        if url.startswith(("redis://", "rediss://")):
            return url
    return ""


def _redis_answers() -> bool:
    url = redis_url()
    if not url:
        return False
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_timeout=2).ping())
    except redis.RedisError:
        return False


def _broker_is_redis() -> bool:
    return os.environ.get("CELERY_BROKER_URL", "").startswith(("redis://", "rediss://"))


REQUIREMENTS = {
    "postgres": (lambda: bool(postgres_url()), "DATABASE_URL does not point at PostgreSQL"),
    "redis": (_redis_answers, "no Redis answers at REDIS_URL / CELERY_BROKER_URL"),
    "worker": (_broker_is_redis, "CELERY_BROKER_URL does not point at Redis"),
    "browser": (
        lambda: bool(shutil.which("chromium") or Path("/usr/bin/chromium").exists()),
        "Debian's chromium is not installed (apt-get install chromium)",
    ),
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, (available, why) in REQUIREMENTS.items():
        if item.get_closest_marker(marker) and not available():
            if IN_CI:
                pytest.fail(f"{why}; CI=true requires it", pytrace=False)
            pytest.skip(why)


@pytest.fixture
def artifacts_dir() -> Iterator[Path]:
    """Where tests leave screenshots and similar evidence for a person to look at."""
    path = Path(os.environ.get("TEST_ARTIFACTS_DIR") or Path.cwd() / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    yield path
