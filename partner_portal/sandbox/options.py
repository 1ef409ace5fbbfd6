"""Command-line options of ``python -m partner_portal.sandbox`` and their defaults."""

from __future__ import annotations

import argparse
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from .faults import PROFILES

DEFAULT_REDIRECT_URIS = [
    "http://127.0.0.1:8000/consent/callback/",
    "http://localhost:8000/consent/callback/",
    # Staff signing in to the portal with their partner-tenant accounts.
    "http://127.0.0.1:8000/accounts/microsoft/callback/",
    "http://localhost:8000/accounts/microsoft/callback/",
]


def project_root() -> Path:
    """The folder holding manage.py or pyproject.toml above this package (else the cwd)."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "manage.py").exists() or (parent / "pyproject.toml").exists():
            return parent
    return Path.cwd()


@dataclass
class Options:
    """Everything the sandbox is started with."""

    host: str = "127.0.0.1"
    port: int = 8443
    # The plain-HTTP listener of the pages a person's browser visits (None: none).
    browser_port: int | None = 8442
    allow_remote: bool = False
    state_dir: Path = Path("data/sandbox")
    tenants: int = 5
    consented: int = 0
    alerts_per_tenant: int = 200
    seed: int = 1
    arrival_rate: float = 1.0
    faults: str = "none"
    rate_limit: bool = True
    redirect_uris: tuple[str, ...] = ()
    page_size: int = 10_000
    quiet: bool = False


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m partner_portal.sandbox",
        description="Local HTTPS stand-in for Microsoft Entra ID and the Defender APIs.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (loopback)")
    parser.add_argument("--port", type=int, default=8443, help="port; 0 picks a free one")
    parser.add_argument(
        "--browser-port",
        type=int,
        default=8442,
        help="plain-HTTP port on 127.0.0.1 for the consent and sign-in pages a browser "
        "visits; 0 picks a free one",
    )
    parser.add_argument(
        "--no-browser-port",
        action="store_true",
        help="serve the consent and sign-in pages over HTTPS only",
    )
    parser.add_argument(
        "--allow-remote", action="store_true", help="allow a non-loopback --host (never in prod)"
    )
    parser.add_argument(
        "--state-dir",
        default=None,
        help="where certificates, app, tenants and changes are kept "
        "(default: $SANDBOX_STATE_DIR or data/sandbox under the project root)",
    )
    parser.add_argument("--tenants", type=int, default=5, help="customer tenants (at least)")
    parser.add_argument(
        "--consented", type=int, default=0, help="how many new tenants start consented"
    )
    parser.add_argument("--alerts-per-tenant", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1, help="seed of all generated data")
    parser.add_argument(
        "--arrival-rate",
        type=float,
        default=1.0,
        help="new and updated alerts per tenant per minute (0 stops arrivals)",
    )
    parser.add_argument("--faults", default="none", choices=sorted(PROFILES))
    parser.add_argument("--no-rate-limit", action="store_true", help="switch off 429 limits")
    parser.add_argument(
        "--redirect-uri",
        action="append",
        default=[],
        help="an extra registered redirect URI of the partner app (repeatable)",
    )
    parser.add_argument(
        "--page-size",
        type=int,
        default=10_000,
        help="server page size of /api/alerts without $top (small values help tests)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    return parser


def parse_options(argv: list[str] | None = None) -> Options:
    """Parse and check the command line; exits with a message on bad input."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.allow_remote and not is_loopback(args.host):
        parser.error(
            f"--host {args.host} is not a loopback address; the sandbox holds test "
            "credentials and is meant for this machine only (add --allow-remote to insist)"
        )
    if args.tenants < 0 or args.consented < 0 or args.alerts_per_tenant < 0:
        parser.error("--tenants, --consented and --alerts-per-tenant must not be negative")
    if args.browser_port < 0:
        parser.error("--browser-port must not be negative (--no-browser-port turns it off)")
    if args.page_size < 1:
        parser.error("--page-size must be at least 1")
    if args.arrival_rate < 0:
        parser.error("--arrival-rate must not be negative")
    state_dir = args.state_dir or os.environ.get("SANDBOX_STATE_DIR")
    path = Path(state_dir) if state_dir else project_root() / "data" / "sandbox"
    # Plain HTTP for a browser on this machine only: a sandbox listening elsewhere
    # (--allow-remote) serves its pages over HTTPS alone.
    browser_port = None if args.no_browser_port or not is_loopback(args.host) else args.browser_port
    return Options(
        host=args.host,
        port=args.port,
        browser_port=browser_port,
        allow_remote=args.allow_remote,
        state_dir=path.resolve(),
        tenants=args.tenants,
        consented=min(args.consented, args.tenants),
        alerts_per_tenant=args.alerts_per_tenant,
        seed=args.seed,
        arrival_rate=args.arrival_rate,
        faults=args.faults,
        rate_limit=not args.no_rate_limit,
        redirect_uris=tuple(dict.fromkeys(DEFAULT_REDIRECT_URIS + args.redirect_uri)),
        page_size=args.page_size,
        quiet=args.quiet,
    )
