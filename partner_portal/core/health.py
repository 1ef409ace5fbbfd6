"""Checks behind /healthz: does each backing service answer right now?"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from partner_portal.celery import app as celery_app
from partner_portal.core.models import WorkerHeartbeat


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    milliseconds: float
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"ok": self.ok, "ms": round(self.milliseconds, 1)}
        if self.error:
            data["error"] = self.error
        return data


def _timed(check: Any) -> CheckResult:
    started = time.perf_counter()
    try:
        check()
    except Exception as exc:
        # Only the exception's type: messages can carry hosts or credentials.
        return CheckResult(False, (time.perf_counter() - started) * 1000, type(exc).__name__)
    return CheckResult(True, (time.perf_counter() - started) * 1000)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()


def _cache() -> None:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=10)
    if cache.get(key) != "1":
        raise RuntimeError("cache did not return what was stored")
    cache.delete(key)


def _broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, interval_start=0, timeout=3)


def run_checks() -> dict[str, Any]:
    checks = {"database": _timed(_database), "cache": _timed(_cache), "broker": _timed(_broker)}
    healthy = all(result.ok for result in checks.values())
    report: dict[str, Any] = {
        "status": "ok" if healthy else "unavailable",
        "checks": {name: result.as_dict() for name, result in checks.items()},
    }
    if checks["database"].ok:
        beat = WorkerHeartbeat.objects.first()
        report["worker"] = (
            {
                "last_heartbeat": beat.last_seen.isoformat(),
                "age_seconds": round((timezone.now() - beat.last_seen).total_seconds(), 1),
            }
            if beat
            else {"last_heartbeat": None}
        )
    return report
