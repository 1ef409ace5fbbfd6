"""Real processes for the sync's integration tests: a private Redis server, Celery
workers and beat running the production settings against the test database."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from celery import Celery
from django.conf import settings
from django.db import connection

from partner_portal.sandbox.testing import SandboxProcess
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

#: The marks of a test that runs a real worker on PostgreSQL and Redis (its rows must be
#: committed for the worker to see them).
WORKER_TEST_MARKS = [
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def database_url_for_workers() -> str:
    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class PrivateRedis:
    """A redis-server of our own on a free port: nothing else shares its keys or queues,
    and a test may stop and restart it without disturbing anyone."""

    def __init__(self, data_dir: Path) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.process: subprocess.Popen[bytes] | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> PrivateRedis:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.data_dir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=1)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.RedisError:
                return False

        wait_until(answers, timeout=10, every=0.05, message=lambda: "redis-server did not start")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


class Cluster:
    """Workers and beat for one test, all sharing the private Redis and the test DB."""

    def __init__(self, redis_server: PrivateRedis, sandbox: SandboxProcess, tmp: Path) -> None:
        self.redis = redis_server
        self.sandbox = sandbox
        self.tmp = tmp
        self.processes: list[subprocess.Popen[bytes]] = []
        # Not the current app: tasks queued by the code under test keep going to the
        # portal's own app, whatever test ran before.
        self.app = Celery("sync-tests", broker=redis_server.url(0), set_as_current=False)
        self.app.conf.broker_connection_retry_on_startup = True

    def env(self, **overrides: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"CACHE_URL", "PARTNER_APP_CLIENT_ID", "DJANGO_SETTINGS_MODULE"}
        }
        env.update(
            DJANGO_SETTINGS_MODULE="partner_portal.settings",
            DATABASE_URL=database_url_for_workers(),
            CELERY_BROKER_URL=self.redis.url(0),
            REDIS_URL=self.redis.url(1),
            SANDBOX_CONFIG_FILE=str(Path(self.sandbox.state_dir) / "sandbox.json"),
            SECRET_KEY="sync-worker-tests-" + "x" * 40,
            PORTAL_DATA_DIR=str(self.tmp),
            DEBUG="false",
            CELERY_VISIBILITY_TIMEOUT="10",
            SYNC_LOCK_SECONDS="10",
        )
        env.update(overrides)
        return env

    def _spawn(self, args: list[str], name: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - the child owns it
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "partner_portal", *args],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so a kill takes every child
        )  # fmt: skip
        log.close()
        self.processes.append(process)
        return process

    def start_worker(
        self, concurrency: int = 4, queues: str | None = None, pool: str = "prefork", **env: str
    ) -> subprocess.Popen[bytes]:
        """A worker process running `concurrency` tasks at once in its `pool` (prefork:
        child processes; threads: threads of the one process); on `queues` (comma-separated,
        as `-Q` takes them), else on every queue, as a worker started without `-Q` is."""
        name = f"worker{len(self.processes)}"
        only = ["--queues", queues] if queues else []
        return self._spawn(
            ["worker", "--pool", pool, "--concurrency", str(concurrency),
             "--hostname", f"{name}@localhost",
             "--without-mingle", "--without-gossip", "--loglevel", "INFO", *only],
            name, self.env(**env),
        )  # fmt: skip

    def start_beat(self, **env: str) -> subprocess.Popen[bytes]:
        schedule = self.tmp / f"beat-{len(self.processes)}"
        return self._spawn(
            ["beat", "--schedule", str(schedule), "--loglevel", "INFO"],
            "beat", self.env(**{"SYNC_DISPATCH_SECONDS": "1", **env}),
        )  # fmt: skip

    def dispatch(self) -> None:
        """What beat does: ask a worker to run the dispatcher (on its `dispatch` queue, so
        a worker started on explicit queues needs that one among them)."""
        self.send("alerts.dispatch_due_syncs")

    def send(self, task: str, *args: object) -> None:
        """Queue the task named `task` for the workers, on the queue the portal routes it to."""
        route = settings.CELERY_TASK_ROUTES.get(task, {})
        queue = route.get("queue", settings.CELERY_TASK_DEFAULT_QUEUE)
        # An explicit connection: Celery would otherwise prefer CELERY_BROKER_URL from
        # the environment (the machine's Redis) over the app's broker.
        with self.app.connection_for_write(self.redis.url(0)) as conn:
            self.app.send_task(task, args=args, connection=conn, queue=queue)

    def kill(self, process: subprocess.Popen[bytes]) -> None:
        """SIGKILL the process and all its children: no goodbye, no ack."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=15)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    self.kill(process)
        self.app.close()

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.tmp.glob("*.log"))
        )
