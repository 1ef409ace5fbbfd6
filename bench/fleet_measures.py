"""What `bench_fleet.py` reads off its processes, its database and the sandbox: CPU
seconds of a process group, the database's busy time and size, the machine's load, the
Graph limits and each tenant's calls against them, the freshness of a set of alerts, and
the stop of workers between the fleet's backfill and its steady state, the run times
of tasks as the workers logged them (the dispatcher's cycles, the passes), and how fast
the machine's cores are (a fixed loop's CPU time).
"""

from __future__ import annotations

import os
import re
import signal
import statistics
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import Any

from graph_backfill import GRAPH_SOURCES

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> tuple[str, list[str]] | None:
    """A process's name and the fields of /proc/<pid>/stat after it (state first), or
    None once it is gone."""
    try:
        name, rest = Path(f"/proc/{pid}/stat").read_text().split(" (", 1)[1].rsplit(")", 1)
    except (OSError, ValueError):
        return None
    return name, rest.split()


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU seconds of the processes `pids` (those still alive)."""
    total = 0.0
    for pid in pids:
        stat = _stat(pid)
        if stat is not None:
            total += (int(stat[1][11]) + int(stat[1][12])) / TICKS
    return total


def _all_pids() -> list[str]:
    return [entry.name for entry in Path("/proc").iterdir() if entry.name.isdigit()]


def group_pids(leaders: list[int]) -> list[int]:
    """Every process in the process groups of `leaders` (a worker and its pool)."""
    found = []
    for pid in _all_pids():
        stat = _stat(pid)
        if stat is not None and int(stat[1][2]) in leaders:
            found.append(int(pid))
    return found


def postgres_cpu_seconds() -> float:
    """CPU seconds of the PostgreSQL server on this machine: its live processes, and the
    ended ones the postmaster has reaped (a backend that served one task and closed)."""
    total = 0
    for pid in _all_pids():
        stat = _stat(pid)
        if stat is None or stat[0] != "postgres":
            continue
        fields = stat[1]
        total += int(fields[11]) + int(fields[12])
        parent = _stat(fields[1])
        if parent is None or parent[0] != "postgres":  # the postmaster: its reaped children
            total += int(fields[13]) + int(fields[14])
    return total / TICKS


def _database_stat(column: str) -> float:
    """A column of this database's row of pg_stat_database, as of now."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            f"SELECT {column} FROM pg_stat_database WHERE datname = current_database()"  # noqa: S608 - a column of ours
        )
        return float(cursor.fetchone()[0] or 0)


def database_active_seconds() -> float:
    """Seconds this database's backends spent running statements, so far (PostgreSQL's
    pg_stat_database.active_time: CPU, and the waits for disk and locks within them)."""
    return _database_stat("active_time") / 1000


def database_commits() -> int:
    """Transactions this database has committed so far (pg_stat_database.xact_commit)."""
    return int(_database_stat("xact_commit"))


def database_bytes() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'm')"
        )
        return int(cursor.fetchone()[0])


def host_speed(steps: int = 20_000_000) -> float:
    """CPU seconds this process takes for a fixed Python loop: how fast the machine's
    cores are at the moment. A shared VM's cores run faster or slower from hour to hour,
    and the fleet's figures with them; runs are comparable only at a like figure."""
    began = time.process_time()
    n = 0
    while n < steps:
        n += 1
    return time.process_time() - began


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f}/{five:.1f}/{fifteen:.1f} on {os.cpu_count()} cores"


def graph_hourly_limit() -> int:
    from partner_portal.alerts.reads.health import hourly_limit
    from partner_portal.alerts.sync import sources

    found = sources.find(GRAPH_SOURCES[0])
    assert found is not None
    limit = hourly_limit(found.limits)
    assert limit is not None
    return limit


def stop_worker(process: subprocess.Popen[bytes]) -> None:
    """A warm shutdown of a worker and its pool: running passes finish first."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=60)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def forget_tokens(redis_url: str) -> int:
    """Delete every cached token (and its lock) from the portal's Redis: with the workers
    restarted too, no process holds a token, and each tenant's next pass must ask for
    one. Returns how many keys went."""
    import redis

    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match="*tokens:*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


def tenant_usage(sandbox: Any, tenant_ids: list[str], hours: float) -> dict[str, Any]:
    """The busiest tenant's calls against Graph's limits, from the sandbox's per-tenant
    counts since they were last reset: its most calls in any minute on one Graph API
    (Graph's limit is per minute), its calls per hour on one API, and its token requests."""

    def one(tenant_id: str) -> dict[str, Any]:
        answer = sandbox.control("GET", f"/_sandbox/stats?tenant={tenant_id}")
        answer.raise_for_status()
        return dict(answer.json())

    with ThreadPoolExecutor(8) as pool:
        snapshots = list(pool.map(one, tenant_ids))
    apis = [s["apis"].get(api, {}) for s in snapshots for api in GRAPH_SOURCES]
    tokens = [int(s["token_requests"]) for s in snapshots]
    return {
        "max_per_minute": max((a.get("max_calls_per_minute", 0) for a in apis), default=0),
        "max_per_hour": max((a.get("calls_total", 0) for a in apis), default=0) / hours,
        "calls_total": sum(a.get("calls_total", 0) for a in apis),
        "throttled": sum(int(s["throttled_total"]) for s in snapshots),
        "tokens_max": max(tokens, default=0),
        "tokens_min": min(tokens, default=0),
        "tokens_total": sum(tokens),
    }


def per_minute_limit(source: str) -> int:
    """The most calls a minute Microsoft admits for one tenant on `source`'s API."""
    from partner_portal.alerts.sync import sources

    found = sources.find(source)
    assert found is not None
    return min(int(calls * 60 / seconds) for calls, seconds in found.limits if seconds <= 60)


def freshness(lags: list[float]) -> dict[str, float]:
    """p50 and p95 of seconds from an alert's creation to its row."""
    lags = sorted(lags)
    if not lags:
        return {"p50": float("nan"), "p95": float("nan"), "n": 0}
    return {
        "p50": statistics.median(lags),
        "p95": lags[int(0.95 * (len(lags) - 1))],
        "n": len(lags),
    }


def lag_seconds(born: datetime | None, synced: datetime | None) -> float | None:
    if born is None or synced is None:
        return None
    return (synced - born).total_seconds()


#: A finished task in a worker's log: "Task alerts.dispatch_due_syncs[<id>] succeeded in 0.12s".
_SUCCEEDED = re.compile(r"Task (?P<task>[\w.]+)\[[^\]]+\] succeeded in (?P<seconds>[\d.]+)s")


def log_offsets(directory: Path) -> dict[Path, int]:
    """Where each worker log ends now: what is written after it is the window's."""
    return {path: path.stat().st_size for path in directory.glob("worker*.log")}


#: A sync task's result as logged: "{'graph_alerts': 'succeeded', 'graph_incidents': None}",
#: and a task of quiet customers' "{12: {'graph_alerts': 'succeeded', ...}, 13: {...}}".
_PASS_OUTCOME = re.compile(r"'\w+': (?:'\w+'|None)")
#: The tasks that run a customer's passes (one customer; a few quiet ones).
CUSTOMER_TASKS = ("alerts.sync_customer", "alerts.sync_customers")
_SYNC_TASKS = (*CUSTOMER_TASKS, "alerts.sync_customer_source")


def sync_passes(directory: Path, since: dict[Path, int]) -> int:
    """The sync passes the workers logged after `since`: one for each source in a
    customer's task (each customer's, in a task of quiet customers), one for a task of a
    single source."""
    passes = 0
    for path in sorted(directory.glob("worker*.log")):
        with path.open("rb") as log:
            log.seek(since.get(path, 0))
            text = log.read().decode(errors="replace")
        for line in text.splitlines():
            match = _SUCCEEDED.search(line)
            if match is None or match["task"] not in _SYNC_TASKS:
                continue
            if match["task"] in CUSTOMER_TASKS:
                passes += len(_PASS_OUTCOME.findall(line[match.end() :]))
            else:
                passes += 1
    return passes


def task_seconds(directory: Path, since: dict[Path, int]) -> dict[str, list[float]]:
    """Each task's run times (as its worker logged them) written after `since`."""
    seconds: dict[str, list[float]] = {}
    for path in sorted(directory.glob("worker*.log")):
        with path.open("rb") as log:
            log.seek(since.get(path, 0))
            text = log.read().decode(errors="replace")
        for match in _SUCCEEDED.finditer(text):
            seconds.setdefault(match["task"], []).append(float(match["seconds"]))
    return seconds
