"""Every benchmark in bench/ still runs: a schema or API change that breaks one fails here.

Each script runs as a subprocess in its smallest mode (``--smoke``: tiny data, one round,
the same code paths), must exit 0, must print its result lines, and must leave
``bench/RESULTS.md`` alone. The figures of a smoke run mean nothing and are not judged.

The benchmarks that need PostgreSQL get the server of this run's ``DATABASE_URL`` and a
database of their own named after the configured one (``<name>_bench_console``), which
they create and drop, and which is dropped here again afterwards (with the ``<name>_part``
that ``bench_partitioning.py`` makes beside it): never a database the tests use. They are
skipped without PostgreSQL, except under CI=true (tests/conftest.py).
``bench_sync.py``, ``bench_notify.py``, ``bench_fleet.py`` and ``bench_pass_cost.py`` run real
Celery workers against a private ``redis-server`` of their own on a free port, so they are
marked and skipped like the worker tests; ``bench_dispatch.py`` publishes to such a private
one (no workers), and is skipped without ``redis-server``; no benchmark gets the run's
Redis, broker or cache URLs.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conftest import IN_CI, postgres_url

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
RESULTS = BENCH / "RESULTS.md"
TIMEOUT = 180  # seconds per benchmark; a smoke run takes 5 to 20 on this machine
# Services of the test run that no benchmark may touch (each makes or is given its own).
WITHHELD = ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL", "SANDBOX_STATE_DIR")


@dataclass(frozen=True)
class Benchmark:
    script: str
    # Regular expressions, each of which must match a whole line of the output.
    result_lines: tuple[str, ...]
    # Given its own PostgreSQL database: (environment variable for the server, whether the
    # server URL ends with a slash).
    postgres: tuple[str, bool] | None = None
    args: tuple[str, ...] = field(default=())

    @property
    def purpose(self) -> str:
        return self.script.removesuffix(".py")


BENCHMARKS = {
    "bench_sandbox.py": Benchmark(
        "bench_sandbox.py",
        (
            r"\| alerts/s, 2x300, pages of 100, plain, pass 1 \(serialises\) \| .* \|",
            r"\| alerts/s, 2x300, pages of 100, with \$expand=evidence, pass 1 .* \|",
            r"\| Graph data built on first use, 2x300 .* \| \d+\.\d+ s \| .* \|",
            r"\| alerts/s, 2x300, pages of 100, Graph alerts_v2, pass 1 \(serialises\) \| .* \|",
            r"\| start-up, 2x100 alerts, first start \(creates keys\) \| \d+\.\d+ s \| .* \|",
            r"\| start-up, 2x100 alerts, restart \(median of 1, .*\) \| \d+\.\d+ s \| .* \|",
            r"\| sandbox CPU per idle Graph call, a token never seen \(baseline\), 40 calls "
            r"\| \d+\.\d+ ms \| \(baseline\) \|",
            r"\| sandbox CPU per idle Graph call, the token held for the hour, 40 calls "
            r"\| \d+\.\d+ ms \| (\d+\.\dx less than a new token's|n/a) \|",
        ),
    ),
    "bench_defender.py": Benchmark(
        "bench_defender.py",
        (
            r"## Protocol core \(smoke run\)",
            r"\| MDE token requests per tenant, 80 `get\(\)` calls .* \| 1, 1 \| 1 \|",
            r"\| MDE alerts/s, `MdeClient` fetch \+ parse \(\$top=100\), median of 1 \| .* \|",
            r"\| MDE ratio client / bare with 100 ms per page, median of 1 .* \| \d+\.\d+ .* \|",
            r"\| MDE alerts per pass \(bare / client\) \| 500 / 500 \| equal \|",
            r"\| Graph token requests per tenant, 80 `get\(\)` calls .* \| 1, 1 \| 1 \|",
            r"\| Graph alerts/s, `GraphClient` fetch \+ parse \(\$top=100\), median of 1 \| .* \|",
            r"\| Graph ratio client / bare with 100 ms per page, median of 1 .* \| \d+\.\d+ .* \|",
            r"\| Graph alerts per pass \(bare / client\) \| (\d+) / \1 \| equal \|",
        ),
    ),
    "bench_console.py": Benchmark(
        "bench_console.py",
        (
            r"Loaded 3,000 alerts for 40 customers in .*",
            r"\| 1 default view \(newest first, every customer\) \| .* \|",
            r"\| 10 analyst: assigned to one person, open \| .* \|",
            r"Slowest list-view p95: \d+\.\d ms .*",
            r"\| customer order, page 21, previous page \| .* \|",
            r"Peak memory ratio 1,500 / 300 rows: \d+\.\d\d .*",
        ),
        postgres=("BENCH_DATABASE_URL", True),
    ),
    "bench_graph_records.py": Benchmark(
        "bench_graph_records.py",
        (
            r"records\.parse_alert_page, 1,000 MDE alerts: \d+\.\d ms",
            r"Graph alerts, Microsoft's example .*: parse_graph_alert_page .* ratio .* = \d+\.\d\d",
            r"Graph alerts, mail alert .*: parse_graph_alert_page .* ratio .* = \d+\.\d\d",
        ),
    ),
    "bench_index.py": Benchmark(
        "bench_index.py",
        (
            r"index: 2 customers, \d+ Graph alerts, \d+\.\d sightings per alert: the listener's "
            r"share of a backfill pass, median \d+\.\d% .*",
            r"index: indexing after commit took \d+\.\d s .*",
        ),
        postgres=("BENCH_PG", False),
    ),
    "bench_hunting.py": Benchmark(
        "bench_hunting.py",
        (
            r"hunting: 3 customers, 0\.2 s a query, 24 at once: first rows .* "
            r"hunting calls per tenant 1-1, throttled 0",
        ),
        postgres=("BENCH_PG", False),
    ),
    "bench_fleet.py": Benchmark(
        "bench_fleet.py",
        (
            r"smoke: fleet: 3 customers, 1 worker\(s\) x 2 \(threads\), interval 2 s, .* "
            r"layout compose \(dispatcher's pool prefork\), .* "
            r"freshness p50 .* API calls per customer-hour \d+ \(limit \d+\), busiest tenant "
            r"\d+ calls in a minute .* token requests per tenant-hour: from no cached token, "
            r"\d+-\d+ a tenant .* CPU s/min workers [\d.]+, sandbox [\d.]+, PostgreSQL [\d.]+, "
            r"database busy .* growth .* KB/h .*",
            r"smoke: passes \(the workers' logs, in the window\): [1-9]\d* a minute in \d+ "
            r"customer tasks \(of one customer or a few quiet ones\), a task p50 .* "
            r"dispatcher cycles: [1-9]\d*, p50 .*",
            r"smoke: big backfill: 40 alerts of a new customer \(\d+ stored\) in \d+ s, .* "
            r"the others' freshness during it p50 .* outside it p50 .*",
            r"smoke: idle growth: 3 customers x 2 rounds \(12 passes, \d+ idle, \d+ rows\): "
            r".* KB per customer-day .*",
            r"smoke: host speed: a 20,000,000-step Python loop took \d+\.\d\d s of CPU before "
            r"the fleet started and \d+\.\d\d s after it stopped",
            r"smoke: dispatch: 20 customers, 40 sources: a cycle \d+ ms with nothing due, .*",
        ),
        postgres=("BENCH_PG", False),
    ),
    "bench_dispatch.py": Benchmark(
        "bench_dispatch.py",
        (
            r"smoke: all 60 sources of 30 customers due at once, as it was: no bound, each pass "
            r"published on its own: 1 cycle\(s\), a cycle \d+ ms .* 60 tasks in the queue; .*",
            r"smoke: all 60 sources of 30 customers due at once, at most 25 a cycle, one "
            r"producer, a task per source: \d cycle\(s\), a cycle \d+ ms .* 60 tasks in the "
            r"queue; .*",
            r"smoke: all 60 sources of 30 customers due at once, at most 25 a cycle, one "
            r"producer, a task per customer \(now\): \d cycle\(s\), a cycle \d+ ms .* "
            r"30 tasks in the queue; .*",
        ),
        postgres=("BENCH_PG", False),
    ),
    "bench_pass_statements.py": Benchmark(
        "bench_pass_statements.py",
        (
            *(
                rf"smoke: 20 customers x 2 runs, medians of 1: {kind}: CPU \d+\.\d{{3}} ms "
                rf"through the ORM, \d+\.\d{{3}} ms as SQL \(\d+\.\d\dx\); wall .*"
                for kind in ("customer", "unqueue", "state", "idle count")
            ),
            r"smoke: 20 customers x 2 runs, medians of 1: an idle task's six statements: CPU "
            r"\d+\.\d{3} ms before, \d+\.\d{3} ms now \(\d+\.\d\dx\); wall .*; load .*",
        ),
        postgres=("BENCH_PG", False),
    ),
    "bench_sync.py": Benchmark(
        "bench_sync.py",
        (
            r"backfill: 600 alerts, median of 1 rounds; sync .* ratio sync/\(HTTP\+COPY\) = .*",
            r"steady: 3 customers, 1 changing, 2 threads: cycle .* API calls per customer .*",
            r"freshness: 2 customers, interval 2 s, \d+ alerts \(\d+ missing\): p50 .*",
            r"graph backfill: \d+ alerts and \d+ incidents, median of 1 rounds; .* = .*",
            r"graph steady: 3 customers, 1 changing, 2 threads: .* idle customer's API calls "
            r"per cycle: graph_alerts \d\.\d\d \(max \d+\), graph_incidents .*",
            r"graph freshness: 2 customers, interval 2 s, \d+ alerts \(\d+ missing\): p50 .*",
        ),
        postgres=("BENCH_PG", False),
    ),
    "bench_notify.py": Benchmark(
        "bench_notify.py",
        (
            r"notify: 2 customers, interval 2 s, group wait 0 s, \d+ alerts \(\d+ not stored, "
            r"\d+ lost, \d+ received twice, \d+ deliveries twice\)",
            r"notify freshness \(created -> stored\): p50 .*",
            r"notify end to end \(created -> received\): p50 .*",
            r"notify path \(stored -> received\): p50 .*",
        ),
        postgres=("BENCH_PG", False),
    ),
    "bench_partitioning.py": Benchmark(
        "bench_partitioning.py",
        (
            r"Loaded 4,000 alerts for 40 customers over 460 days .*",
            r"Table \+ indexes: plain .*B, partitioned .*B",
            r"\| first page, newest first, every customer \| .* \|",
            r"\| detail by pk \| .* \|",
            r"\| upsert 500 \(400 changed, 100 new\), rolled back \| .* \|",
            r"Retention 400 days, plain: \d+ alerts in .* \(0 partitions dropped.*",
            r"Retention 400 days, partitioned: \d+ alerts in .* \([1-9] partitions dropped.*",
        ),
        postgres=("BENCH_DATABASE_URL", True),
    ),
    "bench_pass_cost.py": Benchmark(
        "bench_pass_cost.py",
        (
            *(
                rf"smoke: idle passes of 4 customers \(2 sources each\), threads x 2, {way}: "
                r"worker CPU \d+\.\d\d ms, PostgreSQL CPU \d+\.\d\d ms, \d+\.\d database "
                r"transactions, .*"
                for way in (
                    r"a task per source, a new connection per task \(before\)",
                    r"a task per customer, a new connection per task",
                    r"a task per source, connections kept",
                    r"a task per customer, connections kept",
                    r"quiet customers four to a task, connections kept \(now\)",
                )
            ),
            r"smoke: now against before: worker CPU \d+\.\d\dx, PostgreSQL CPU \d+\.\d\dx, "
            r"transactions \d+\.\d\dx, .*",
            r"smoke: quiet customers four to a task against a task per customer: worker CPU "
            r"\d+\.\d\dx, PostgreSQL CPU (\d+\.\d\dx|n/a), round \d+\.\d\dx",
        ),
        postgres=("BENCH_PG", False),
    ),
}
MARKS = {
    "bench_sandbox.py": [pytest.mark.sandbox],
    "bench_defender.py": [pytest.mark.sandbox],
    "bench_graph_records.py": [],
    "bench_console.py": [pytest.mark.postgres],
    "bench_partitioning.py": [pytest.mark.postgres],
    "bench_hunting.py": [pytest.mark.sandbox, pytest.mark.postgres],
    "bench_index.py": [pytest.mark.sandbox, pytest.mark.postgres],
    "bench_dispatch.py": [pytest.mark.postgres],
    "bench_pass_statements.py": [pytest.mark.postgres],
    # Real workers, beat and a private redis-server: marked like tests/alerts/test_sync_worker.py.
    "bench_fleet.py": [
        pytest.mark.sandbox,
        pytest.mark.postgres,
        pytest.mark.redis,
        pytest.mark.worker,
    ],
    "bench_notify.py": [
        pytest.mark.sandbox,
        pytest.mark.postgres,
        pytest.mark.redis,
        pytest.mark.worker,
    ],
    "bench_sync.py": [
        pytest.mark.sandbox,
        pytest.mark.postgres,
        pytest.mark.redis,
        pytest.mark.worker,
    ],
    "bench_pass_cost.py": [
        pytest.mark.sandbox,
        pytest.mark.postgres,
        pytest.mark.redis,
        pytest.mark.worker,
    ],
}


#: The benchmarks that start a private redis-server of their own (all but bench_dispatch.py
#: run real workers against it).
PRIVATE_REDIS = (
    "bench_sync.py", "bench_notify.py", "bench_fleet.py", "bench_dispatch.py",
    "bench_pass_cost.py",
)  # fmt: skip


def scratch_database(purpose: str) -> tuple[str, str]:
    """(server URL without a database, database name) for a benchmark's own database,
    on the server of this run's DATABASE_URL and named after its database."""
    url = urlsplit(postgres_url())
    configured = url.path.lstrip("/") or "postgres"
    server = urlunsplit(("postgresql", url.netloc, "", "", ""))
    return server, f"{configured}_{purpose}"[:63]


def drop_database(server: str, name: str) -> None:
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class Prepared:
    bench: Benchmark
    args: list[str]
    env: dict[str, str]


@pytest.fixture
def prepared(request: pytest.FixtureRequest) -> Iterator[Prepared]:
    """The benchmark with its arguments and environment; its database dropped after."""
    bench: Benchmark = request.param
    env = {k: v for k, v in os.environ.items() if k not in WITHHELD}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    args = ["--smoke", *bench.args]
    if bench.postgres is None:
        yield Prepared(bench, args, env)
        return
    if bench.script in PRIVATE_REDIS and shutil.which("redis-server") is None:
        why = f"redis-server is not on the PATH ({bench.script} starts a private one)"
        if IN_CI:
            pytest.fail(f"{why}; CI=true requires it", pytrace=False)
        pytest.skip(why)
    variable, trailing_slash = bench.postgres
    server, name = scratch_database(bench.purpose)
    env[variable] = server + ("/" if trailing_slash else "")
    try:
        yield Prepared(bench, [*args, "--database", name], env)
    finally:
        drop_database(server, name)
        # bench_partitioning.py makes a second one beside it.
        drop_database(server, f"{name}_part"[:63])


def run_benchmark(script: str, args: list[str], env: dict[str, str]) -> tuple[int, str]:
    # Its own process group, so that a benchmark over its time is stopped with its children.
    process = subprocess.Popen(
        [sys.executable, str(BENCH / script), *args],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"{script} --smoke ran over {TIMEOUT} s:\n{output[-4000:]}", pytrace=False)
    return process.returncode, output


@pytest.mark.parametrize(
    "prepared",
    [pytest.param(b, id=b.purpose, marks=MARKS[name]) for name, b in BENCHMARKS.items()],
    indirect=True,
)
def test_benchmark_runs_in_smoke_mode(prepared: Prepared) -> None:
    bench = prepared.bench
    before = digest(RESULTS)
    started = time.monotonic()
    code, output = run_benchmark(bench.script, prepared.args, prepared.env)
    took = time.monotonic() - started
    assert code == 0, f"{bench.script} --smoke exited {code} after {took:.0f} s:\n{output[-4000:]}"
    lines = output.splitlines()
    missing = [p for p in bench.result_lines if not any(re.fullmatch(p, line) for line in lines)]
    assert missing == [], f"{bench.script} --smoke did not print its results:\n{output[-4000:]}"
    assert digest(RESULTS) == before, f"{bench.script} --smoke changed bench/RESULTS.md"


def test_every_benchmark_script_is_smoke_tested() -> None:
    scripts = {p.name for p in BENCH.glob("*.py") if p.name.startswith("bench")}
    assert scripts == set(BENCHMARKS)
    for name in scripts:
        assert "--smoke" in (BENCH / name).read_text(), f"{name} has no --smoke mode"
