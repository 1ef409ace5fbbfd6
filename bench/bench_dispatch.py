"""The dispatcher when every source of a fleet falls due at once, publishing to Redis.

After a wave of backfills, thousands of customers' sources fall due in the same few
seconds, and one `dispatch_due_syncs` cycle found them all. This bench makes
`--customers` customers on Microsoft Graph (two sources each), sets every source due at
once (each with a watermark, so its pass goes to the `celery` queue), and runs
dispatcher cycles back to back, without workers, until every source is queued, with the
real broker: a Redis server (`--broker`, else a private redis-server on a free port,
stopped at the end). Three ways, each `--repeats` times, the broker's queues emptied and
every source set due again before each:

* the cycle as it was: no bound, each pass published on its own (`apply_async` without
  a producer, which takes one from the pool for each message);
* at most SYNC_DISPATCH_BATCH sources a cycle (`--batch`, else the setting), one
  producer, a task per source (as it was before a customer's sources went out together);
* the same bound, a task per customer (now).

For each: how many cycles it took to queue them all, the median and longest cycle, the
CPU seconds of the dispatcher's own process (what contention for the machine does not
stretch, unlike the wall time), and the tasks in the queue at the end (whose passes must
be every source, once).

Needs PostgreSQL (BENCH_PG, as bench_sync.py) and, without `--broker`, `redis-server`
on the PATH.

    redis-server --port 6391 --save '' --daemonize yes
    .venv/bin/python bench/bench_dispatch.py --broker redis://127.0.0.1:6391/0
    redis-cli -p 6391 shutdown nosave
    .venv/bin/python bench/bench_dispatch.py --smoke       # proves that it runs
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import bench_sync
import fleet_measures as fm


def make_fleet(customers_n: int) -> int:
    """`customers_n` Graph customers and their state rows; returns the number of rows."""
    from django.db import connection
    from django.utils import timezone

    from partner_portal.alerts.models import SyncState
    from partner_portal.alerts.sync.dispatch import ensure_states
    from tenants.models import GRAPH_ALERT_ROLES, Customer, CustomerStatus

    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {Customer._meta.db_table} CASCADE")
    Customer.objects.bulk_create(
        [
            Customer(
                display_name=f"Fleet {n}",
                tenant_id=str(uuid.UUID(int=n + 1)),
                status=CustomerStatus.ACTIVE,
                granted_roles=sorted(GRAPH_ALERT_ROLES),
                collect_incidents=True,
            )
            for n in range(customers_n)
        ],
        batch_size=2000,
    )
    ensure_states(now=timezone.now(), force=True)
    return SyncState.objects.count()


def publish_each(claims: Sequence[Any], *, now: Any) -> None:
    """The cycle's publishing as it was: one `apply_async` per pass, no shared producer."""
    from django.conf import settings

    from partner_portal.alerts.tasks import sync_customer_source

    for claim in claims:
        queue = settings.SYNC_BACKFILL_QUEUE if claim.backfill else settings.SYNC_QUEUE
        sync_customer_source.apply_async(args=claim.pair, queue=queue)


def publish_per_source(claims: Sequence[Any], *, now: Any) -> None:
    """A task per source through one producer: the bounded cycle before a customer's
    sources went out as one task."""
    from django.conf import settings

    from partner_portal.alerts.tasks import sync_customer_source

    with sync_customer_source.app.producer_or_acquire() as producer:
        for claim in claims:
            queue = settings.SYNC_BACKFILL_QUEUE if claim.backfill else settings.SYNC_QUEUE
            sync_customer_source.apply_async(args=claim.pair, queue=queue, producer=producer)


def queued_pairs(redis_client: Any, queue: str) -> list[tuple[int, str]]:
    """The (customer, source) of every pass waiting on `queue`, read off the messages."""
    pairs: list[tuple[int, str]] = []
    for raw in redis_client.lrange(queue, 0, -1):
        message = json.loads(raw)
        body = message["body"]
        if message["properties"].get("body_encoding") == "base64":
            body = base64.b64decode(body)
        args = json.loads(body)[0]
        if message["headers"]["task"] == "alerts.sync_customer":
            pairs += [(args[0], name) for name in args[1]]
        else:
            pairs.append((args[0], args[1]))
    return pairs


def all_due(redis_client: Any) -> None:
    """Every source due now (none queued, each with a watermark), the queues empty."""
    from datetime import timedelta

    from django.conf import settings
    from django.utils import timezone

    from partner_portal.alerts.models import SyncState
    from partner_portal.alerts.sync.dispatch import ensure_states

    now = timezone.now()
    SyncState.objects.update(
        next_due_at=now - timedelta(seconds=1), queued_at=None, watermark=now
    )  # fmt: skip
    redis_client.delete(settings.SYNC_QUEUE, settings.SYNC_BACKFILL_QUEUE)
    ensure_states(now=now, force=True)  # the scan remembered: cycles measure the claim


def drain(pairs: int, batch: int, publish: Callable[..., None] | None) -> dict[str, Any]:
    """Dispatcher cycles back to back until every source is queued."""
    from django.conf import settings

    from partner_portal.alerts.sync import dispatch

    own_publish = dispatch._publish
    settings.SYNC_DISPATCH_BATCH = batch
    if publish is not None:
        dispatch._publish = publish
    try:
        seconds: list[float] = []
        queued = 0
        cpu = time.process_time()
        while queued < pairs:
            began = time.perf_counter()
            got = dispatch.dispatch_due_syncs()
            seconds.append(time.perf_counter() - began)
            if not got:
                raise RuntimeError(f"a cycle queued nothing with {pairs - queued} due")
            queued += len(got)
        cpu = time.process_time() - cpu
    finally:
        dispatch._publish = own_publish
    return {"cycles": len(seconds), "median": statistics.median(seconds), "max": max(seconds),
            "total": sum(seconds), "cpu": cpu, "queued": queued}  # fmt: skip


def bench(customers_n: int, broker: str, *, batch: int, repeats: int) -> list[dict[str, Any]]:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(broker)
    pairs = make_fleet(customers_n)
    ways = [
        ("as it was: no bound, each pass published on its own", pairs, publish_each),
        (f"at most {batch} a cycle, one producer, a task per source", batch, publish_per_source),
        (f"at most {batch} a cycle, one producer, a task per customer (now)", batch, None),
    ]
    rows = []
    for label, bound, publish in ways:
        runs = []
        for _ in range(repeats):
            all_due(client)
            run = drain(pairs, bound, publish)
            run["in_queue"] = client.llen(settings.SYNC_QUEUE)
            waiting = queued_pairs(client, settings.SYNC_QUEUE)
            assert len(waiting) == len(set(waiting)) == pairs == run["queued"], run
            runs.append(run)
        mid = sorted(runs, key=lambda r: r["total"])[len(runs) // 2]
        rows.append({"label": label, "customers": customers_n, "pairs": pairs, **mid,
                     "totals": [r["total"] for r in runs], "cpus": [r["cpu"] for r in runs],
                     "load": fm.load()})  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: proves that it runs")
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=0, help="default: SYNC_DISPATCH_BATCH")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--broker", default="", help="a Redis URL; default: a private one")
    parser.add_argument("--database", default="bench_dispatch", help="scratch database")
    args = parser.parse_args()
    if args.smoke:
        args.customers, args.repeats, args.batch = 30, 1, 25
    from tests.alerts.worker_support import PrivateRedis

    private = None
    if not args.broker:
        private = PrivateRedis(Path(tempfile.mkdtemp(prefix="bench-dispatch-redis-"))).start()
        args.broker = private.url(0)
    tag = "smoke: " if args.smoke else ""
    try:
        bench_sync.DB_NAME = args.database
        bench_sync.prepare_environment(
            tempfile.mkdtemp(prefix="bench-dispatch-"), broker=args.broker
        )
        from django.conf import settings

        batch = args.batch or settings.SYNC_DISPATCH_BATCH
        for r in bench(args.customers, args.broker, batch=batch, repeats=args.repeats):
            totals = ", ".join(f"{t * 1000:.0f}" for t in r["totals"])
            cpus = ", ".join(f"{t * 1000:.0f}" for t in r["cpus"])
            print(
                f"{tag}all {r['pairs']} sources of {r['customers']} customers due at once, "
                f"{r['label']}: {r['cycles']} cycle(s), a cycle {r['median'] * 1000:.0f} ms "
                f"(median), longest {r['max'] * 1000:.0f} ms, in all {r['total'] * 1000:.0f} "
                f"ms (runs: {totals} ms; the dispatcher's CPU {cpus} ms); "
                f"{r['in_queue']} tasks in the queue; {r['load']}"
            )
    finally:
        bench_sync.drop_database()
        if private is not None:
            private.stop()


if __name__ == "__main__":
    main()
