"""/healthz: JSON with the state of the database, cache and broker, the workers' last
heartbeat and the periodic duties' last runs."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

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


def test_healthz_gives_a_registered_duty_its_last_run_and_calls_it_late_after_three_periods(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(health._duties, "tidying", lambda: 10.0)
    cache.delete(health._duty_key("tidying"))
    assert client.get("/healthz").json()["duties"]["tidying"] == {"last_run": None, "late": True}

    health.duty_done("tidying")
    ran = client.get("/healthz").json()["duties"]["tidying"]
    assert ran["late"] is False and 0 <= ran["age_seconds"] < 30 and ran["period_seconds"] == 10

    # Reported, not judged: still 200, since a load balancer acts on the status.
    cache.set(health._duty_key("tidying"), (timezone.now() - timedelta(seconds=31)).isoformat())
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json()["duties"]["tidying"]["late"] is True


def test_a_duty_that_cannot_note_its_run_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refused(*args: Any, **kwargs: Any) -> None:
        raise ConnectionRefusedError("the cache is down")

    monkeypatch.setattr(health.cache, "set", refused)
    health.duty_done("sync_dispatcher")  # logged, not raised
    assert "Could not note the run of sync_dispatcher" in caplog.text


@pytest.mark.parametrize("stored", ["not a time", 12345, "2026-12-01T02:00:00"])
def test_a_duty_note_that_cannot_be_read_counts_as_never_seen_not_as_an_error(
    client: Client, monkeypatch: pytest.MonkeyPatch, stored: object
) -> None:
    monkeypatch.setitem(health._duties, "tidying", lambda: 10.0)
    cache.set(health._duty_key("tidying"), stored)  # a time without its zone, too
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["duties"]["tidying"] == {"last_run": None, "late": True}
