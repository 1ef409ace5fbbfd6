"""Reading a page of records without the cycle collector walking over it.

Reading a page of a thousand Graph alerts makes some hundred thousand containers (the
records, their tuples of evidence, the decoded JSON they came from is alive beside
them). Python's cycle collector runs every few hundred new containers and, now and
then, walks every live object: on a page that is a quarter of the reading's CPU time
(`bench/bench_graph_records.py` prints both), spent finding no cycles, since records
hold none. `collector_paused` switches the collector off for the length of a page and
back on after it, only if it was on; pages read at the same time in two threads (the
client's read-ahead and its caller) share one pause, and the last to finish ends it.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_readers = 0
_was_enabled = False


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cycle collection while the block runs (nested and threaded uses share one)."""
    global _readers, _was_enabled
    with _lock:
        if _readers == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _readers += 1
    try:
        yield
    finally:
        with _lock:
            _readers -= 1
            if _readers == 0 and _was_enabled:
                gc.enable()
