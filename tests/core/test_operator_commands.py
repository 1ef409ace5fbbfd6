"""The README's operator commands work, exactly as written, beside a running `make run`;
a production configuration without a secret key is still refused."""

from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import sys
from pathlib import Path

from tests.fixtures.portal_process import (
    ROOT,
    embedded_env,
    free_port,
    read_until_running,
    spawn_run_portal,
)

README = (ROOT / "README.md").read_text()


def _operator_commands() -> list[str]:
    block = re.search(r"<!-- operator-commands -->\s*```sh\n(.*?)```", README, re.S)
    assert block, "README.md has no operator-commands block"
    lines = [line.split("#", 1)[0].strip() for line in block.group(1).splitlines()]
    return [line for line in lines if line]


def _as_run_here(command: str) -> list[str]:
    """The command with `.venv/bin/python` as this test's interpreter (the same venv)."""
    argv = shlex.split(command)
    assert argv[0] == ".venv/bin/python", command
    return [sys.executable, *argv[1:]]


def test_readme_operator_commands_work_beside_a_running_portal(tmp_path: Path) -> None:
    commands = _operator_commands()
    assert {shlex.split(c)[2] for c in commands} >= {"sync_now", "shell"}
    port = free_port()
    portal_env = embedded_env(
        tmp_path, SANDBOX_CONFIG_FILE=str(tmp_path / "no-sandbox" / "sandbox.json")
    )
    supervisor = spawn_run_portal(port, portal_env, worker_concurrency=1)
    lines: list[str] = []
    try:
        output = read_until_running(supervisor, lines, timeout=90)
        assert "Partner Portal is running at" in output, output
        username = re.search(r"demo admin: (\S+) /", output).group(1)  # type: ignore[union-attr]
        # The operator's shell: the data folder of `make run`, and nothing else set.
        operator_env = {k: v for k, v in portal_env.items() if k != "EMBEDDED"}
        for command in commands:
            stdin = None
            if shlex.split(command)[2] == "shell":
                stdin = (
                    "from django.contrib.auth import get_user_model\n"
                    f"admin = get_user_model().objects.filter(username={username!r})\n"
                    "print('admin there:', admin.exists())\n"
                )
            result = subprocess.run(
                _as_run_here(command), cwd=ROOT, env=operator_env, input=stdin,
                capture_output=True, text=True, timeout=120,
            )  # fmt: skip
            assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
            assert "SECRET_KEY" not in result.stderr
            if stdin:
                # The same database as the running portal: its demo admin is there.
                assert "admin there: True" in result.stdout, result.stdout
            if "sync_now" in command:
                assert "Nothing to sync." in result.stdout
    finally:
        supervisor.send_signal(signal.SIGINT)
        supervisor.communicate(timeout=60)
    assert supervisor.returncode == 0


def _bare_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SECRET_KEY", "EMBEDDED", "DEBUG", "CACHE_URL"}
    }
    env.update(DJANGO_SETTINGS_MODULE="partner_portal.settings", PORTAL_DATA_DIR=str(data_dir))
    env.update(extra)
    return env


def _check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_a_data_folder_no_embedded_run_used_still_needs_a_secret_key(tmp_path: Path) -> None:
    result = _check(_bare_env(tmp_path))
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr
    assert not (tmp_path / "secret_key").exists()


def test_a_named_database_without_secret_key_is_refused_even_beside_an_embedded_key(
    tmp_path: Path,
) -> None:
    (tmp_path / "secret_key").write_text("left by an embedded run\n")
    env = _bare_env(tmp_path, DATABASE_URL=f"sqlite:///{tmp_path / 'production.sqlite3'}")
    result = _check(env)
    assert result.returncode != 0
    assert "Set SECRET_KEY" in result.stderr
