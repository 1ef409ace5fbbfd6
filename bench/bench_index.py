"""Benchmark of the indicator index against a Graph backfill (the correlation app).

Inside the transaction of every page the sync stores, the index's store listener only
notes the page as waiting; `correlation.index_pending` indexes it after commit. Each
customer's first Graph alerts pass is run once, in one process against PostgreSQL, with
the listener timed from inside: its share is the listener's time over the rest of the
same pass (so the machine's load weighs on both alike). Then the waiting pages are
indexed as a worker would, timed: the index's own cost, as a share of the passes' time
and in alerts per second. Target: the index adds at most 10 % to a backfill.

Needs PostgreSQL (BENCH_PG, default postgres://postgres@127.0.0.1:5432; a scratch
database `bench_index`, or `--database NAME`, is created and dropped).

    .venv/bin/python bench/bench_index.py            # 6 customers x 3,000 alerts
    .venv/bin/python bench/bench_index.py --smoke    # 2 x 100: proves that it runs
    .venv/bin/python bench/bench_index.py --campaign-policy   # with a policy that asks
                                                              # for campaign events

With `--campaign-policy`, a routing policy that asks for campaign events (and a webhook
channel, never called) exists while the pages are indexed: each indexed page then also
runs the notifications' index listener (`notifications.campaign_events`), under its
advisory lock.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import bench_sync  # noqa: E402 (the same scratch database and sandbox set-up)


def bench(customers_n: int, per_tenant: int, *, campaign_policy: bool = False) -> dict[str, Any]:
    from partner_portal.alerts.models import Alert
    from partner_portal.alerts.sync.passes import sync_source
    from partner_portal.alerts.sync.stored import StoredChanges, register_store_listener
    from partner_portal.correlation import index
    from partner_portal.correlation.models import Sighting
    from partner_portal.sandbox.testing import SandboxProcess
    from tenants.models import Customer, CustomerStatus

    spent = [0.0]

    def timed(changes: StoredChanges) -> None:
        began = time.perf_counter()
        index.index_stored(changes)
        spent[0] += time.perf_counter() - began

    register_store_listener(index.LISTENER, timed)  # replaces the app's own, in place
    with SandboxProcess(
        tenants=customers_n, consented=customers_n, alerts_per_tenant=per_tenant,
        arrival_rate=0, seed=3, timeout=120,
    ) as sandbox:  # fmt: skip
        bench_sync.point_at(sandbox)
        shares: list[float] = []
        passes: list[float] = []
        for tenant in sandbox.tenants:
            customer = Customer.objects.create(
                display_name=tenant["name"][:200], tenant_id=tenant["tenant_id"],
                status=CustomerStatus.ACTIVE, granted_roles=sorted(tenant["roles"]),
                collect_incidents=False,
            )  # fmt: skip
            spent[0] = 0.0
            began = time.perf_counter()
            run = sync_source(customer_id=customer.pk, source="graph_alerts")
            total = time.perf_counter() - began
            if run is None or run.status != "succeeded":
                raise SystemExit(f"the pass failed: {run and run.error_message}")
            shares.append(spent[0] / max(total - spent[0], 1e-9))
            passes.append(total)
        if campaign_policy:
            from partner_portal.notifications.models import Channel, Policy

            channel = Channel.objects.create(
                name="Bench hook", kind="webhook", url="http://127.0.0.1:9/never"
            )
            Policy.objects.create(name="Campaigns", campaign_events=True).channels.add(channel)
        began = time.perf_counter()
        index.index_pending(limit=1_000_000)
        indexing = time.perf_counter() - began
        alerts = Alert.objects.count()
        sightings = Sighting.objects.count()
    return {
        "customers": customers_n,
        "alerts": alerts,
        "share": statistics.median(shares),
        "shares": shares,
        "per_alert": sightings / max(alerts, 1),
        "indexing": indexing,
        "indexing_share": indexing / sum(passes),
        "per_second": alerts / max(indexing, 1e-9),
        "campaign_policy": campaign_policy,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="2 x 100 alerts: proves that it runs")
    parser.add_argument("--database", default="bench_index", help="scratch database")
    parser.add_argument(
        "--campaign-policy", action="store_true", help="a policy asks for campaign events"
    )
    parser.add_argument("--alerts", type=int, default=3000, help="alerts per customer")
    args = parser.parse_args()
    bench_sync.DB_NAME = args.database
    os.environ["SYNC_BACKFILL_DAYS"] = "3650"  # every sandbox alert, however old
    bench_sync.prepare_environment(tempfile.mkdtemp(prefix="bench-index-"))
    try:
        size = (2, 100) if args.smoke else (6, args.alerts)
        r = bench(*size, campaign_policy=args.campaign_policy)
    finally:
        bench_sync.drop_database()
    print(
        f"index: {r['customers']} customers, {r['alerts']} Graph alerts, "
        f"{r['per_alert']:.1f} sightings per alert: the listener's share of a backfill "
        f"pass, median {r['share']:.1%} (each: {', '.join(f'{s:.1%}' for s in r['shares'])})"
    )
    print(
        f"index: indexing after commit took {r['indexing']:.1f} s "
        f"({r['indexing_share']:.0%} of the passes' time, {r['per_second']:,.0f} alerts/s)"
        + (", with a policy asking for campaign events" if r["campaign_policy"] else "")
    )


if __name__ == "__main__":
    main()
