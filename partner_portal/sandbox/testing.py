"""Start the sandbox as a subprocess for tests and benchmarks.

``SandboxProcess`` runs ``python -m partner_portal.sandbox --port 0 --state-dir DIR``,
waits until it prints its ready line, and exposes what a client needs: the parsed
``sandbox.json`` (``.config``), the origin (``.url``), the plain-HTTP origin of the
browser pages (``.browser_url``, on a free port too), the CA file and a ``control()``
helper for the ``/_sandbox/`` API. Requests made here ignore the environment's proxy and
CA settings (``trust_env=False``), because ``REQUESTS_CA_BUNDLE`` would otherwise
override ``verify``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import requests

READY_PREFIX = "sandbox ready "
# Generous: starting with tens of thousands of alerts on a busy 2-core machine takes a while,
# and this is only an upper bound on waiting for the ready line.
DEFAULT_TIMEOUT = 120.0


def token_requests(stats: Mapping[str, Any]) -> int | None:
    """The token requests a tenant's ``GET /_sandbox/stats`` answer counts, or None when
    it names no such count."""
    data = stats
    for name in ("token_requests", "tokens_issued", "token_calls"):
        if isinstance(data.get(name), int):
            return int(data[name])
    nested = data.get("tokens") or data.get("identity") or {}
    if isinstance(nested, dict):
        for name in ("requests", "issued", "total"):
            if isinstance(nested.get(name), int):
                return int(nested[name])
    return None


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


class SandboxProcess:
    """A sandbox subprocess with its own state folder.

    Options are the command-line options as keyword arguments, e.g.
    ``SandboxProcess(tenants=3, consented=2, alerts_per_tenant=50, arrival_rate=0,
    no_rate_limit=True, redirect_uri=["http://127.0.0.1:9000/cb"])``: ``True`` adds a bare
    flag, a list repeats the option, ``None``/``False`` leaves it out.
    """

    def __init__(
        self,
        state_dir: str | Path | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        **options: Any,
    ) -> None:
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        if state_dir is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="sandbox-")
            state_dir = self._tmp.name
        self.state_dir = Path(state_dir)
        self.options = options
        self.timeout = timeout
        self.process: subprocess.Popen[str] | None = None
        self.url = ""
        self.config: dict[str, Any] = {}
        self.output: deque[str] = deque(maxlen=200)
        self._session: requests.Session | None = None
        self.startup_seconds = 0.0

    # ---- life cycle -----------------------------------------------------------------

    def command(self) -> list[str]:
        args = [sys.executable, "-m", "partner_portal.sandbox", "--state-dir", str(self.state_dir)]
        options = {"port": 0, "browser_port": 0, "quiet": True, **self.options}
        for name, value in options.items():
            if value is None or value is False:
                continue
            if value is True:
                args.append(_flag(name))
            elif isinstance(value, list | tuple):
                for item in value:
                    args += [_flag(name), str(item)]
            else:
                args += [_flag(name), str(value)]
        return args

    def start(self) -> SandboxProcess:
        """Start and wait (bounded) for the ready line; RuntimeError if it never comes."""
        root = Path(__file__).resolve().parents[2]
        env = {k: v for k, v in os.environ.items() if k != "SANDBOX_STATE_DIR"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(root), env.get("PYTHONPATH")]))
        began = time.perf_counter()
        # The command is this interpreter, this package and our own options.
        self.process = subprocess.Popen(  # noqa: S603
            self.command(),
            cwd=root,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        ready = threading.Event()
        assert self.process.stdout is not None
        stream = self.process.stdout

        def pump() -> None:
            # Keep reading so the child never blocks on a full pipe.
            for line in stream:
                self.output.append(line.rstrip())
                if line.startswith(READY_PREFIX) and not ready.is_set():
                    self.url = line[len(READY_PREFIX) :].strip()
                    ready.set()

        threading.Thread(target=pump, name="sandbox-output", daemon=True).start()
        deadline = time.monotonic() + self.timeout
        while not ready.wait(0.05):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                log = "\n".join(self.output)
                raise RuntimeError(f"the sandbox did not become ready:\n{log}")
        self.startup_seconds = time.perf_counter() - began
        self.reload_config()
        return self

    def reload_config(self) -> dict[str, Any]:
        """Read ``sandbox.json`` again (it is rewritten when tenants or consent change)."""
        self.config = json.loads((self.state_dir / "sandbox.json").read_text(encoding="utf-8"))
        return self.config

    def stop(self) -> None:
        """Terminate (the sandbox saves pending changes), then kill if it lingers."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        if self._session is not None:
            self._session.close()
            self._session = None

    def cleanup(self) -> None:
        """Stop and remove a temporary state folder made by this object."""
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> SandboxProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.cleanup()

    # ---- helpers --------------------------------------------------------------------

    @property
    def browser_url(self) -> str:
        """The plain-HTTP loopback origin of the consent and sign-in pages."""
        return str(self.config["browser_login_url"])

    @property
    def ca_file(self) -> str:
        return str(self.config["ca_file"])

    @property
    def tenants(self) -> list[dict[str, Any]]:
        return list(self.config["tenants"])

    def session(self) -> requests.Session:
        """A new session that trusts the sandbox's CA and ignores proxy/CA env settings."""
        session = requests.Session()
        session.trust_env = False
        session.verify = self.ca_file
        return session

    def control(self, method: str, path: str, json: Any = None, **kwargs: Any) -> requests.Response:
        """Call the control API, e.g. ``control("POST", "/_sandbox/tenants/ID/consent")``."""
        if self._session is None:
            self._session = self.session()
        if not path.startswith("/"):
            path = "/" + path
        return self._session.request(method, self.url + path, json=json, timeout=30, **kwargs)

    def token(
        self, tenant_id: str, scope: str = "https://api.securitycenter.microsoft.com/.default"
    ) -> str:
        """A client-credentials token for ``tenant_id`` with the app's secret (plain HTTP)."""
        if self._session is None:
            self._session = self.session()
        response = self._session.post(
            f"{self.url}/{tenant_id}/oauth2/v2.0/token",
            data={
                "client_id": self.config["client_id"],
                "client_secret": self.config["client_secret"],
                "scope": scope,
                "grant_type": "client_credentials",
            },
            timeout=30,
        )
        response.raise_for_status()
        return str(response.json()["access_token"])
