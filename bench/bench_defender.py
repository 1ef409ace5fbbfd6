"""Benchmark of the Microsoft protocol core against the sandbox.

(a) Token sharing: 4 processes each call ``TokenProvider.get()`` N times per tenant
    through one ``FileTokenCache``; the sandbox counts the token requests that reached
    it (target: 1 per tenant per token lifetime).
(b) Alert throughput: alerts per second fetched and parsed by ``MdeClient`` compared
    with a bare ``requests`` loop over the same pages (target: ratio >= 0.8). Both
    sides get an untimed warm-up pass (the sandbox serialises an alert on first read),
    then run in alternating order; medians of the rounds are reported. The client is
    also timed without prefetch, and with a 100 ms delay per page.
(c) The same two measures for Microsoft Graph: ``GraphClient`` fetching and parsing every
    ``alerts_v2`` page (``$top=1000``, evidence inline) against a bare ``requests`` loop
    following the same ``@odata.nextLink`` pages with the same token, at 0 and 100 ms per
    page (target at 100 ms: ratio >= 0.9); and Graph token requests per tenant from 4
    processes through one ``FileTokenCache`` (target: 1).

Usage::

    .venv/bin/python bench/bench_defender.py [--quick | --smoke] [--rounds N] \
        [--config sandbox.json] [--only mde|graph]

Without ``--config`` a sandbox is started for the run (and stopped afterwards). The exit
status is 1 when a target is missed. ``--smoke`` (2 tenants x 500 alerts, pages of 100,
20 ``get()`` calls per process, one round) only proves that the benchmark runs: its
figures mean nothing and it judges no target. ``--only mde`` or ``--only graph`` runs one
part.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from partner_portal.defender.clouds import (  # noqa: E402
    ALERT_READ,
    GRAPH_ALERT_READ,
    MDE_RESOURCE,
    endpoints_for,
)
from partner_portal.defender.credentials import AppCredentials  # noqa: E402
from partner_portal.defender.graph import GRAPH_MAX_TOP, GraphClient  # noqa: E402
from partner_portal.defender.graph_listing import ORDER  # noqa: E402
from partner_portal.defender.http import make_session  # noqa: E402
from partner_portal.defender.mde import MdeClient  # noqa: E402
from partner_portal.defender.rate_limit import NO_LIMIT  # noqa: E402
from partner_portal.defender.token_cache import FileTokenCache  # noqa: E402
from partner_portal.defender.tokens import TokenProvider  # noqa: E402
from partner_portal.sandbox.testing import token_requests as sandbox_token_requests  # noqa: E402

LATENCY = 0.1  # seconds per page in the delayed case (the sandbox's "slow" fault)
SLOW = f" with {LATENCY * 1000:.0f} ms per page"
MDE_TARGET, GRAPH_DELAYED_TARGET = 0.8, 0.9


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

    def slow(self, tenant_id: str, seconds: float) -> None:
        """Every API answer to ``tenant_id`` waits ``seconds`` (0: none), like a network."""
        faults = {"rate_slow": 1.0, "slow_seconds": seconds} if seconds else {}
        self.control("PUT", "/_sandbox/faults", {"tenant": tenant_id, **faults})


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
        graph_url=cfg.get("graph_url") or cfg["api_url"],
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


def graph_client(cfg: dict[str, Any], tp: TokenProvider, tenant_id: str) -> GraphClient:
    """An unthrottled Graph client with a session of its own, its tokens from ``tp``."""
    where = endpoints(cfg)
    resource = GraphClient.resource_for(where)
    return GraphClient.for_endpoints(
        where,
        tenant_id,
        lambda force: tp.get(tenant_id, resource, force_refresh=force).token,
        session=make_session(cfg["ca_file"]),
        limiter=NO_LIMIT,
    )


def token_requests(sb: Sandbox, tenant_id: str) -> int | None:
    return sandbox_token_requests(sb.control("GET", f"/_sandbox/stats?tenant={tenant_id}") or {})


# -- token sharing --------------------------------------------------------------------


def _token_worker(args: tuple[dict[str, Any], str, str, list[str], int]) -> dict[str, int]:
    cfg, cache_dir, resource, tenant_ids, calls = args
    tp = TokenProvider(
        credentials(cfg), endpoints(cfg), FileTokenCache(cache_dir), ca_file=cfg["ca_file"]
    )
    fetched = {tid: 0 for tid in tenant_ids}
    for _ in range(calls):
        for tid in tenant_ids:
            if tp.get(tid, resource).source == "identity_provider":
                fetched[tid] += 1
    return fetched


def bench_tokens(sb: Sandbox, tenant_ids: list[str], calls: int, resource: str) -> dict[str, Any]:
    """4 processes share one new token cache; the sandbox counts what reaches it."""
    before = {tid: token_requests(sb, tid) for tid in tenant_ids}
    with tempfile.TemporaryDirectory(prefix="bench-tokens-") as cache_dir:
        ctx = multiprocessing.get_context("spawn")
        work = [(sb.config, cache_dir, resource, tenant_ids, calls)] * 4
        started = time.perf_counter()
        with ctx.Pool(4) as pool:
            results = pool.map(_token_worker, work)
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


def tokens_met(tokens: dict[str, Any]) -> bool:
    return all(v == 1 for v in tokens["client_counted"].values()) and all(
        v in (None, 1) for v in tokens["sandbox_counted"].values()
    )


# -- throughput: a client against a bare loop, in turns ---------------------------------


def in_turns(
    sides: dict[str, Callable[[], int]], rounds: int, *, warm_up: bool = True
) -> dict[str, Any]:
    """Time each side (a pass returning its alert count) ``rounds`` times, in turns.

    One untimed pass of each side comes first (the sandbox builds an alert's answer on
    its first read, so whichever side ran first would otherwise be slower); then the
    rounds, alternating the order. The first side is the baseline: medians of every
    side's alerts/s and CPU per alert, and of each other side's per-round ratio to it.
    """
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
    baseline = next(iter(sides))
    ratios = {
        name: [c / b for b, c in zip(rates[baseline], rates[name], strict=True)] for name in sides
    }
    return {
        "rounds": rounds,
        "alerts": counts,
        "per_second": {name: statistics.median(r) for name, r in rates.items()},
        "range": {name: (min(r), max(r)) for name, r in rates.items()},
        "cpu_us": {name: statistics.median(c) for name, c in cpu.items()},
        "ratio": {name: statistics.median(r) for name, r in ratios.items()},
        "ratio_range": {name: (min(r), max(r)) for name, r in ratios.items()},
    }


def mde_sides(sb: Sandbox, tenant_id: str, page_size: int) -> dict[str, Callable[[], int]]:
    """A bare ``requests`` loop, ``MdeClient``, and ``MdeClient`` without prefetch.

    Both sides use a new ``make_session`` session per pass (same TLS and pool
    settings), the same token and the same ``$top``/``$skip`` pages.
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

    return {"bare": bare, "client": client, "serial": lambda: client(prefetch=False)}


def graph_sides(sb: Sandbox, tenant_id: str, page_size: int) -> dict[str, Callable[[], int]]:
    """A bare ``requests`` loop and ``GraphClient``, each over every ``alerts_v2`` page.

    Both sides use a new ``make_session`` session per pass, the same token, the same
    first request (``$orderby`` and ``$top`` as the client sends them) and the same
    ``@odata.nextLink`` pages after it.
    """
    cfg = sb.config
    tp = token_provider(cfg)
    token = tp.get(tenant_id, GraphClient.resource_for(endpoints(cfg))).token
    url = GraphClient.base_url_for(endpoints(cfg)) + "/security/alerts_v2"
    headers = {**GraphClient.default_headers, "Authorization": f"Bearer {token}"}

    def bare() -> int:
        session = make_session(cfg["ca_file"])
        count = 0
        link: str | None = url
        params: dict[str, str | int] | None = {"$orderby": ORDER, "$top": page_size}
        while link is not None:
            answer = session.get(link, params=params, headers=headers)
            answer.raise_for_status()
            body = answer.json()
            count += len(body["value"])
            link, params = body.get("@odata.nextLink"), None
        return count

    def client() -> int:
        c = graph_client(cfg, tp, tenant_id)
        return sum(len(p) for p in c.iter_alert_pages(page_size=page_size))

    return {"bare": bare, "client": client}


def delayed(
    sb: Sandbox, tenant_id: str, sides: dict[str, Callable[[], int]], rounds: int
) -> dict[str, Any]:
    """:func:`in_turns` with a network-like delay on every page of ``tenant_id``; the
    warm-up passes run before the delay is switched on."""
    for fn in sides.values():
        fn()
    sb.slow(tenant_id, LATENCY)
    try:
        return in_turns(sides, rounds, warm_up=False)
    finally:
        sb.slow(tenant_id, 0)


# -- report ---------------------------------------------------------------------------


def token_rows(tokens: dict[str, Any], tenant_ids: list[str], what: str) -> list[str]:
    counted = tokens["sandbox_counted"]
    per_tenant = (
        ", ".join(str(counted[t]) for t in tenant_ids)
        if all(v is not None for v in counted.values())
        else "n/a (sandbox stats lack a token count)"
    )
    client_side = ", ".join(str(tokens["client_counted"][t]) for t in tenant_ids)
    return [
        f"| {what} token requests per tenant, {tokens['calls_per_tenant']:,} `get()` calls "
        f"from 4 processes, shared FileTokenCache (sandbox count) | {per_tenant} | 1 |",
        f"| Same, as seen by the clients (`source=identity_provider`) | {client_side} | 1 |",
        f"| `get()` calls per second (all processes) | {tokens['gets_per_second']:,.0f} | - |",
    ]


def throughput_rows(
    what: str, run: dict[str, Any], client: str, page_size: int, target: float | None, when: str
) -> list[str]:
    """Rows for one ``in_turns`` result: each side's alerts/s, then the ratio."""
    n = run["rounds"]
    rows = []
    for name, label in (("bare", "bare `requests` loop"), ("client", f"`{client}` fetch + parse")):
        lo, hi = run["range"][name]
        rows.append(
            f"| {what} alerts/s{when}, {label} ($top={page_size}), median of {n} | "
            f"{run['per_second'][name]:,.0f} (range {lo:,.0f}-{hi:,.0f}) | - |"
        )
    lo, hi = run["ratio_range"]["client"]
    ratio = run["ratio"]["client"]
    judged = "-" if target is None else f">= {target} ({'met' if ratio >= target else 'not met'})"
    rows.append(
        f"| {what} ratio client / bare{when}, median of {n} paired passes | {ratio:.2f} "
        f"(range {lo:.2f}-{hi:.2f}) | {judged} |"
    )
    return rows


def cpu_row(what: str, run: dict[str, Any], names: str) -> str:
    figures = " / ".join(f"{us:.1f}" for us in run["cpu_us"].values())
    return f"| {what} client-side CPU per alert, {names} (benchmark process) | {figures} µs | - |"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller run for CI")
    parser.add_argument(
        "--smoke", action="store_true", help="tiny run that proves it works; judges no target"
    )
    parser.add_argument("--config", help="sandbox.json of an already running sandbox")
    parser.add_argument("--rounds", type=int, help="timed pairs of passes (default 7, quick 3)")
    parser.add_argument("--only", choices=("mde", "graph"), help="run one part")
    args = parser.parse_args()

    tenants = 2 if args.quick or args.smoke else 3
    calls = 200 if args.quick else 1000
    alerts = 5_000 if args.quick else 25_000
    rounds = args.rounds or (3 if args.quick else 7)
    delayed_rounds = 1 if args.quick else 3
    page_size, graph_page_size = 1000, GRAPH_MAX_TOP
    if args.smoke:
        calls, alerts, rounds, delayed_rounds = 20, 500, args.rounds or 1, 1
        page_size = graph_page_size = 100
    parts = [args.only] if args.only else ["mde", "graph"]

    rows: list[str] = []
    met = True
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
            roles = [ALERT_READ, GRAPH_ALERT_READ]
            sb.control("POST", f"/_sandbox/tenants/{tid}/consent", {"roles": roles})
        first, second = tenant_ids[0], tenant_ids[1]

        if "mde" in parts:
            tokens = bench_tokens(sb, tenant_ids, calls, MDE_RESOURCE)
            mde = in_turns(mde_sides(sb, first, page_size), rounds)
            # With a network-like delay on every page the prefetch overlaps parsing.
            mde_slow = delayed(sb, second, mde_sides(sb, second, page_size), delayed_rounds)
            rows += token_rows(tokens, tenant_ids, "MDE")
            rows += throughput_rows("MDE", mde, "MdeClient", page_size, MDE_TARGET, "")
            rows.append(
                f"| MDE without prefetch (`prefetch=False`): alerts/s, ratio | "
                f"{mde['per_second']['serial']:,.0f}, {mde['ratio']['serial']:.2f} | - |"
            )
            rows.append(cpu_row("MDE", mde, "bare / client / without prefetch"))
            rows += throughput_rows("MDE", mde_slow, "MdeClient", page_size, None, SLOW)
            rows.append(
                f"| MDE alerts per pass (bare / client) | {mde['alerts']['bare']:,} / "
                f"{mde['alerts']['client']:,} | equal |"
            )
            met = met and tokens_met(tokens) and mde["ratio"]["client"] >= MDE_TARGET

        if "graph" in parts:
            resource = GraphClient.resource_for(endpoints(sb.config))
            graph_tokens = bench_tokens(sb, tenant_ids, calls, resource)
            graph = in_turns(graph_sides(sb, first, graph_page_size), rounds)
            graph_slow = delayed(
                sb, second, graph_sides(sb, second, graph_page_size), delayed_rounds
            )
            rows += token_rows(graph_tokens, tenant_ids, "Graph")
            rows += throughput_rows("Graph", graph, "GraphClient", graph_page_size, None, "")
            rows.append(cpu_row("Graph", graph, "bare / client"))
            rows += throughput_rows(
                "Graph", graph_slow, "GraphClient", graph_page_size, GRAPH_DELAYED_TARGET, SLOW
            )
            rows.append(
                f"| Graph alerts per pass (bare / client) | {graph['alerts']['bare']:,} / "
                f"{graph['alerts']['client']:,} | equal |"
            )
            met = met and tokens_met(graph_tokens)
            met = met and graph_slow["ratio"]["client"] >= GRAPH_DELAYED_TARGET
            met = met and graph["alerts"]["bare"] == graph["alerts"]["client"]

    run = "smoke" if args.smoke else "quick" if args.quick else "full"
    print(f"## Protocol core ({run} run)\n")
    print("| Measure | Result | Target |")
    print("| --- | --- | --- |")
    print("\n".join(rows))
    if args.smoke:
        return 0  # a smoke run measures nothing worth judging
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
