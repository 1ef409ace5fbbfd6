"""An analyst resolves an incident from the incident list in a real browser, and the
sandbox's Microsoft Graph ground truth shows it resolved with the chosen classification.

The whole portal runs as a user runs it (gunicorn, a Celery worker and beat); the
customer is onboarded through the portal's pages and consents to Microsoft Graph, so its
incidents arrive through the Graph sync and are written back through Graph.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from partner_portal.sandbox.testing import SandboxProcess
from tenants.demo import PortalDriver
from tests.fixtures.browser import sign_in
from tests.fixtures.portal_process import (
    ROOT,
    PortalProcess,
    embedded_env,
    start_portal,
    stop_portal,
)
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]

ANALYST, ANALYST_PASSWORD = "dana", "Incident-Writeback-2026"
CREATE_ANALYST = """
from django.contrib.auth.models import Group, User
from partner_portal.core.access import Role
from tenants.models import AnalystScope, Customer
user = User.objects.create_user(
    "{name}", email="dana@partner.example", password="{password}",
    first_name="Dana", last_name="Reyes",
)
user.groups.add(Group.objects.get(name=Role.ANALYST.value))
AnalystScope.objects.create(user=user, customer=Customer.objects.get(pk={pk}))
"""


def _create_analyst(portal: PortalProcess, customer_pk: int) -> None:
    """An analyst scoped to the customer, made in the running portal's own database."""
    env = embedded_env(
        portal.data_dir,
        SANDBOX_CONFIG_FILE=str(Path(portal.sandbox.state_dir) / "sandbox.json"),
    )
    code = CREATE_ANALYST.format(name=ANALYST, password=ANALYST_PASSWORD, pk=customer_pk)
    subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", code],
        cwd=ROOT, env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip


@pytest.fixture(scope="module")
def graph_portal(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PortalProcess, str]]:
    """The running portal with one customer on Graph whose incidents are synced; the
    customer's tenant ID."""
    sandbox = SandboxProcess(
        tmp_path_factory.mktemp("incident-browser-sandbox"),
        tenants=1, consented=0, alerts_per_tenant=20, arrival_rate=0, seed=41,
    )  # fmt: skip
    with sandbox:
        portal = start_portal(sandbox, tmp_path_factory.mktemp("incident-browser-portal"))
        try:
            driver = PortalDriver(portal.url)
            driver.sign_in(portal.admin_username, portal.admin_password)
            tenant = sandbox.tenants[0]
            pk, link = driver.register("Northwind Traders", sync_interval_seconds="30")
            consented = driver.consent(
                link, admin_user=tenant["admin_user"], ca_file=sandbox.ca_file
            )
            assert consented.status_code == 200, consented.page[-500:]
            driver.wait_for_status(pk, timeout=60)

            def incidents_listed() -> bool:
                listing = driver.session.get(f"{portal.url}/incidents/", timeout=30)
                # A row of the queue, not the status filter's "Active" box.
                return listing.status_code == 200 and "data-incident-id=" in listing.text

            wait_until(
                incidents_listed, timeout=120, every=1,
                message=lambda: "no active incident was synced from Graph",
            )  # fmt: skip
            _create_analyst(portal, pk)
            yield portal, tenant["tenant_id"]
        finally:
            stop_portal(portal)


def _graph_incident(sandbox: SandboxProcess, tenant_id: str, number: str) -> dict[str, Any]:
    response = sandbox.control("GET", f"/_sandbox/tenants/{tenant_id}/graph/ground-truth")
    response.raise_for_status()
    incidents: list[dict[str, Any]] = response.json()["incidents"]
    return next(i for i in incidents if i["id"] == number)


def test_an_analyst_resolves_an_incident_with_a_classification(
    chromium: Any, graph_portal: tuple[PortalProcess, str]
) -> None:
    portal, tenant_id = graph_portal
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        sign_in(page, portal.url, ANALYST, ANALYST_PASSWORD)

        page.goto(f"{portal.url}/incidents/")
        row = page.locator("tbody tr", has_text="Active").first
        row.locator("a[href*='/incidents/']").first.click()
        page.wait_for_selector("#incident-writeback-form")
        number = page.locator("nav.crumbs [aria-current=page]").inner_text().lstrip("#")

        page.select_option("#id_status", "Resolved")
        page.select_option("#id_classification", "TruePositive")
        page.select_option("#id_determination", "MultiStagedAttack")
        page.fill("#id_comment", "Contained; closing.")
        page.click("#incident-writeback-save")
        page.wait_for_selector("text=Saved in Defender.")

        truth = _graph_incident(portal.sandbox, tenant_id, number)
        assert truth["status"] == "resolved"
        assert truth["classification"] == "truePositive"
        assert truth["determination"] == "multiStagedAttack"
        comments = [c["comment"] for c in truth["comments"]]
        assert "[Dana Reyes <dana@partner.example> via Partner Portal] Contained; closing." in (
            comments
        )
        # The page shows Graph's answer and the analyst as the comment's author.
        facts = page.locator("#incident-facts").inner_text()
        assert "True positive" in facts and "Multi-staged attack" in facts
        assert "Resolved" in page.locator(".detail-badges").inner_text()
        assert "Dana Reyes <dana@partner.example> via Partner Portal" in (
            page.locator("#incident-comments").inner_text()
        )
    finally:
        context.close()


def test_an_analyst_resolves_an_incident_from_the_queue_with_a_classification(
    chromium: Any, graph_portal: tuple[PortalProcess, str]
) -> None:
    portal, tenant_id = graph_portal
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        sign_in(page, portal.url, ANALYST, ANALYST_PASSWORD)

        page.goto(f"{portal.url}/incidents/?status=Active")
        row = page.locator("#incident-table tbody tr[data-incident-id]").first
        number = row.locator(".sub").first.inner_text().split("·")[0].strip().lstrip("#")
        row.locator("td.pick input[type=checkbox]").check()
        page.select_option("#bulk_status", "Resolved")
        page.select_option("#bulk_classification", "FalsePositive")
        page.click("#bulk-apply")
        page.wait_for_selector("text=1 of 1")

        truth = _graph_incident(portal.sandbox, tenant_id, number)
        assert (truth["status"], truth["classification"]) == ("resolved", "falsePositive")
    finally:
        context.close()


def test_an_analyst_hunts_across_their_customers_and_exports_the_rows(
    chromium: Any, graph_portal: tuple[PortalProcess, str]
) -> None:
    """Hunting runs on the same portal: the query goes through Graph's runHuntingQuery
    to the analyst's customer, its rows stream onto the page with a customer column,
    the CSV holds them, and the query can be saved."""
    portal, _ = graph_portal
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        sign_in(page, portal.url, ANALYST, ANALYST_PASSWORD)

        page.goto(f"{portal.url}/hunting/")
        page.fill("#id_query", "AlertInfo | project AlertId, Title, Severity | take 5")
        page.select_option("#id_timespan", "P30D")
        page.click("#hunt-run")
        page.wait_for_selector("#hunt-progress[data-complete=true]", timeout=90_000)
        assert "1 of 1 customers answered" in page.locator("#hunt-progress").inner_text()
        headers = page.locator("#hunt-results thead th").all_inner_texts()
        assert headers == ["Customer", "AlertId", "Title", "Severity"]
        rows = page.locator("#hunt-results tbody tr[data-customer]")
        assert 1 <= rows.count() <= 5
        assert rows.first.get_attribute("data-customer") == "Northwind Traders"

        with page.expect_download() as download:
            page.click("#hunt-export")
        lines = Path(download.value.path()).read_text().splitlines()
        assert lines[0] == "Customer,AlertId,Title,Severity"
        assert len(lines) - 1 == rows.count()

        page.fill("#id_name", "Recent alerts")
        page.click("#save-query button[type=submit]")
        page.wait_for_selector("#saved-queries >> text=Recent alerts")
    finally:
        context.close()
