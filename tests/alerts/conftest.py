"""Fixtures for sync tests: customers bound to the sandbox's consented tenants."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from partner_portal.sandbox.catalog import GRAPH_ROLES
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft
from tenants.models import Customer, CustomerStatus
from tests.alerts.factories import CustomerFactory


def point_portal_at(sandbox: SandboxProcess, settings: Any) -> None:
    settings.PARTNER_APP_CLIENT_ID = ""
    settings.SANDBOX_CONFIG_FILE = str(Path(sandbox.state_dir) / "sandbox.json")
    microsoft.reset_for_tests()


@pytest.fixture
def bind_customers(settings: Any, db: None) -> Iterator[Callable[..., list[Customer]]]:
    """Create an active customer for each consented tenant of a sandbox: on the legacy
    Defender APIs (granted the tenant's roles but Graph's), or `on_graph=True`."""

    def bind(sandbox: SandboxProcess, *, on_graph: bool = False, **fields: Any) -> list[Customer]:
        point_portal_at(sandbox, settings)
        customers = []
        for tenant in sandbox.tenants:
            if not tenant["consented"]:
                continue
            roles = [r for r in tenant["roles"] if on_graph or r not in GRAPH_ROLES]
            customers.append(
                CustomerFactory(
                    display_name=tenant["name"],
                    tenant_id=tenant["tenant_id"],
                    status=CustomerStatus.ACTIVE,
                    granted_roles=sorted(roles),
                    **fields,
                )
            )
        return customers

    yield bind
    microsoft.reset_for_tests()


MIRRORED = {
    # column: (API field, how to turn the API value into the column's value)
    "title": "title",
    "severity": "severity",
    "status": "status",
    "category": "category",
    "detection_source": "detectionSource",
    "assigned_to": "assignedTo",
    "machine_id": "machineId",
    "computer_dns_name": "computerDnsName",
    "incident_id": "incidentId",
    "classification": "classification",
    "determination": "determination",
}


def ground_truth(sandbox: SandboxProcess, tenant_id: str) -> dict[str, dict[str, Any]]:
    response = sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant_id}")
    response.raise_for_status()
    return {alert["id"]: alert for alert in response.json()["value"]}


def differences(customer: Customer, truth: dict[str, dict[str, Any]]) -> list[str]:
    """Every way the portal's rows differ from the sandbox's alerts (empty when equal)."""
    from partner_portal.alerts.models import Alert
    from partner_portal.defender import parse_timestamp

    rows = {a.alert_id: a for a in Alert.objects.filter(customer=customer)}
    problems = []
    missing = set(truth) - set(rows)
    extra = set(rows) - set(truth)
    if missing:
        problems.append(f"{len(missing)} alerts missing, e.g. {sorted(missing)[:3]}")
    if extra:
        problems.append(f"{len(extra)} unexpected alerts, e.g. {sorted(extra)[:3]}")
    for alert_id in set(truth) & set(rows):
        api, row = truth[alert_id], rows[alert_id]
        for column, field in MIRRORED.items():
            expected = api.get(field)
            expected = "" if expected is None and column != "incident_id" else expected
            if getattr(row, column) != expected:
                problems.append(f"{alert_id}.{column}: {getattr(row, column)!r} != {expected!r}")
        times = (
            ("last_updated_at", "lastUpdateTime"),
            ("created_at", "alertCreationTime"),
            ("resolved_at", "resolvedTime"),
        )
        for column, field in times:
            if getattr(row, column) != parse_timestamp(api.get(field)):
                problems.append(f"{alert_id}.{column} differs")
        if row.mitre_techniques != api.get("mitreTechniques", []):
            problems.append(f"{alert_id}.mitre_techniques differs")
    return problems


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[Any]:
    """A redis-server of the test's own (broker, locks, token cache, limiter)."""
    from tests.alerts.worker_support import PrivateRedis

    server = PrivateRedis(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def cluster_for(private_redis: Any, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """`cluster_for(sandbox)`: Celery workers and beat against the test database, the
    private Redis and that sandbox; every process is stopped at the end."""
    from tests.alerts.worker_support import Cluster

    made: list[Cluster] = []

    def make(sandbox: SandboxProcess) -> Cluster:
        cluster = Cluster(private_redis, sandbox, tmp_path)
        made.append(cluster)
        return cluster

    yield make
    for cluster in made:
        cluster.stop()
