"""Benchmark of the notification path, end to end, against the sandbox.

Many customers sync at their interval with real Celery workers and beat; new alerts are
created in the sandbox at a steady rate while it runs, and a policy routes every alert,
one by one, to a webhook channel whose receiver is a local HTTP server. For each alert:

- freshness: its creation in the sandbox to its row committed in the portal's database;
- end to end: its creation in the sandbox to the webhook that names it being received;
- the notification path: the difference (stored to received).

p50 and p95 of the three, how many alerts were created but never received (by the end of
the run and a drain window) and how many were received more than once. Targets: p95 end
to end <= 40 s, the notification path's p95 <= 5 s, none lost, none twice.

The policy waits `--group-wait` seconds (0 unless told) before it sends: a group wait is
a wait on purpose, added in full to the path. The policy is made once the customers'
first passes are done, so their history notifies nobody.

Needs PostgreSQL (the server at BENCH_PG, default postgres://postgres@127.0.0.1:5432,
where a scratch database, `bench_notify` unless `--database` names another, is created and
dropped) and `redis-server` on the PATH (a private one on a free port).

    .venv/bin/python bench/bench_notify.py            # 200 customers, 20 s interval, 120 s
    .venv/bin/python bench/bench_notify.py --quick    # 50 customers, 45 s
    .venv/bin/python bench/bench_notify.py --smoke    # tiny sizes: proves that it runs,
                                                      # measures nothing
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import bench_sync

SECRET = "bench-notify-signing-secret"


class Receiver:
    """A webhook receiver on loopback: each POST's arrival time and JSON body."""

    def __init__(self) -> None:
        self.received: list[tuple[datetime, dict[str, Any]]] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = datetime.now(UTC)
                with receiver.lock:
                    receiver.received.append((at, json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def first_arrivals(self) -> tuple[dict[str, datetime], int, int]:
        """Each alert's first arrival; alerts received again; deliveries received again."""
        first: dict[str, datetime] = {}
        again = 0
        keys: set[str] = set()
        keys_again = 0
        with self.lock:
            received = list(self.received)
        for at, body in received:
            if body["id"] in keys:
                keys_again += 1
            keys.add(body["id"])
            for alert in body["alerts"]:
                if alert["alert_id"] in first:
                    again += 1
                else:
                    first[alert["alert_id"]] = at
        return first, again, keys_again

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[int(share * (len(ordered) - 1))] if ordered else float("nan")


def bench_notify(
    customers_n: int,
    interval: int,
    duration: float,
    every: float,
    concurrency: int,
    *,
    group_wait: int,
    drain: float,
    dispatch_seconds: int = 5,
) -> dict[str, Any]:
    from partner_portal.alerts.models import Alert, SyncState
    from partner_portal.defender import parse_timestamp
    from partner_portal.notifications.models import (
        Channel,
        ChannelKind,
        GroupBy,
        Notification,
        Policy,
    )
    from partner_portal.sandbox.testing import SandboxProcess
    from tests.alerts.worker_support import Cluster, PrivateRedis

    tmp = Path(tempfile.mkdtemp(prefix="bench-notify-"))
    server = PrivateRedis(tmp).start()
    receiver = Receiver()
    with SandboxProcess(
        tenants=customers_n, consented=customers_n, alerts_per_tenant=5, arrival_rate=0,
        seed=41, timeout=120,
    ) as sandbox:  # fmt: skip
        bench_sync.point_at(sandbox)
        customers = bench_sync.make_customers(sandbox, sync_interval_seconds=interval)
        cluster = Cluster(server, sandbox, tmp)
        try:
            # The worker opens the channel's sealed URL with this process's key.
            key = os.environ["SECRET_KEY"]
            cluster.start_worker(
                concurrency=concurrency, SYNC_EVIDENCE_SEVERITIES="", SECRET_KEY=key
            )
            cluster.start_beat(SYNC_DISPATCH_SECONDS=str(dispatch_seconds), SECRET_KEY=key)
            deadline = time.monotonic() + 300
            while SyncState.objects.filter(watermark__isnull=False).count() < customers_n:
                if time.monotonic() > deadline:
                    raise RuntimeError("the first passes did not finish\n" + cluster.logs())
                time.sleep(1)
            channel = Channel.objects.create(
                name="Bench receiver", kind=ChannelKind.WEBHOOK, url=receiver.url,
                signing_secret=SECRET,
            )  # fmt: skip
            policy = Policy.objects.create(
                name="Every alert", group_by=GroupBy.ALERT, group_wait_seconds=group_wait,
                repeat_interval_seconds=3600,
            )  # fmt: skip
            policy.channels.set([channel])
            created = bench_sync.create_alerts_steadily(
                sandbox, customers, seconds=duration, every=every, seed=11
            )
            ids = {i for _, i in created}
            settle = time.monotonic() + interval + group_wait + drain
            while time.monotonic() < settle and not ids <= receiver.first_arrivals()[0].keys():
                time.sleep(0.5)
            truth: dict[str, dict[str, Any]] = {}
            for tenant in {t for t, _ in created}:
                gt = sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant}").json()
                truth.update({a["id"]: a for a in gt["value"] if a["id"] in ids})
            rows = Alert.objects.filter(alert_id__in=ids)
            stored = dict(rows.values_list("alert_id", "synced_at"))
            arrived, alerts_again, deliveries_again = receiver.first_arrivals()
            # Where each alert never received stands: its notifications' states.
            lost_states: Counter[str] = Counter()
            for alert_id in ids - arrived.keys():
                states = Notification.objects.filter(alert_ids__contains=[alert_id])
                found = sorted(set(states.values_list("status", flat=True)))
                lost_states["/".join(found) or "no notification"] += 1
        finally:
            cluster.stop()
            server.stop()
            receiver.stop()
    fresh: list[float] = []
    end_to_end: list[float] = []
    path: list[float] = []
    for alert_id in ids:
        born = parse_timestamp(truth[alert_id]["alertCreationTime"])
        assert born is not None
        if alert_id in stored:
            fresh.append((stored[alert_id] - born).total_seconds())
        if alert_id in arrived:
            end_to_end.append((arrived[alert_id] - born).total_seconds())
            if alert_id in stored:
                path.append((arrived[alert_id] - stored[alert_id]).total_seconds())
    return {
        "customers": customers_n,
        "interval": interval,
        "group_wait": group_wait,
        "alerts": len(ids),
        "not_stored": len(ids - stored.keys()),
        "lost": len(ids - arrived.keys()),
        "lost_states": dict(lost_states),
        "twice": alerts_again,
        "deliveries_twice": deliveries_again,
        "fresh": fresh,
        "end_to_end": end_to_end,
        "path": path,
    }


def summary(values: list[float]) -> str:
    if not values:
        return "p50 - s, p95 - s"
    return (
        f"p50 {statistics.median(values):.1f} s, p95 {percentile(values, 0.95):.1f} s, "
        f"max {max(values):.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny sizes: proves that it runs, measures nothing"
    )
    parser.add_argument("--group-wait", type=int, default=0, help="the policy's group wait (s)")
    parser.add_argument("--concurrency", type=int, default=4, help="the worker's processes")
    parser.add_argument(
        "--database", default="bench_notify", help="scratch database (created, dropped)"
    )
    args = parser.parse_args()
    bench_sync.DB_NAME = args.database
    bench_sync.prepare_environment(tempfile.mkdtemp(prefix="bench-notify-"))
    try:
        if args.smoke:
            size = {"customers_n": 2, "interval": 2, "duration": 2, "every": 0.5,
                    "concurrency": 1, "drain": 30, "dispatch_seconds": 1}  # fmt: skip
        else:
            size = {"customers_n": 50 if args.quick else 200, "interval": 20,
                    "duration": 45 if args.quick else 120, "every": 0.5,
                    "concurrency": args.concurrency, "drain": 90}  # fmt: skip
        r = bench_notify(**size, group_wait=args.group_wait)  # type: ignore[arg-type]
        print(
            f"notify: {r['customers']} customers, interval {r['interval']} s, group wait "
            f"{r['group_wait']} s, {r['alerts']} alerts ({r['not_stored']} not stored, "
            f"{r['lost']} lost, {r['twice']} received twice, {r['deliveries_twice']} "
            f"deliveries twice)",
            flush=True,
        )
        if r["lost_states"]:
            print(f"notify lost, by the state of their notifications: {r['lost_states']}")
        print(f"notify freshness (created -> stored): {summary(r['fresh'])}", flush=True)
        print(f"notify end to end (created -> received): {summary(r['end_to_end'])}", flush=True)
        print(f"notify path (stored -> received): {summary(r['path'])}", flush=True)
    finally:
        bench_sync.drop_database()


if __name__ == "__main__":
    main()
