"""Run the whole portal on one machine: web, Celery worker and beat, and the sandbox.

`make run` calls this. Every part runs as a child process; Ctrl-C (or SIGTERM) stops
them all, the web server first and the sandbox last, and the command exits only once
each child has gone. If any child dies on its own, the rest are stopped too, so a
half-running portal is never left behind.

Everything it and its children write in the data folder (database, broker messages,
beat schedule, token caches, the sandbox's state) is created readable by the running
account only: the umask is set before anything starts.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from partner_portal.core.data_files import private_umask

STOP_GRACE_SECONDS = 15
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(m)s %(U)s" %(s)s %(b)s %(L)s'


@dataclass
class Child:
    name: str
    process: subprocess.Popen[bytes]


class Command(BaseCommand):
    help = "Start web, worker, beat (and the sandbox when no partner app is configured)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument(
            "--worker-concurrency", type=int, default=2, help="Passes the worker runs at once."
        )
        parser.add_argument(
            "--worker-pool",
            choices=["prefork", "threads"],
            default="prefork",
            help="prefork: a child process per task at once; threads: threads of one process, "
            "cheap enough for 16-32 at once, for syncs that wait on Microsoft (README, "
            '"How it scales").',
        )
        parser.add_argument("--demo-customers", type=int, default=3)
        parser.add_argument("--demo-pending", type=int, default=1)
        parser.add_argument(
            "--demo-legacy",
            type=int,
            default=1,
            help="Demo customers left on the legacy Defender APIs, to show the re-consent.",
        )
        parser.add_argument("--no-sandbox", action="store_true", help="Do not start the sandbox.")
        parser.add_argument("--no-demo", action="store_true", help="Do not onboard demo customers.")

    def handle(self, *args: Any, **options: Any) -> None:
        private_umask()
        self.children: list[Child] = []
        self.stopping = False
        signal.signal(signal.SIGINT, self._on_signal)
        signal.signal(signal.SIGTERM, self._on_signal)
        try:
            self._start_all(options)
            self._watch()
        finally:
            self._stop_all()

    # --- start -------------------------------------------------------------------------
    def _start_all(self, options: dict[str, Any]) -> None:
        uses_sandbox = not settings.PARTNER_APP_CLIENT_ID and not options["no_sandbox"]
        if uses_sandbox and importlib.util.find_spec("partner_portal.sandbox.__main__"):
            self._start_sandbox()
        elif settings.PARTNER_APP_CLIENT_ID:
            self.stdout.write("Partner app configured: talking to Microsoft, no sandbox.")

        call_command("migrate", interactive=False, verbosity=0)
        self.stdout.write("Database is up to date.")
        self.stdout.write(self._capture("ensure_demo_admin"))

        python = sys.executable
        celery = [python, "-m", "celery", "-A", "partner_portal"]
        embedded_broker = settings.CELERY_BROKER_URL.startswith("filesystem://")
        # The file broker has no broadcast channel; gossip, mingle and events need one.
        lonely = ["--without-gossip", "--without-mingle", "--without-heartbeat"]
        self._spawn(
            "worker",
            [
                *celery,
                "worker",
                "--loglevel",
                "INFO",
                "--pool",
                options["worker_pool"],
                "--concurrency",
                str(options["worker_concurrency"]),
                *(lonely if embedded_broker else []),
            ],
        )
        self._spawn("beat", [*celery, "beat", "--loglevel", "INFO"])
        bind = f"{options['host']}:{options['port']}"
        self._spawn(
            "web",
            [
                python,
                "-m",
                "gunicorn",
                "partner_portal.wsgi",
                "--bind",
                bind,
                "--workers",
                str(options["web_workers"]),
                "--threads",
                "4",
                # Path only: query strings (consent codes and states) stay out of the log.
                "--access-logformat",
                ACCESS_LOG_FORMAT,
                "--access-logfile",
                "-",
                "--graceful-timeout",
                "10",
            ],
        )
        url = f"http://{options['host']}:{options['port']}"
        self._wait_for(f"{url}/healthz", "web")
        self._seed_demo(options)
        self.stdout.write(self.style.SUCCESS(f"\nPartner Portal is running at {url}"))
        self.stdout.write("Press Ctrl-C to stop everything.\n")

    def _start_sandbox(self) -> None:
        state_dir = Path(settings.SANDBOX_CONFIG_FILE).parent
        self._spawn(
            "sandbox",
            [sys.executable, "-m", "partner_portal.sandbox", "--state-dir", str(state_dir)],
        )
        config_file = Path(settings.SANDBOX_CONFIG_FILE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            self._check_children()
            if config_file.exists():
                try:
                    config = json.loads(config_file.read_text())
                    self._wait_for(
                        config["login_url"].rstrip("/") + "/_sandbox/health",
                        "sandbox",
                        ca_file=config["ca_file"],
                    )
                    self.stdout.write(f"Sandbox (stand-in for Microsoft) at {config['login_url']}")
                    pages = config.get("browser_login_url")
                    if pages and pages != config["login_url"]:
                        self.stdout.write(f"Its consent and sign-in pages (plain HTTP) at {pages}")
                    return
                except (ValueError, KeyError, OSError):
                    pass
            time.sleep(0.3)
        raise CommandError("The sandbox did not start within 60 seconds.")

    def _seed_demo(self, options: dict[str, Any]) -> None:
        from django.core.management import get_commands

        if (
            options["no_demo"]
            or settings.PARTNER_APP_CLIENT_ID
            or not Path(settings.SANDBOX_CONFIG_FILE).exists()
            or "seed_demo" not in get_commands()
        ):
            return
        marker = Path(settings.DATA_DIR) / "demo-seeded"
        if marker.exists():
            return
        self.stdout.write("Onboarding the demo customers through the consent flow…")
        try:
            call_command(
                "seed_demo",
                customers=options["demo_customers"],
                pending=options["demo_pending"],
                legacy=options["demo_legacy"],
                portal_url=f"http://{options['host']}:{options['port']}",
                stdout=self.stdout,
            )
        except CommandError as exc:
            # The portal itself is fine; say what went wrong and keep it running.
            self.stderr.write(f"Demo customers were not onboarded: {exc}")
            return
        marker.write_text("done\n")

    def _capture(self, command: str) -> str:
        from io import StringIO

        out = StringIO()
        call_command(command, stdout=out)
        return out.getvalue().rstrip()

    def _spawn(self, name: str, argv: list[str]) -> None:
        # A session of its own: the terminal's Ctrl-C reaches only this supervisor, which
        # then stops the children in order.
        process = subprocess.Popen(argv, env=os.environ.copy(), start_new_session=True)  # noqa: S603
        self.children.append(Child(name, process))
        self.stdout.write(f"Started {name} (pid {process.pid}).")

    def _wait_for(self, url: str, name: str, *, ca_file: str | None = None) -> None:
        context = ssl.create_default_context(cafile=ca_file) if ca_file else None
        deadline = time.monotonic() + 60
        last_error = ""
        while time.monotonic() < deadline:
            self._check_children()
            try:
                with urllib.request.urlopen(url, timeout=3, context=context) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except Exception as exc:
                last_error = type(exc).__name__
            time.sleep(0.3)
        raise CommandError(f"{name} did not answer at {url} within 60 s ({last_error}).")

    # --- run and stop ----------------------------------------------------------------------
    def _on_signal(self, signum: int, frame: Any) -> None:
        self.stopping = True

    def _check_children(self) -> None:
        if self.stopping:
            raise CommandError("Stopped before the portal was up.")
        for child in self.children:
            code = child.process.poll()
            if code is not None:
                raise CommandError(f"{child.name} exited with code {code}; stopping the rest.")

    def _watch(self) -> None:
        while not self.stopping:
            self._check_children()
            time.sleep(0.5)

    def _stop_all(self) -> None:
        if not self.children:
            return
        self.stdout.write("\nStopping…")
        order = {"web": 0, "beat": 1, "worker": 2, "sandbox": 3}
        for child in sorted(self.children, key=lambda c: order.get(c.name, 9)):
            if child.process.poll() is None:
                child.process.send_signal(signal.SIGTERM)
                try:
                    child.process.wait(timeout=STOP_GRACE_SECONDS)
                except subprocess.TimeoutExpired:
                    os.killpg(child.process.pid, signal.SIGKILL)
                    child.process.wait()
            self.stdout.write(f"Stopped {child.name}.")
        self.children = []
