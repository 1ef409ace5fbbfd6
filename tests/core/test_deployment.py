"""Production settings and the compose file: checked without a Docker engine."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SETTINGS_SOURCE = (ROOT / "partner_portal" / "settings.py").read_text()


def _production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "DJANGO_SETTINGS_MODULE"}}
    env.update(
        DJANGO_SETTINGS_MODULE="partner_portal.settings",
        SECRET_KEY="prod-" + "k3y-" * 16,
        ALLOWED_HOSTS="portal.example.com",
        PUBLIC_BASE_URL="https://portal.example.com",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        PORTAL_DATA_DIR=str(tmp_path),
        DEBUG="false",
    )
    env.update(extra)
    return env


def _manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_gives_no_warning_under_production_settings(tmp_path: Path) -> None:
    result = _manage(_production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(tmp_path: Path) -> None:
    env = _production_env(tmp_path)
    env.pop("SECRET_KEY")
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_partner_app_without_a_credential_is_refused(tmp_path: Path) -> None:
    env = _production_env(tmp_path, PARTNER_APP_CLIENT_ID="11111111-2222-3333-4444-555555555555")
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "PARTNER_APP_CLIENT_SECRET" in result.stderr


def test_a_malformed_field_encryption_key_refuses_to_start(tmp_path: Path) -> None:
    good = "A" * 43 + "="  # 32 bytes in URL-safe base64
    env = _production_env(tmp_path, FIELD_ENCRYPTION_KEY=f"{good},not-a-fernet-key")
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "FIELD_ENCRYPTION_KEY: key 2 of 2 is not a Fernet key" in result.stderr
    assert "not-a-fernet-key" not in result.stderr

    result = _manage(_production_env(tmp_path, FIELD_ENCRYPTION_KEY=f" {good} , {good}"), "check")
    assert result.returncode == 0, result.stdout + result.stderr


def test_embedded_default_generates_and_keeps_a_secret_key(tmp_path: Path) -> None:
    env = _production_env(tmp_path, DEBUG="true")
    env.pop("SECRET_KEY")
    assert _manage(env, "check").returncode == 0
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"
    assert _manage(env, "check").returncode == 0
    assert (tmp_path / "secret_key").read_text() == key


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_defines_the_production_services_with_health_checks(compose: dict) -> None:
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name


def test_compose_commands_name_modules_that_exist(compose: dict) -> None:
    services = compose["services"]
    web = services["web"]["command"]
    assert web[0] == "gunicorn"
    module = web[1]
    assert (ROOT / (module.replace(".", "/") + ".py")).exists()
    for name in ("worker", "beat"):
        command = services[name]["command"]
        assert command[:3] == ["celery", "-A", "partner_portal"]
        assert (ROOT / "partner_portal" / "celery.py").exists()
    assert services["migrate"]["command"][:2] == ["python", "manage.py"]


def test_compose_and_env_example_only_set_variables_the_settings_read(compose: dict) -> None:
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', SETTINGS_SOURCE))
    set_by_compose = set(compose["x-portal"]["environment"])
    example = {
        line.split("=", 1)[0]
        for line in (ROOT / ".env.example").read_text().splitlines()
        if line and not line.startswith("#")
    }
    assert set_by_compose <= read
    assert example - {"POSTGRES_PASSWORD"} <= read


def test_compose_points_the_portal_at_its_postgres_and_redis(compose: dict) -> None:
    environment = compose["x-portal"]["environment"]
    assert environment["DATABASE_URL"].startswith("postgres://portal:")
    assert "@postgres:5432/portal" in environment["DATABASE_URL"]
    assert environment["CELERY_BROKER_URL"].startswith("redis://redis:6379/")
    assert environment["REDIS_URL"].startswith("redis://redis:6379/")


def test_a_plain_http_public_address_is_refused_outside_loopback(tmp_path: Path) -> None:
    env = _production_env(tmp_path, PUBLIC_BASE_URL="http://portal.example.com")
    result = _manage(env, "check")
    assert result.returncode != 0
    assert "portal.E001" in result.stderr
    ok = _manage(_production_env(tmp_path, PUBLIC_BASE_URL="https://portal.example.com"), "check")
    assert ok.returncode == 0, ok.stderr


def test_every_setting_read_from_the_environment_is_documented_in_the_readme() -> None:
    read = set(re.findall(r'env(?:\.\w+)?\(\s*"([A-Z_]+)"', SETTINGS_SOURCE))
    readme = (ROOT / "README.md").read_text()
    undocumented = sorted(name for name in read if f"`{name}`" not in readme)
    assert undocumented == []


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"PARTNER_CLOUD": "azure-china"}, "PARTNER_CLOUD='azure-china' is not known"),
        ({"PARTNER_API_REGION": "mars"}, "PARTNER_API_REGION='mars' is not known"),
        ({"PARTNER_CLOUD": "gcc", "PARTNER_API_REGION": "eu"}, "leave it empty"),
        ({"RETAIN_SYNC_RUNS": "0"}, "RETAIN_SYNC_RUNS must be 1 or more (it is 0)"),
        ({"RETAIN_ALERTS_DAYS": "-1"}, "RETAIN_ALERTS_DAYS must be 0 or more"),
        ({"RETENTION_HOUR_UTC": "24"}, "RETENTION_HOUR_UTC must be an hour, 0 to 23"),
        ({"SYNC_DISPATCH_BATCH": "0"}, "SYNC_DISPATCH_BATCH must be 1 or more (it is 0)"),
        ({"STAFF_SIGNIN_TENANT_ID": "contoso"}, "must be the partner tenant's ID (a GUID)"),
        (
            {"STAFF_SIGNIN_TENANT_ID": "11111111-2222-4333-8444-555555555555"},
            "STAFF_SIGNIN_GROUPS is empty",
        ),
        ({"STAFF_SIGNIN_GROUPS": "Analysts"}, "is not '<group ID>=<role or team>'"),
        ({"STAFF_SIGNIN_AUTH_CONTEXT": "mfa"}, "STAFF_SIGNIN_AUTH_CONTEXT='mfa' is not an"),
        ({"STAFF_SIGNIN_AUTH_CONTEXT": "c100"}, "c1 to c99"),
        ({"STAFF_SIGNIN_REQUIRE_MFA": "true"}, "set STAFF_SIGNIN_AUTH_CONTEXT"),
    ],
)
def test_an_unknown_default_cloud_or_region_or_a_retention_out_of_range_is_refused(
    tmp_path: Path, values: dict[str, str], message: str
) -> None:
    result = _manage(_production_env(tmp_path, **values), "check")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_the_default_cloud_and_region_are_read_as_written(tmp_path: Path) -> None:
    env = _production_env(tmp_path, PARTNER_CLOUD=" GCC_High ", PARTNER_API_REGION="")
    code = (
        "from django.conf import settings as s; print(s.PARTNER_CLOUD, repr(s.PARTNER_API_REGION))"
    )
    result = _manage(env, "shell", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "gcc_high ''"


def test_the_settings_know_the_same_clouds_and_regions_as_the_customer_model() -> None:
    import partner_portal.settings as project_settings
    from tenants.models import CloudChoice, RegionChoice

    assert project_settings._clouds == tuple(CloudChoice.values)
    assert project_settings._api_regions == tuple(RegionChoice.values)


def test_embedded_mode_runs_without_debug_over_plain_http(tmp_path: Path) -> None:
    # A data folder left open by an earlier version is closed to other accounts.
    (tmp_path / "data").mkdir()
    (tmp_path / "data").chmod(0o755)
    env = _production_env(tmp_path / "data", EMBEDDED="true")
    env.pop("SECRET_KEY")
    shown = (
        "from django.conf import settings as s; "
        "print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.WHITENOISE_USE_FINDERS)"
    )
    result = _manage(env, "shell", "-c", shown)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].split() == ["False", "False", "False", "True"]
    data = tmp_path / "data"
    assert oct(data.stat().st_mode & 0o777) == "0o700"
    assert oct((data / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_embedded_database_is_created_private_whatever_the_umask(tmp_path: Path) -> None:
    """`manage.py migrate` run by hand (umask 022 here) still leaves the database 0600."""
    env = _production_env(tmp_path, EMBEDDED="true")
    env.pop("DATABASE_URL")
    env.pop("SECRET_KEY")
    previous = os.umask(0o022)
    try:
        result = _manage(env, "migrate", "--verbosity", "0")
    finally:
        os.umask(previous)
    assert result.returncode == 0, result.stderr
    database = tmp_path / "portal.sqlite3"
    assert database.exists()
    for path in tmp_path.glob("portal.sqlite3*"):
        assert oct(path.stat().st_mode & 0o777) == "0o600", path.name


def _workers(services: dict) -> dict[str, list[str]]:
    """The compose file's Celery workers: each service's name and the queues its `-Q` names."""
    workers: dict[str, list[str]] = {}
    for name, service in services.items():
        command = service.get("command") or []
        if command[:4] == ["celery", "-A", "partner_portal", "worker"]:
            assert "-Q" in command, f"{name}: a worker without -Q would take every queue"
            workers[name] = command[command.index("-Q") + 1].split(",")
    return workers


def _consumed_queues(services: dict) -> set[str]:
    """The queues the compose file's Celery workers consume, together."""
    return {queue for queues in _workers(services).values() for queue in queues}


def _declared_queues(settings: Any) -> set[str]:
    return {queue.name for queue in settings.CELERY_TASK_QUEUES}


def test_notifications_are_sent_from_a_queue_of_their_own(settings: Any) -> None:
    from partner_portal.celery import app

    for task in ("notifications.deliver", "notifications.deliver_due"):
        assert app.amqp.router.route({}, task)["queue"].name == settings.NOTIFY_QUEUE
    for task in ("alerts.sync_customer", "alerts.sync_customer_source"):
        assert app.amqp.router.route({}, task)["queue"].name == "celery"


def test_the_dispatcher_is_sent_to_a_queue_of_its_own(settings: Any) -> None:
    from partner_portal.celery import app

    route = app.amqp.router.route({}, "alerts.dispatch_due_syncs")
    assert route["queue"].name == settings.SYNC_DISPATCH_QUEUE == "dispatch"
    # Every queue a task is routed to is declared, and so has a worker (below).
    routed = {r["queue"] for r in settings.CELERY_TASK_ROUTES.values()}
    assert routed <= _declared_queues(settings)


def test_beats_dispatch_requests_expire_rather_than_pile_up(settings: Any) -> None:
    """One dispatcher runs one cycle at a time: when cycles outlast beat's period, the
    requests not started in time are dropped, not kept in Redis without end."""
    entry = settings.CELERY_BEAT_SCHEDULE["dispatch-due-syncs"]
    expires = entry["options"]["expires"]
    # Long enough that a busy worker still starts one; short enough to bound the queue.
    assert entry["schedule"] * 2 <= expires <= 120


def test_compose_gives_every_queue_a_worker(compose: dict, settings: Any) -> None:
    """A queue without a worker is a silent outage: its tasks pile up in Redis."""
    declared = _declared_queues(settings)
    assert declared == {
        settings.SYNC_QUEUE, settings.SYNC_BACKFILL_QUEUE, settings.NOTIFY_QUEUE,
        settings.SYNC_DISPATCH_QUEUE,
    }  # fmt: skip
    assert _consumed_queues(compose["services"]) == declared


def test_compose_runs_the_dispatcher_once_in_one_process(compose: dict, settings: Any) -> None:
    services = compose["services"]
    takers = [
        name
        for name, queues in _workers(services).items()
        if settings.SYNC_DISPATCH_QUEUE in queues
    ]
    assert takers == ["dispatcher"]
    # Its own queue only: no pass or message waits behind it, nor it behind them.
    assert _workers(services)["dispatcher"] == [settings.SYNC_DISPATCH_QUEUE]
    # One cycle at a time, in a child process whose time limits hold (threads and solo
    # pools enforce none).
    command = services["dispatcher"]["command"]
    assert command[command.index("--pool") + 1] == "prefork"
    assert command[command.index("--concurrency") + 1] == "1"
    assert "deploy" not in services["dispatcher"]  # no replicas beyond the one
    # The passes' and the backfills' workers do not take it.
    for name in ("worker", "backfill-worker"):
        assert settings.SYNC_DISPATCH_QUEUE not in _workers(services)[name], name


def test_the_second_machine_adds_pass_workers_only(settings: Any) -> None:
    workers_only = yaml.safe_load((ROOT / "docker-compose.workers.yml").read_text())
    # Every queue but the dispatcher's, which runs once, on the first machine with beat.
    wanted = _declared_queues(settings) - {settings.SYNC_DISPATCH_QUEUE}
    assert _consumed_queues(workers_only["services"]) == wanted
    # One beat, one dispatcher, one database, one broker: all on the first machine.
    assert set(workers_only["services"]) == {"worker", "backfill-worker"}
