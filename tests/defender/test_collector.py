"""The cycle collector is paused while a page is read, and only then."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator

import pytest

from partner_portal.defender import MalformedResponse
from partner_portal.defender.collector import collector_paused
from partner_portal.defender.graph_records import parse_graph_alerts


@pytest.fixture(autouse=True)
def collector_on() -> Iterator[None]:
    gc.enable()
    yield
    gc.enable()


def test_the_collector_is_off_inside_and_on_again_after() -> None:
    with collector_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_nested_and_concurrent_readers_share_one_pause() -> None:
    inner_started, outer_may_end = threading.Event(), threading.Event()
    seen: list[bool] = []

    def other_reader() -> None:
        with collector_paused():
            inner_started.set()
            outer_may_end.wait(10)
            seen.append(gc.isenabled())

    with collector_paused():
        thread = threading.Thread(target=other_reader)
        thread.start()
        assert inner_started.wait(10)
    # The first reader finished; the other still reads, so the collector stays off.
    assert not gc.isenabled()
    outer_may_end.set()
    thread.join(10)
    assert seen == [False] and gc.isenabled()


def test_a_malformed_page_turns_the_collector_back_on() -> None:
    with pytest.raises(MalformedResponse):
        parse_graph_alerts([{"id": "a1"}, "not an alert"])
    assert gc.isenabled()
