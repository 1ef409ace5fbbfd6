"""How long the Graph records take to read one page of 1,000 alerts.

The page is made from the alert Microsoft prints in its alerts_v2 reference (device, file,
process and registry key evidence: four items, three file details, some 130 fields) and
from the test suite's mail alert (ten evidence items); each alert gets its own id and its
own timestamps (moved by its position), as on a real page, where only an alert's evidence
repeats its creation time. For scale, the same is timed for ``json.loads`` of the page
and for today's ``records.parse_alert_page`` on 1,000 MDE alerts (evidence left as
dictionaries there).

Times are CPU time (``time.process_time``) of one call, best of ``--rounds``; the result
is kept until the clock stops, so freeing it is not counted. The garbage collector is off
while timing, as ``timeit`` does, and on for the "gc on" figure.

Usage::

    .venv/bin/python bench/bench_graph_records.py [--rounds N] [--smoke]
"""

from __future__ import annotations

import argparse
import gc
import json
import re
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from partner_portal.defender.graph_records import parse_graph_alert_page  # noqa: E402
from partner_portal.defender.records import parse_alert_page  # noqa: E402
from tests.defender.fakes import alert_json  # noqa: E402

PAYLOADS = ROOT / "tests" / "defender" / "graph_payloads"
STAMP = re.compile(r'"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z)"')


def page_of(alert_text: str, size: int = 1000) -> dict[str, Any]:
    alerts = []
    for n in range(size):

        def moved(match: re.Match[str], n: int = n) -> str:
            stamp = datetime.fromisoformat(match[1]) + timedelta(seconds=n, microseconds=n)
            return f'"{stamp:%Y-%m-%dT%H:%M:%S.%f}0Z"'

        alert = json.loads(STAMP.sub(moved, alert_text))
        alert["id"] = f"{alert['id']}-{n}"
        alerts.append(alert)
    return {
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#security/alerts_v2",
        "value": alerts,
        "@odata.nextLink": "https://graph.microsoft.com/v1.0/security/alerts_v2?$skiptoken=x",
    }


def cpu_ms(
    call: Callable[[Any], Any], argument: Any, rounds: int, *, collect: bool = False
) -> float:
    best = float("inf")
    for _ in range(rounds):
        if not collect:
            gc.disable()
        start = time.process_time()
        result = call(argument)
        best = min(best, time.process_time() - start)
        gc.enable()
        del result
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--smoke", action="store_true", help="one round, to prove it runs")
    args = parser.parse_args()
    rounds = 1 if args.smoke else args.rounds
    mde = [alert_json(n) for n in range(1000)]
    reference = cpu_ms(parse_alert_page, mde, rounds)
    print(f"records.parse_alert_page, 1,000 MDE alerts: {reference:.1f} ms")
    cases = (
        ("Graph alerts, Microsoft's example (4 evidence items)", "get_alert.json"),
        ("Graph alerts, mail alert (10 evidence items)", "mail_alert_written_for_tests.json"),
    )
    for label, name in cases:
        page = page_of((PAYLOADS / name).read_text(encoding="utf-8"))
        raw = json.dumps(page)
        parsed = cpu_ms(parse_graph_alert_page, page, rounds)
        with_gc = cpu_ms(parse_graph_alert_page, page, rounds, collect=True)
        loads = cpu_ms(json.loads, raw, rounds)
        # The ratio is what counts: both are timed in this run, on this machine.
        print(
            f"{label}: parse_graph_alert_page {parsed:.1f} ms per 1,000 alerts "
            f"(gc on {with_gc:.1f} ms); json.loads of that page {loads:.1f} ms; "
            f"ratio parse / json.loads = {parsed / loads:.2f}"
        )


if __name__ == "__main__":
    main()
