"""What the sandbox's HTTP handler writes to its log."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from partner_portal.sandbox.server import _Handler


def handler() -> _Handler:
    # Only the logging methods are exercised: no socket, no request.
    made = _Handler.__new__(_Handler)
    made.server = SimpleNamespace(quiet=False)  # type: ignore[assignment]
    made.client_address = ("127.0.0.1", 50000)
    return made


def test_an_idle_keep_alive_connection_timing_out_is_not_logged_as_a_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.INFO, logger="partner_portal.sandbox"):
        handler().log_error("Request timed out: %r", TimeoutError("read timed out"))
    assert not [r for r in caplog.records if r.levelno >= logging.INFO]


def test_other_handler_errors_are_still_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="partner_portal.sandbox"):
        handler().log_error("code %d, message %s", 400, "Bad request syntax")
    assert any("Bad request syntax" in r.getMessage() for r in caplog.records)
