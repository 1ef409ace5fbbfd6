"""A real Celery worker process consumes a real task through Redis and writes to PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

from partner_portal.celery import app as celery_app
from partner_portal.core.models import WorkerHeartbeat
from tests.alerts.worker_support import ROOT, WORKER_TEST_MARKS, database_url_for_workers
from tests.waiting import wait_until

pytestmark = WORKER_TEST_MARKS


def test_worker_consumes_a_task_from_redis_and_writes_to_postgres(tmp_path: Path) -> None:
    queue = f"test-{uuid.uuid4().hex[:8]}"
    node = f"{queue}@localhost"
    env = dict(os.environ)
    env.update(
        DJANGO_SETTINGS_MODULE="partner_portal.settings",
        DATABASE_URL=database_url_for_workers(),
        SECRET_KEY="worker-test-" + "x" * 40,
        PORTAL_DATA_DIR=str(tmp_path),
        DEBUG="false",
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "partner_portal", "worker",
         "--queues", queue, "--hostname", node, "--concurrency", "1",
         "--pool", "solo", "--loglevel", "INFO"],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        celery_app.send_task("portal.core.record_heartbeat", queue=queue)

        def heartbeat() -> WorkerHeartbeat | None:
            assert worker.poll() is None, "the worker exited early"
            return WorkerHeartbeat.objects.filter(worker=node).first()

        beat = wait_until(
            heartbeat, timeout=60, every=0.25,
            message=lambda: "the worker never wrote its heartbeat",
        )  # fmt: skip
        assert beat is not None, "the worker never wrote its heartbeat"
        assert beat.beats == 1
    finally:
        worker.terminate()
        output, _ = worker.communicate(timeout=30)
    assert "portal.core.record_heartbeat" in output
    assert "succeeded" in output
