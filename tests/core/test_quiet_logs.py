"""The log of a running portal says what happened without noise: a refused request is one
line, pages link a favicon (no 404 for /favicon.ico), the sandbox shortens its long URLs,
and the file broker names its host (no kombu warning on every connection)."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client

from partner_portal.sandbox.server import MAX_LOGGED_REQUEST, _shortened
from tests.fixtures.portal_process import ROOT, embedded_env


@pytest.mark.django_db
def test_a_refused_request_is_logged_in_one_line_without_traceback(
    analyst_client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="django.request"):
        assert analyst_client.get("/audit/").status_code == 403
    records = [r for r in caplog.records if r.name == "django.request"]
    assert records, "the 403 was not logged at all"
    assert all(r.exc_info is None and not r.exc_text for r in records)
    assert "Forbidden" in records[0].getMessage()
    assert "Traceback" not in caplog.text


@pytest.mark.django_db
def test_every_page_links_a_favicon_that_exists(analyst_client: Client) -> None:
    page = analyst_client.get("/alerts/").content.decode()
    assert 'rel="icon"' in page and "favicon.svg" in page
    assert finders.find("favicon.svg")


def test_the_sandbox_logs_a_long_request_line_shortened() -> None:
    line = "GET /v1.0/security/alerts_v2?$filter=" + " or ".join(
        f"id eq 'da{n:030d}'" for n in range(60)
    )
    short = _shortened(line)
    assert len(line) > 2000
    assert len(short) < MAX_LOGGED_REQUEST + 40
    assert short.startswith("GET /v1.0/security/alerts_v2") and f"({len(line)} characters)" in short
    assert _shortened("GET /healthz HTTP/1.1") == "GET /healthz HTTP/1.1"
    assert _shortened(200) == 200


def test_the_file_broker_connects_without_a_hostname_warning(tmp_path: Path) -> None:
    env = embedded_env(tmp_path)
    code = (
        "import logging; logging.basicConfig(); "
        "from partner_portal.celery import app; "
        "c = app.connection_for_write(); c._info(); print(c.as_uri())"
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "filesystem://" in result.stdout
    assert "No hostname was supplied" not in result.stderr
