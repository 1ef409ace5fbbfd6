"""The running portal (gunicorn, a real Celery worker and beat) beside a sandbox, with two
customers onboarded through the portal's own pages and their alerts already synced."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from partner_portal.sandbox.testing import SandboxProcess
from tenants.demo import PortalDriver
from tests.fixtures.browser import sign_in
from tests.fixtures.portal_process import PortalProcess, start_portal, stop_portal
from tests.waiting import wait_until

ALERTS_PER_TENANT = 20


@dataclass
class Console:
    portal: PortalProcess
    sandbox: SandboxProcess
    driver: PortalDriver
    # Customer name -> (portal customer pk, sandbox tenant ID).
    customers: dict[str, tuple[int, str]]

    @property
    def url(self) -> str:
        return self.portal.url


def _wait_for_alerts(driver: PortalDriver, expected: int, timeout: float = 90) -> None:
    count = 0

    def all_arrived() -> bool:
        nonlocal count
        response = driver.session.get(
            f"{driver.portal_url}/alerts/export.json", params={"status": "all"}, timeout=30
        )
        if response.status_code == 200:
            count = len(response.json() if isinstance(response.json(), list) else [])
        return count >= expected

    wait_until(
        all_arrived, timeout=timeout, every=1,
        message=lambda: f"only {count} of {expected} alerts arrived",
    )  # fmt: skip


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    sandbox = SandboxProcess(
        tmp_path_factory.mktemp("console-sandbox"),
        tenants=2, consented=0, alerts_per_tenant=ALERTS_PER_TENANT, arrival_rate=0, seed=23,
    )  # fmt: skip
    with sandbox:
        portal = start_portal(sandbox, tmp_path_factory.mktemp("console-portal"))
        try:
            driver = PortalDriver(portal.url)
            driver.sign_in(portal.admin_username, portal.admin_password)
            customers: dict[str, tuple[int, str]] = {}
            names = ("Contoso Retail", "Fabrikam Health")
            for tenant, name in zip(sandbox.tenants, names, strict=True):
                # Consent to the Defender APIs only: these customers stay on the legacy
                # APIs, whose write-back these tests cover (Graph's has its own test).
                sandbox.control(
                    "PUT",
                    f"/_sandbox/tenants/{tenant['tenant_id']}/consent-scope",
                    json={"scope": "defender"},
                ).raise_for_status()
                # 30 seconds is the shortest interval the registration form allows.
                pk, link = driver.register(name, sync_interval_seconds="30")
                result = driver.consent(
                    link, admin_user=tenant["admin_user"], ca_file=sandbox.ca_file
                )
                assert result.status_code == 200, result.page[-500:]
                customers[name] = (pk, tenant["tenant_id"])
            for pk, _ in customers.values():
                driver.wait_for_status(pk, timeout=60)
            _wait_for_alerts(driver, expected=ALERTS_PER_TENANT * len(customers))
            yield Console(portal, sandbox, driver, customers)
        finally:
            stop_portal(portal)


@pytest.fixture(scope="module")
def console_browser(chromium: Any) -> Any:
    """Chromium for this module (tests/fixtures/browser.py)."""
    return chromium


@pytest.fixture
def page(console_browser: Any, console: Console) -> Iterator[Any]:
    """A fresh browser context signed in as the portal's admin (who holds every role)."""
    context = console_browser.new_context(
        accept_downloads=True, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(20_000)
    sign_in(page, console.url, console.portal.admin_username, console.portal.admin_password)
    yield page
    context.close()
