"""Benchmark of hunting across customers: one KQL query to many sandbox customers.

Every call to the sandbox's Graph API is slowed to SECONDS_PER_QUERY (its fault knob
`rate_slow`), as a real hunting query takes its time. Measured in one run:

- a baseline: the same hunt sent to one customer (one query's time plus the portal's);
- the hunt sent to every customer: seconds until the first customer's rows are stored
  (what the page shows first), seconds until every customer has answered, and both as
  ratios to the baseline; the hunting calls each tenant received and whether any was
  throttled (429) — no tenant may go over its quota.

Targets (200 customers, 1 s a query): first rows within 3 s, complete within 20 s.

Needs PostgreSQL (BENCH_PG, default postgres://postgres@127.0.0.1:5432; a scratch
database `bench_hunting`, or `--database NAME`, is created and dropped).

    .venv/bin/python bench/bench_hunting.py            # 200 customers
    .venv/bin/python bench/bench_hunting.py --smoke    # 3 customers: proves that it runs
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench_sync  # noqa: E402 (the same scratch database and sandbox set-up)

QUERY = "AlertInfo | project AlertId, Title, Severity | take 20"


def make_graph_customers(sandbox: Any) -> list[Any]:
    from tenants.models import Customer, CustomerStatus

    return [
        Customer.objects.create(
            display_name=t["name"][:200],
            tenant_id=t["tenant_id"],
            status=CustomerStatus.ACTIVE,
            granted_roles=sorted(t["roles"]),
        )
        for t in sandbox.tenants
        if t["consented"]
    ]


def timed_hunt(user: Any, customer_ids: list[int]) -> dict[str, float]:
    """Start a hunt, run its fan-out on a thread as the worker would, and watch the
    stored targets: seconds to the first rows and to the last answer."""
    from partner_portal.hunting import fanout, services
    from partner_portal.hunting.models import HuntTarget, TargetStatus

    began = time.perf_counter()
    hunt = services.start_hunt(user=user, query=QUERY, timespan="P30D", customer_ids=customer_ids)
    runner = threading.Thread(target=fanout.run_hunt, kwargs={"hunt_id": hunt.pk})
    runner.start()
    first = None
    targets = HuntTarget.objects.filter(hunt=hunt)
    while runner.is_alive():
        if first is None and targets.filter(status=TargetStatus.DONE, row_count__gt=0).exists():
            first = time.perf_counter() - began
        time.sleep(0.05)
    runner.join()
    total = time.perf_counter() - began
    failed = targets.filter(status=TargetStatus.FAILED).count()
    if failed:
        errors = set(targets.filter(status=TargetStatus.FAILED).values_list("error", flat=True))
        raise SystemExit(f"{failed} customers failed: {sorted(errors)[:3]}")
    return {"first": first if first is not None else total, "total": total}


def bench(customers_n: int, seconds: float, concurrency: int) -> dict[str, Any]:
    from django.conf import settings
    from django.contrib.auth.models import User

    from partner_portal.sandbox.testing import SandboxProcess

    settings.HUNT_CONCURRENCY = concurrency
    with SandboxProcess(
        tenants=customers_n, consented=customers_n, alerts_per_tenant=20,
        arrival_rate=0, seed=17, timeout=120,
    ) as sandbox:  # fmt: skip
        bench_sync.point_at(sandbox)
        customers = make_graph_customers(sandbox)
        user = User.objects.create_superuser("bench-hunter", "hunter@partner.example", "x")
        sandbox.control(
            "PUT", "/_sandbox/faults", json={"rate_slow": 1.0, "slow_seconds": seconds}
        ).raise_for_status()
        baseline = timed_hunt(user, [customers[0].pk])
        sandbox.control("POST", "/_sandbox/stats/reset").raise_for_status()
        hunt = timed_hunt(user, [c.pk for c in customers])
        per_tenant = [
            sandbox.control("GET", f"/_sandbox/stats?tenant={c.tenant_id}").json()
            for c in customers
        ]
    calls = [s["apis"].get("graph_hunting", {}).get("calls_total", 0) for s in per_tenant]
    return {
        "customers": customers_n,
        "seconds": seconds,
        "concurrency": concurrency,
        "baseline": baseline["total"],
        "first": hunt["first"],
        "total": hunt["total"],
        "calls_max": max(calls),
        "calls_min": min(calls),
        "throttled": sum(s["throttled_total"] for s in per_tenant),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="3 customers: proves that it runs")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=1.0, help="time each query takes")
    parser.add_argument("--concurrency", type=int, default=24, help="HUNT_CONCURRENCY")
    parser.add_argument("--database", default="bench_hunting", help="scratch database")
    args = parser.parse_args()
    bench_sync.DB_NAME = args.database
    bench_sync.prepare_environment(tempfile.mkdtemp(prefix="bench-hunting-"))
    os.environ.setdefault("HUNT_CONCURRENCY", str(args.concurrency))
    try:
        customers_n = 3 if args.smoke else args.customers
        seconds = 0.2 if args.smoke else args.seconds
        r = bench(customers_n, seconds, args.concurrency)
    finally:
        bench_sync.drop_database()
    print(
        f"hunting: {r['customers']} customers, {r['seconds']:g} s a query, "
        f"{r['concurrency']} at once: first rows {r['first']:.1f} s "
        f"({r['first'] / r['baseline']:.1f}x one customer's {r['baseline']:.1f} s), "
        f"complete {r['total']:.1f} s ({r['total'] / r['baseline']:.1f}x); "
        f"hunting calls per tenant {r['calls_min']}-{r['calls_max']}, throttled {r['throttled']}"
    )


if __name__ == "__main__":
    main()
