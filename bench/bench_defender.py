"""Benchmark of the Microsoft protocol core against the sandbox.

(a) Token sharing: 4 processes each call ``TokenProvider.get()`` N times per tenant
    through one ``FileTokenCache``; the sandbox counts the token requests that reached
    it (target: 1 per tenant per token lifetime).
(b) Alert throughput: alerts per second fetched and parsed by ``MdeClient`` compared
    with a bare ``requests`` loop over the same pages (target: ratio >= 0.8). Both
    sides get an untimed warm-up pass (the sandbox serialises an alert on first read),
    then run in alternating order; medians of the rounds are reported. The client is
    also timed without prefetch, and with a 100 ms delay per page.

Usage::

    .venv/bin/python bench/bench_defender.py [--quick | --smoke] [--rounds N] \
        [--config sandbox.json]

Without ``--config`` a sandbox is started for the run (and stopped afterwards). The exit
status is 1 when a target is missed. ``--smoke`` (2 tenants x 500 alerts, pages of 100,
20 ``get()`` calls per process, one round) only proves that the benchmark runs: its
figures mean nothing and it judges no target.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from partner_portal.defender.clouds import ALERT_READ, MDE_RESOURCE, endpoints_for  # noqa: E402
from partner_portal.defender.credentials import AppCredentials  # noqa: E402
from partner_portal.defender.http import make_session  # noqa: E402
from partner_portal.defender.mde import MdeClient  # noqa: E402
from partner_portal.defender.rate_limit import NO_LIMIT  # noqa: E402
from partner_portal.defender.token_cache import FileTokenCache  # noqa: E402
from partner_portal.defender.tokens import TokenProvider  # noqa: E402
from partner_portal.sandbox.testing import token_requests as sandbox_token_requests  # noqa: E402


def _json(answer: Any) -> Any:
    if hasattr(answer, "json") and callable(answer.json):
        return answer.json()
    return answer


class Sandbox:
    """A running sandbox: its sandbox.json and its control API."""

    def __init__(self, config: dict[str, Any], control: Any = None) -> None:
        self.config = config
        self._control = control
        self._session = make_session(config["ca_file"])

    def control(self, method: str, path: str, json_body: Any = None) -> Any:
        if self._control is not None:
            return _json(self._control(method, path, json=json_body))
        base = self.config.get("control_url") or self.config["login_url"]
        answer = self._session.request(method, base.rstrip("/") + path, json=json_body)
        answer.raise_for_status()
        return answer.json() if answer.content else None


def start_sandbox(stack: ExitStack, options: dict[str, Any]) -> Sandbox:
    from partner_portal.sandbox.testing import SandboxProcess

    state_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-sandbox-"))
    process = stack.enter_context(SandboxProcess(Path(state_dir), timeout=300, **options))
    return Sandbox(process.config, process.control)


def endpoints(cfg: dict[str, Any]) -> Any:
    return endpoints_for(
        login_url=cfg["login_url"],
        mde_api_url=cfg["api_url"],
        xdr_api_url=cfg.get("xdr_api_url") or cfg["api_url"],
    )


def credentials(cfg: dict[str, Any]) -> AppCredentials:
    return AppCredentials(client_id=cfg["client_id"], client_secret=cfg["client_secret"])


def token_provider(cfg: dict[str, Any]) -> TokenProvider:
    """A provider with a token cache of its own."""
    return TokenProvider(
        credentials(cfg), endpoints(cfg), FileTokenCache(tempfile.mkdtemp()), ca_file=cfg["ca_file"]
    )


def mde_client(cfg: dict[str, Any], tp: TokenProvider, tenant_id: str, **kwargs: Any) -> MdeClient:
    """An unthrottled alerts client with a session of its own, its tokens from ``tp``."""
    return MdeClient(
        cfg["api_url"],
        tenant_id,
        lambda force: tp.get(tenant_id, MDE_RESOURCE, force_refresh=force).token,
        session=make_session(cfg["ca_file"]),
        limiter=NO_LIMIT,
        **kwargs,
    )


def token_requests(sb: Sandbox, tenant_id: str) -> int | None:
    return sandbox_token_requests(sb.control("GET", f"/_sandbox/stats?tenant={tenant_id}") or {})


def _token_worker(args: tuple[dict[str, Any], str, list[str], int]) -> dict[str, int]:
    cfg, cache_dir, tenant_ids, calls = args
    tp = TokenProvider(
        credentials(cfg), endpoints(cfg), FileTokenCache(cache_dir), ca_file=cfg["ca_file"]
    )
    fetched = {tid: 0 for tid in tenant_ids}
    for _ in range(calls):
        for tid in tenant_ids:
            if tp.get(tid, MDE_RESOURCE).source == "identity_provider":
                fetched[tid] += 1
    return fetched


def bench_tokens(sb: Sandbox, tenant_ids: list[str], calls: int) -> dict[str, Any]:
    before = {tid: token_requests(sb, tid) for tid in tenant_ids}
    with tempfile.TemporaryDirectory(prefix="bench-tokens-") as cache_dir:
        ctx = multiprocessing.get_context("spawn")
        started = time.perf_counter()
        with ctx.Pool(4) as pool:
            results = pool.map(_token_worker, [(sb.config, cache_dir, tenant_ids, calls)] * 4)
        elapsed = time.perf_counter() - started
    after = {tid: token_requests(sb, tid) for tid in tenant_ids}
    counted: dict[str, int | None] = {}
    for tid in tenant_ids:
        b, a = before[tid], after[tid]
        counted[tid] = None if a is None or b is None else a - b
    seen_by_clients = {tid: sum(r[tid] for r in results) for tid in tenant_ids}
    return {
        "calls_per_tenant": calls * 4,
        "sandbox_counted": counted,
        "client_counted": seen_by_clients,
        "elapsed": elapsed,
        "gets_per_second": calls * 4 * len(tenant_ids) / elapsed,
    }


def bench_alerts(
    sb: Sandbox, tenant_id: str, page_size: int, rounds: int, *, warm_up: bool = True
) -> dict[str, Any]:
    """Alerts per second, bare ``requests`` loop against ``MdeClient``, same pages.

    Both sides use a new ``make_session`` session per pass (same TLS and pool
    settings), the same token and the same ``$top``/``$skip`` pages. One untimed pass
    of each comes first (the sandbox serialises an alert on its first read and caches
    the bytes, so whichever side ran first would otherwise be slower); then ``rounds``
    timed pairs, alternating which side goes first, and the medians are reported.
    """
    cfg = sb.config
    tp = token_provider(cfg)
    token = tp.get(tenant_id, MDE_RESOURCE).token
    url = cfg["api_url"].rstrip("/") + "/api/alerts"

    def bare() -> int:
        session = make_session(cfg["ca_file"])
        count, skip = 0, 0
        while True:
            answer = session.get(
                url,
                params={"$top": page_size, "$skip": skip},
                headers={"Authorization": f"Bearer {token}"},
            )
            answer.raise_for_status()
            items = answer.json()["value"]
            count += len(items)
            if len(items) < page_size:
                return count
            skip += page_size

    def client(prefetch: bool = True) -> int:
        c = mde_client(cfg, tp, tenant_id, prefetch=prefetch)
        return sum(len(p) for p in c.iter_alert_pages(page_size=page_size))

    sides = {"bare": bare, "client": client, "serial": lambda: client(prefetch=False)}
    if warm_up:
        for fn in sides.values():
            fn()
    rates: dict[str, list[float]] = {name: [] for name in sides}
    cpu: dict[str, list[float]] = {name: [] for name in sides}
    counts = dict.fromkeys(sides, 0)
    for number in range(rounds):
        order = list(sides) if number % 2 == 0 else list(reversed(sides))
        for name in order:
            cpu_started = time.process_time()
            started = time.perf_counter()
            n = sides[name]()
            elapsed = time.perf_counter() - started
            counts[name] = n
            rates[name].append(n / elapsed)
            # CPU of this (client) process only: the sandbox runs in its own.
            cpu[name].append((time.process_time() - cpu_started) / n * 1e6)
    paired = [c / b for b, c in zip(rates["bare"], rates["client"], strict=True)]
    serial = [c / b for b, c in zip(rates["bare"], rates["serial"], strict=True)]
    return {
        "alerts": counts,
        "rounds": rounds,
        "bare_per_second": statistics.median(rates["bare"]),
        "client_per_second": statistics.median(rates["client"]),
        "bare_range": (min(rates["bare"]), max(rates["bare"])),
        "client_range": (min(rates["client"]), max(rates["client"])),
        "bare_cpu_us": statistics.median(cpu["bare"]),
        "client_cpu_us": statistics.median(cpu["client"]),
        "ratio": statistics.median(paired),
        "ratio_range": (min(paired), max(paired)),
        "serial_per_second": statistics.median(rates["serial"]),
        "serial_cpu_us": statistics.median(cpu["serial"]),
        "serial_ratio": statistics.median(serial),
    }


def warm(sb: Sandbox, tenant_id: str, page_size: int) -> None:
    """One untimed pass over the tenant's alerts, so that the sandbox has cached them."""
    client = mde_client(sb.config, token_provider(sb.config), tenant_id)
    for _ in client.iter_alert_pages(page_size=page_size):
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller run for CI")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny run that proves it works; judges no target"
    )
    parser.add_argument("--config", help="sandbox.json of an already running sandbox")
    parser.add_argument("--rounds", type=int, help="timed pairs of passes (default 7, quick 3)")
    args = parser.parse_args()

    tenants = 2 if args.quick or args.smoke else 3
    calls = 200 if args.quick else 1000
    alerts = 5_000 if args.quick else 25_000
    rounds = args.rounds or (3 if args.quick else 7)
    delayed_rounds = 1 if args.quick else 3
    page_size = 1000
    if args.smoke:
        calls, alerts, rounds, delayed_rounds, page_size = 20, 500, args.rounds or 1, 1, 100

    with ExitStack() as stack:
        if args.config:
            sb = Sandbox(json.loads(Path(args.config).read_text()))
        else:
            sb = start_sandbox(
                stack,
                {
                    "tenants": tenants,
                    "consented": tenants,
                    "alerts_per_tenant": alerts,
                    "arrival_rate": 0,
                    "no_rate_limit": True,
                },
            )
        tenant_ids = [str(t["tenant_id"]) for t in sb.config["tenants"]][:tenants]
        for tid in tenant_ids:
            sb.control("POST", f"/_sandbox/tenants/{tid}/consent", {"roles": [ALERT_READ]})
        tokens = bench_tokens(sb, tenant_ids, calls)
        throughput = bench_alerts(sb, tenant_ids[0], page_size, rounds)
        # The same with a network-like delay on every page (the sandbox's "slow" fault),
        # where the client's prefetch overlaps parsing with the wait.
        latency = 0.1
        warm(sb, tenant_ids[1], page_size)
        sb.control(
            "PUT",
            "/_sandbox/faults",
            {"tenant": tenant_ids[1], "rate_slow": 1.0, "slow_seconds": latency},
        )
        delayed = bench_alerts(sb, tenant_ids[1], page_size, delayed_rounds, warm_up=False)
        sb.control("PUT", "/_sandbox/faults", {"tenant": tenant_ids[1]})

    counted = tokens["sandbox_counted"]
    per_tenant = (
        ", ".join(str(counted[t]) for t in tenant_ids)
        if all(v is not None for v in counted.values())
        else "n/a (sandbox stats lack a token count)"
    )
    client_side = ", ".join(str(tokens["client_counted"][t]) for t in tenant_ids)
    run = "smoke" if args.smoke else "quick" if args.quick else "full"
    print(f"## Protocol core ({run} run)\n")
    print("| Measure | Result | Target |")
    print("| --- | --- | --- |")
    print(
        f"| Token requests per tenant, {tokens['calls_per_tenant']:,} `get()` calls from "
        f"4 processes, shared FileTokenCache (sandbox count) | {per_tenant} | 1 |"
    )
    print(f"| Same, as seen by the clients (`source=identity_provider`) | {client_side} | 1 |")
    print(f"| `get()` calls per second (all processes) | {tokens['gets_per_second']:,.0f} | - |")
    n = throughput["rounds"]
    lo, hi = throughput["bare_range"]
    print(
        f"| Alerts/s, bare `requests` loop ($top={page_size}), median of {n} | "
        f"{throughput['bare_per_second']:,.0f} (range {lo:,.0f}-{hi:,.0f}) | - |"
    )
    lo, hi = throughput["client_range"]
    print(
        f"| Alerts/s, `MdeClient` fetch + parse, median of {n} | "
        f"{throughput['client_per_second']:,.0f} (range {lo:,.0f}-{hi:,.0f}) | - |"
    )
    lo, hi = throughput["ratio_range"]
    ok_ratio = "met" if throughput["ratio"] >= 0.8 else "not met"
    print(
        f"| Ratio client / bare, median of {n} paired passes | {throughput['ratio']:.2f} "
        f"(range {lo:.2f}-{hi:.2f}) | >= 0.8 ({ok_ratio}) |"
    )
    print(
        f"| Same without prefetch (`prefetch=False`): alerts/s, ratio | "
        f"{throughput['serial_per_second']:,.0f}, {throughput['serial_ratio']:.2f} | - |"
    )
    print(
        f"| Client-side CPU per alert, bare / client / without prefetch (benchmark "
        f"process) | {throughput['bare_cpu_us']:.1f} / {throughput['client_cpu_us']:.1f} / "
        f"{throughput['serial_cpu_us']:.1f} µs | - |"
    )
    print(
        f"| Alerts/s with {latency * 1000:.0f} ms per page: bare / client, "
        f"median of {delayed['rounds']} | "
        f"{delayed['bare_per_second']:,.0f} / {delayed['client_per_second']:,.0f} | - |"
    )
    print(f"| Ratio client / bare, {latency * 1000:.0f} ms per page | {delayed['ratio']:.2f} | - |")
    print(
        f"| Alerts per pass (bare / client) | {throughput['alerts']['bare']:,} / "
        f"{throughput['alerts']['client']:,} | equal |"
    )
    ok_tokens = all(v == 1 for v in tokens["client_counted"].values()) and all(
        v in (None, 1) for v in counted.values()
    )
    if args.smoke:
        return 0  # a smoke run measures nothing worth judging
    return 0 if ok_tokens and throughput["ratio"] >= 0.8 else 1


if __name__ == "__main__":
    raise SystemExit(main())
