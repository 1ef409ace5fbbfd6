"""/healthz: JSON with the state of the database, cache and broker."""

from __future__ import annotations

import pytest
from django.test import Client

from partner_portal.core import health
from partner_portal.core.services import heartbeat_record

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_when_every_service_answers(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name for name, check in body["checks"].items() if check["ok"]} == {
        "database",
        "cache",
        "broker",
    }


def test_healthz_answers_503_and_names_the_failing_service(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken() -> None:
        raise ConnectionRefusedError("redis://:hunter2@cache.internal:6379 refused")

    monkeypatch.setattr(health, "_cache", broken)
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["cache"] == {
        "ok": False,
        "ms": body["checks"]["cache"]["ms"],
        "error": "ConnectionRefusedError",
    }
    assert "hunter2" not in response.content.decode()


def test_healthz_reports_the_last_worker_heartbeat(client: Client) -> None:
    heartbeat_record(worker="celery@box")
    assert client.get("/healthz").json()["worker"]["age_seconds"] < 60


def test_heartbeat_counts_each_beat() -> None:
    heartbeat_record(worker="celery@box")
    assert heartbeat_record(worker="celery@box").beats == 2
