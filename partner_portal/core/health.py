"""Checks behind /healthz: does each backing service answer right now, and when did the
workers and the periodic duties last show they run?

A periodic duty that everything else waits on (the sync's dispatcher: without it no pass
is queued) registers here with its period (`register_duty`, from the app that owns it,
which core does not import) and notes each run (`duty_done`, in the cache); /healthz
gives each one's last run and its age, and calls it late after three periods without a
run. Like the workers' heartbeat this is reported, not judged: /healthz answers 503 only
for a backing service that does not answer, since a load balancer acts on it.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from django.db import connection
from django.utils import timezone

from partner_portal.celery import app as celery_app
from partner_portal.core.models import WorkerHeartbeat

logger = logging.getLogger(__name__)

#: A duty is late after this many of its periods without a run.
LATE_AFTER_PERIODS = 3

# Each registered duty's period in seconds, asked when /healthz is read.
_duties: dict[str, Callable[[], float]] = {}


def register_duty(name: str, *, period_seconds: Callable[[], float]) -> None:
    """Report the periodic duty `name` on /healthz; it should run every period."""
    _duties[name] = period_seconds


def duty_done(name: str) -> None:
    """Note that the duty `name` ran just now. Never raises: a cache that does not answer
    shows on /healthz as such, and must not stop the duty itself."""
    try:
        cache.set(_duty_key(name), timezone.now().isoformat(), timeout=None)
    except Exception:
        logger.warning("Could not note the run of %s for /healthz", name)


def _duty_key(name: str) -> str:
    return f"health:duty:{name}"


def _duties_report() -> dict[str, Any]:
    """Each duty's last run; one whose note cannot be read counts as never seen (a
    report must not fail on what is in the cache)."""
    report: dict[str, Any] = {}
    for name, period_seconds in sorted(_duties.items()):
        try:
            seen = cache.get(_duty_key(name))
            ran = datetime.fromisoformat(seen) if isinstance(seen, str) else None
        except Exception:
            ran = None
        if ran is None or ran.tzinfo is None:
            report[name] = {"last_run": None, "late": True}
            continue
        age = (timezone.now() - ran).total_seconds()
        period = period_seconds()
        report[name] = {
            "last_run": ran.isoformat(),
            "age_seconds": round(age, 1),
            "period_seconds": period,
            "late": age > LATE_AFTER_PERIODS * period,
        }
    return report


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
    if checks["cache"].ok and _duties:
        report["duties"] = _duties_report()
    return report
