"""Benchmark of the sandbox: alerts served per second, and start-up time.

(a) One client pages through every alert of each tenant with ``@odata.nextLink`` (server
    pages of 10,000, rate limits off), parsing each page as JSON; target 5,000 alerts/s.
(b) Time from process start to the ready line with 10 tenants x 1,000 alerts; the first
    start (which creates keys and certificates) is reported apart; target 3 s.

Usage: ``.venv/bin/python bench/bench_sandbox.py [--quick | --smoke]``; prints a Markdown
table. ``--smoke`` (2 tenants x 300 alerts in server pages of 100, one pass each way, one
restart of 2 x 100) only proves that the benchmark runs; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from partner_portal.sandbox.testing import SandboxProcess  # noqa: E402

THROUGHPUT_TARGET = 5_000.0
STARTUP_TARGET = 3.0


def page_through(sb: SandboxProcess, tenant_id: str, expand: bool) -> int:
    token = sb.token(tenant_id)
    url: str | None = sb.url + "/api/alerts" + ("?$expand=evidence" if expand else "")
    count = 0
    with sb.session() as session:
        headers = {"Authorization": f"Bearer {token}"}
        while url:
            response = session.get(url, headers=headers, timeout=120)
            response.raise_for_status()
            body = response.json()
            count += len(body["value"])
            url = body.get("@odata.nextLink")
    return count


def throughput(
    tenants: int, alerts: int, rounds: int, page_size: int = 10_000
) -> list[tuple[str, str, str]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as state:
        options = {
            "tenants": tenants,
            "consented": tenants,
            "alerts_per_tenant": alerts,
            "arrival_rate": 0,
            "no_rate_limit": True,
            "page_size": page_size,
        }
        with SandboxProcess(state, timeout=120, **options) as sb:
            ids = [t["tenant_id"] for t in sb.tenants]
            for expand in (False, True):
                for round_no in range(rounds):
                    began = time.perf_counter()
                    total = sum(page_through(sb, t, expand) for t in ids)
                    took = time.perf_counter() - began
                    assert total == tenants * alerts, total
                    rate = total / took
                    label = "pass 1 (serialises)" if round_no == 0 else f"pass {round_no + 1}"
                    what = "with $expand=evidence" if expand else "plain"
                    rows.append(
                        (
                            f"alerts/s, {tenants}x{alerts:,}, pages of {page_size:,}, "
                            f"{what}, {label}",
                            f"{rate:,.0f} ({total:,} in {took:.2f} s)",
                            f"{rate / THROUGHPUT_TARGET:.1f}x of 5,000/s",
                        )
                    )
    return rows


def startup(restarts: int, tenants: int = 10, alerts: int = 1000) -> list[tuple[str, str, str]]:
    options = {"tenants": tenants, "alerts_per_tenant": alerts, "arrival_rate": 0}
    with tempfile.TemporaryDirectory(prefix="bench-sandbox-") as state:
        first = SandboxProcess(state, timeout=60, **options)
        first.start()
        first.stop()
        times = []
        for _ in range(restarts):
            sb = SandboxProcess(state, timeout=60, **options)
            sb.start()
            times.append(sb.startup_seconds)
            sb.stop()
    median = statistics.median(times)
    return [
        (
            f"start-up, {tenants}x{alerts:,} alerts, first start (creates keys)",
            f"{first.startup_seconds:.2f} s",
            "(reported apart)",
        ),
        (
            f"start-up, {tenants}x{alerts:,} alerts, restart "
            f"(median of {restarts}, max {max(times):.2f} s)",
            f"{median:.2f} s",
            f"{STARTUP_TARGET / median:.1f}x under 3 s" if median else "n/a",
        ),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer rounds")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny data, one pass: proves that it runs"
    )
    args = parser.parse_args()
    if args.smoke:
        rows = throughput(tenants=2, alerts=300, rounds=1, page_size=100) + startup(
            restarts=1, tenants=2, alerts=100
        )
    elif args.quick:
        rows = throughput(tenants=2, alerts=10_000, rounds=2) + startup(restarts=2)
    else:
        rows = throughput(tenants=2, alerts=25_000, rounds=3) + startup(restarts=5)
    print("| Measure | Result | Against target |")
    print("|---|---|---|")
    for measure, result, target in rows:
        print(f"| {measure} | {result} | {target} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
