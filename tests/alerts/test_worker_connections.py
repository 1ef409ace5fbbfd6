"""A worker keeps its database connection from one task to the next (Celery would close
it around every task; partner_portal/celery.py), and a connection PostgreSQL ended in
between (a restart, a failover, an idle timeout) is replaced before the next task uses
it: the task runs, nothing is lost."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.db.models import Sum

from partner_portal.core.models import WorkerHeartbeat
from tests.alerts.worker_support import WORKER_TEST_MARKS, Cluster
from tests.waiting import wait_until

pytestmark = [*WORKER_TEST_MARKS, pytest.mark.sandbox]

# Other connections to the test database than this test's own.
OTHER_BACKENDS = (
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
    "AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
)


def _worker_backends() -> set[int]:
    with connection.cursor() as cursor:
        cursor.execute(OTHER_BACKENDS)
        return {row[0] for row in cursor.fetchall()}


def _beats() -> int:
    return WorkerHeartbeat.objects.aggregate(n=Sum("beats"))["n"] or 0


def _beat(cluster: Cluster, expected: int) -> None:
    """One task that writes to the database, run by the worker."""
    cluster.send("portal.core.record_heartbeat")
    wait_until(lambda: _beats() >= expected, timeout=120, every=0.2, message=cluster.logs)


def test_a_worker_keeps_its_connection_between_tasks_and_replaces_one_that_was_ended(
    sandbox_factory: Any, cluster_for: Any
) -> None:
    cluster: Cluster = cluster_for(sandbox_factory(tenants=1, consented=1, alerts_per_tenant=1))
    cluster.start_worker(concurrency=1, pool="threads")

    _beat(cluster, 1)
    first = _worker_backends()
    _beat(cluster, 2)
    _beat(cluster, 3)
    assert first and _worker_backends() == first  # the same backend served all three

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pid) FROM unnest(%s) AS pid", [list(first)])
    wait_until(lambda: not (_worker_backends() & first), timeout=30, every=0.1)

    _beat(cluster, 4)  # the next task runs all the same, on a new connection
    replaced = _worker_backends()
    assert replaced and not (replaced & first)
    assert "Traceback" not in cluster.logs()
