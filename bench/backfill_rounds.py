"""Timing a backfill against its baselines in alternating rounds, for `bench_sync.py`'s
Defender backfill and `graph_backfill.py`'s Graph one.

Each round starts from an empty database (`reset`), then runs the baseline (bare HTTP
reads and a COPY of the same rows) and the portal's own sync, each followed by `settle`;
the order alternates, so neither side always meets a warmer or a busier server. The
phases append their times to the lists they close over; `summary` turns the lists into
the medians and the ratio the benchmarks report.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any


def alternate_rounds(
    rounds: int,
    *,
    reset: Callable[[], None],
    baseline: Callable[[], None],
    end_to_end: Callable[[], None],
    settle: Callable[[], None],
) -> None:
    for number in range(rounds):
        reset()
        for phase in (baseline, end_to_end) if number % 2 == 0 else (end_to_end, baseline):
            phase()
            settle()


def summary(
    *, stored: int, rounds: int, t_http: list[float], t_copy: list[float], t_sync: list[float]
) -> dict[str, Any]:
    """Medians of the rounds, the sync's ratio to its baseline (HTTP + COPY), each round's."""
    http, copy_s, sync_s = (statistics.median(t) for t in (t_http, t_copy, t_sync))
    return {
        "alerts": stored,
        "rounds": rounds,
        "t_http": http,
        "t_copy": copy_s,
        "t_sync": sync_s,
        "ratio": sync_s / (http + copy_s),
        "round_ratios": [s / (h + c) for h, c, s in zip(t_http, t_copy, t_sync, strict=True)],
        "per_second": stored / sync_s,
    }
