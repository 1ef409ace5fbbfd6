"""Entry point: ``python -m partner_portal.sandbox [options]`` (see README.md here)."""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
import time
from types import FrameType

from .options import parse_options
from .pki import ensure_pki
from .server import serve
from .state import Sandbox


def _stop(signum: int, frame: FrameType | None) -> None:
    # Turn SIGTERM into a normal exit so pending changes are written first.
    raise SystemExit(0)


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    logging.basicConfig(
        level=logging.WARNING if options.quiet else logging.INFO,
        format="%(asctime)s sandbox %(levelname)s %(message)s",
        stream=sys.stderr,
    )
    signal.signal(signal.SIGTERM, _stop)
    started = time.perf_counter()
    hosts = ["localhost", "127.0.0.1", "::1"]
    if options.host not in hosts and options.host not in {"0.0.0.0", "::"}:  # noqa: S104
        hosts.append(options.host)
    pki = ensure_pki(options.state_dir, hosts)
    sandbox = Sandbox(options, pki)
    sandbox.load()

    def ready(url: str) -> None:
        took = time.perf_counter() - started
        logging.getLogger("partner_portal.sandbox").info(
            "%d tenants, state in %s, ready in %.2f s",
            len(sandbox.tenants),
            options.state_dir,
            took,
        )
        print(f"sandbox ready {url}", flush=True)

    with contextlib.suppress(KeyboardInterrupt):
        serve(sandbox, ready)
    return 0


if __name__ == "__main__":
    sys.exit(main())
