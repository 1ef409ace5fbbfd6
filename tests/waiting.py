"""Waiting for a condition instead of for a fixed time.

A test that sleeps for a guessed time is slow when the guess is generous and flaky when
it is not; these poll for what the test is actually waiting for, up to a bound.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def wait_until(
    check: Callable[[], Any],
    *,
    timeout: float,
    every: float = 0.5,
    tick: Callable[[], None] | None = None,
    message: Callable[[], str] = lambda: "",
) -> Any:
    """Poll `check` until it returns something truthy, and return that; `tick` runs
    between polls. After `timeout` seconds, fail the test with `message()`."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout} s. {message()}")
        if tick is not None:
            tick()
        time.sleep(every)


def wait_for_next_second(after: float) -> None:
    """Wait until the wall clock's whole second is later than that of `after` (a
    `time.time()` value).

    For the sandbox, a separate process with no clock of ours to set: it compares a
    token's `iat` with the moment consent was removed in whole seconds, so "issued before
    the removal" needs the removal to fall in a later second. At most a second.
    """
    wait_until(
        lambda: int(time.time()) > int(after),
        timeout=2,
        every=0.01,
        message=lambda: f"the clock stayed at or before {after}",
    )
