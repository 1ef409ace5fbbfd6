"""`make run`'s supervisor: everything comes up, the demo admin signs in, Ctrl-C stops all."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.error
import urllib.request
from http.cookiejar import CookieJar
from pathlib import Path
from urllib.parse import urlencode

from tests.fixtures.portal_process import (
    embedded_env,
    free_port,
    read_until_running,
    spawn_run_portal,
)
from tests.waiting import wait_until


def _get(
    opener: urllib.request.OpenerDirector, url: str | urllib.request.Request
) -> tuple[int, str]:
    try:
        with opener.open(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_run_portal_serves_signs_in_runs_tasks_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    env = embedded_env(
        tmp_path,
        HEARTBEAT_SECONDS="1",
        SYNC_DISPATCH_SECONDS="1",
        SANDBOX_CONFIG_FILE=str(tmp_path / "no-sandbox" / "sandbox.json"),
    )
    supervisor = spawn_run_portal(port, env, worker_concurrency=1)
    lines: list[str] = []
    try:
        output = read_until_running(supervisor, lines, timeout=90)
        assert f"http://127.0.0.1:{port}" in output, output
        username, password = re.search(r"demo admin: (\S+) / (\S+)", output).groups()  # type: ignore[union-attr]

        jar = CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        base = f"http://127.0.0.1:{port}"
        status, body = _get(opener, f"{base}/healthz?code=secret-consent-code")
        assert status == 200, body

        # DEBUG is off under `make run`: a forged Host and an unknown page get the
        # portal's own pages, never Django's debug page with the settings.
        forged = urllib.request.Request(f"{base}/", headers={"Host": "evil.example"})
        status, body = _get(opener, forged)
        assert status == 400, body
        assert "Bad request" in body and "Partner Portal" in body
        for debug_mark in ("DisallowedHost", "Traceback", "CELERY_BROKER_URL", "settings"):
            assert debug_mark not in body
        status, body = _get(opener, f"{base}/no-such-page/")
        assert status == 404 and "Page not found" in body
        assert "Using the URLconf" not in body
        # Static files are served without a collectstatic step.
        status, css = _get(opener, f"{base}/static/css/portal.css")
        assert status == 200 and "{" in css

        status, page = _get(opener, f"{base}/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
        form = urlencode({"username": username, "password": password, "csrfmiddlewaretoken": token})
        request = urllib.request.Request(f"{base}/accounts/login/", data=form.encode())
        request.add_header("Referer", f"{base}/accounts/login/")
        with opener.open(request, timeout=10) as response:
            home = response.read().decode()
        assert "Portal admins" in home

        # Beat schedules the heartbeat; the worker consumes it and writes the row.
        def worker_beat() -> dict:
            worker: dict = json.loads(_get(opener, f"{base}/healthz")[1]).get("worker", {})
            return worker if worker.get("last_heartbeat") else {}

        worker = wait_until(worker_beat, timeout=60, message=lambda: "no worker heartbeat arrived")
        assert worker.get("last_heartbeat"), "no worker heartbeat arrived"
        # The one worker, started without -Q, also takes the dispatcher's own queue.
        assert supervisor.stdout is not None
        dispatched = re.compile(r"Task alerts\.dispatch_due_syncs\[[^\]]+\] succeeded")
        deadline = time.monotonic() + 60
        for line in supervisor.stdout:  # beat logs every second: lines keep coming
            lines.append(line)
            if dispatched.search(line) or time.monotonic() > deadline:
                break
        assert dispatched.search("".join(lines)), "no dispatcher cycle ran in the worker"

        # Database, key, broker, beat schedule: nothing in the data folder is readable by
        # another account.
        names = {path.name for path in tmp_path.rglob("*")}
        assert {"portal.sqlite3", "secret_key", "broker"} <= names
        assert any(name.startswith("celerybeat-schedule") for name in names)
        exposed = [
            f"{path.relative_to(tmp_path)}: {oct(path.stat().st_mode & 0o777)}"
            for path in [tmp_path, *tmp_path.rglob("*")]
            if path.exists() and path.stat().st_mode & 0o077
        ]
        assert exposed == []
    finally:
        supervisor.send_signal(signal.SIGINT)
        rest, _ = supervisor.communicate(timeout=60)
        lines.append(rest)
    output = "".join(lines)
    assert supervisor.returncode == 0, output
    # The access log names paths only: a consent callback's code must not be logged.
    assert '"GET /healthz"' in output
    assert "secret-consent-code" not in output
    for name in ("web", "beat", "worker"):
        assert f"Stopped {name}." in output
    pids = [int(pid) for pid in re.findall(r"Started \w+ \(pid (\d+)\)", output)]
    assert pids

    def gone(pid: int) -> bool:
        try:
            return "zombie" in Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            return True

    # The supervisor has returned; its children may take a moment to be reaped.
    wait_until(
        lambda: all(gone(pid) for pid in pids), timeout=10, every=0.1,
        message=lambda: f"still running: {[pid for pid in pids if not gone(pid)]}",
    )  # fmt: skip
    for pid in pids:
        assert gone(pid)
