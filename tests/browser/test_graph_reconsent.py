"""A customer on the legacy Defender APIs moves to Microsoft Graph, in Chromium, against
the running portal (real worker and beat) and the sandbox.

Staff see the customer marked "legacy API", create its re-consent link and copy it; the
customer's admin opens it, grants the Graph permissions at the sandbox's consent page,
and signs in once more. Nothing else is done: verification finds the Graph roles and the
sync switches by itself. Every alert the customer had is still there once, at the same
address (same row), with the comment an analyst wrote before the move.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from partner_portal.sandbox.testing import SandboxProcess
from tenants.demo import PortalDriver
from tests.fixtures.portal_process import PortalProcess, start_portal, stop_portal
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]

ALERTS = 24
NAME = "Adventure Works Cycles"
COMMENT = "Seen on the legacy API; the user's laptop was reimaged."
ENDPOINT = "microsoftDefenderForEndpoint"


def _export(driver: PortalDriver, customer_pk: int) -> list[dict[str, Any]]:
    response = driver.session.get(
        f"{driver.portal_url}/alerts/export.json",
        params={"customer": customer_pk, "status": "all"},
        timeout=30,
    )
    response.raise_for_status()
    rows: list[dict[str, Any]] = response.json()
    return rows


def _customer_page(driver: PortalDriver, customer_pk: int) -> str:
    """The customer's page as text, for a failure's message (its sync card, timeline)."""
    page = driver.session.get(f"{driver.portal_url}/customers/{customer_pk}/", timeout=30)
    return re.sub(r"<[^>]+>|\s+", " ", page.text)[-4000:]


@pytest.fixture(scope="module")
def legacy_customer(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[PortalProcess, SandboxProcess, PortalDriver, int, str]]:
    """A running portal with one customer that consented to the Defender APIs only,
    before the partner app asked for Graph, its alerts synced."""
    sandbox = SandboxProcess(
        tmp_path_factory.mktemp("reconsent-sandbox"),
        tenants=1, consented=0, alerts_per_tenant=ALERTS, arrival_rate=0, seed=37,
    )  # fmt: skip
    with sandbox:
        portal = start_portal(sandbox, tmp_path_factory.mktemp("reconsent-portal"))
        try:
            tenant = sandbox.tenants[0]
            scope = f"/_sandbox/tenants/{tenant['tenant_id']}/consent-scope"
            sandbox.control("PUT", scope, json={"scope": "defender"}).raise_for_status()
            driver = PortalDriver(portal.url)
            driver.sign_in(portal.admin_username, portal.admin_password)
            pk, link = driver.register(NAME, sync_interval_seconds="30")
            result = driver.consent(link, admin_user=tenant["admin_user"], ca_file=sandbox.ca_file)
            assert result.status_code == 200, result.page[-500:]
            # The partner app now asks for Graph too; the consent given stays as it was.
            sandbox.control("PUT", scope, json={"scope": "both"}).raise_for_status()
            driver.wait_for_status(pk, timeout=60)
            wait_until(
                lambda: len(_export(driver, pk)) == ALERTS, timeout=90, every=1,
                message=lambda: f"{len(_export(driver, pk))} of {ALERTS} alerts synced",
            )  # fmt: skip
            yield portal, sandbox, driver, pk, tenant["admin_user"]
        finally:
            stop_portal(portal)


def _sign_in(page: Any, portal: PortalProcess) -> None:
    page.goto(portal.url + "/accounts/login/")
    page.fill("#id_username", portal.admin_username)
    page.fill("#id_password", portal.admin_password)
    page.click("#sign-in")
    page.wait_for_url(portal.url + "/")


def _comment_on_an_alert(page: Any, portal: PortalProcess, alert_pk: int) -> None:
    page.goto(f"{portal.url}/alerts/{alert_pk}/")
    page.wait_for_selector("#writeback-form")
    page.get_by_label("Comment", exact=True).fill(COMMENT)
    page.get_by_label("Comment", exact=True).press("Tab")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=Saved in Defender.")
    assert COMMENT in page.inner_text("#alert-comments")


def _copy_reconsent_link(page: Any, portal: PortalProcess, customer_pk: int) -> str:
    page.goto(f"{portal.url}/customers/{customer_pk}/")
    assert "Legacy API, stops 1 February 2027" in page.inner_text("#legacy-api")
    page.get_by_role("button", name="Create re-consent link").click()
    page.wait_for_selector("#consent-link")
    page.wait_for_load_state("load")  # the copy button's script is deferred
    link = page.input_value("#consent-link")
    page.click("[data-copy-target=consent-link]")
    wait_until(
        lambda: page.evaluate("navigator.clipboard.readText()") == link,
        timeout=30, every=0.1, message=lambda: "the link never reached the clipboard",
    )  # fmt: skip
    return str(page.evaluate("navigator.clipboard.readText()"))


def _grant_as_admin(browser: Any, link: str, admin_user: str, artifacts_dir: Path) -> None:
    """The customer's admin, in a browser of their own: landing page, the sandbox's sign-in
    and consent pages, and the sign-in that proves the tenant."""
    context = browser.new_context()  # an ordinary browser: the pages are plain HTTP
    page = context.new_page()
    page.goto(link)
    assert "SecurityAlert.ReadWrite.All" in page.inner_text("#consent-permissions")
    assert f"{NAME}' whole organisation" in page.inner_text("main")
    page.screenshot(path=str(artifacts_dir / "reconsent-landing.png"), full_page=True)
    page.click("#consent-button")
    page.wait_for_selector("#username")
    page.fill("#username", admin_user)
    page.click("#signin")
    page.wait_for_selector("#consent-form")
    asked = page.inner_text("#permissions")
    assert "SecurityAlert.ReadWrite.All" in asked and "SecurityIncident.ReadWrite.All" in asked
    page.click("#accept")
    page.wait_for_selector("#username")  # the portal asks the same browser to sign in
    page.fill("#username", admin_user)
    page.click("#signin")
    page.wait_for_url("**/consent/callback/**")
    assert "access approved" in page.inner_text("main")
    context.close()


def test_a_legacy_customer_reconsents_and_moves_to_graph_keeping_its_alerts_and_comments(
    chromium: Any, legacy_customer: Any, artifacts_dir: Path
) -> None:
    portal, sandbox, driver, customer_pk, admin_user = legacy_customer
    before = {row["alert_id"] for row in _export(driver, customer_pk)}
    assert len(before) == ALERTS
    staff_context = chromium.new_context(permissions=["clipboard-read", "clipboard-write"])
    staff = staff_context.new_page()
    staff.set_default_timeout(20_000)
    _sign_in(staff, portal)

    # An analyst's comment on one of its alerts, before the move.
    staff.goto(f"{portal.url}/customers/")
    assert "legacy API, stops 1 Feb 2027" in staff.inner_text(f"tr:has-text('{NAME}')")
    banner = staff.inner_text("#graph-migration-banner")
    assert banner.startswith("1 customer must re-consent for Microsoft Graph"), banner
    staff.goto(f"{portal.url}/alerts/?customer={customer_pk}")
    staff.wait_for_selector("#alert-table tbody tr[data-alert-id]")
    href = staff.locator("#alert-table tbody tr[data-alert-id] a.alert-link").first.get_attribute(
        "href"
    )
    alert_pk = int(str(href).rstrip("/").rsplit("/", 1)[-1])
    _comment_on_an_alert(staff, portal, alert_pk)

    link = _copy_reconsent_link(staff, portal, customer_pk)
    _grant_as_admin(chromium, link, admin_user, artifacts_dir)

    # Verification finds the Graph roles: the mark goes, by itself.
    def on_graph() -> bool:
        staff.goto(f"{portal.url}/customers/{customer_pk}/")
        roles = staff.inner_text("#granted-roles")
        return "SecurityAlert.ReadWrite.All" in roles and staff.locator("#legacy-api").count() == 0

    wait_until(on_graph, timeout=60, every=1, message=lambda: staff.inner_text("main")[:2000])
    assert "moved to Microsoft Graph" in staff.inner_text("main")  # its timeline
    staff.screenshot(path=str(artifacts_dir / "reconsent-on-graph.png"), full_page=True)

    # The Graph sync has rewritten its rows: every alert it had is still there, once;
    # the other Defender products' alerts, which only Graph serves, are added.
    graph = sandbox.control(
        "GET", f"/_sandbox/tenants/{sandbox.tenants[0]['tenant_id']}/graph/ground-truth"
    )
    graph.raise_for_status()
    truth = graph.json()["alerts"]
    endpoint = {a["id"] for a in truth if a["serviceSource"] == ENDPOINT}
    assert endpoint == before
    expected = {a["id"] for a in truth}

    def synced_from_graph() -> bool:
        ids = [row["alert_id"] for row in _export(driver, customer_pk)]
        return len(ids) == len(set(ids)) and set(ids) == expected

    wait_until(
        synced_from_graph, timeout=90, every=1,
        message=lambda: f"{len(_export(driver, customer_pk))} rows, {len(expected)} expected; "
        + _customer_page(driver, customer_pk),
    )  # fmt: skip
    after = [row["alert_id"] for row in _export(driver, customer_pk)]
    assert len([i for i in after if i in before]) == ALERTS, "its alert count is unchanged"
    assert len(after) == len(set(after)), "nothing doubled"

    # The same row, at the same address, still carries the comment written before.
    staff.goto(f"{portal.url}/alerts/{alert_pk}/")
    assert COMMENT in staff.inner_text("#alert-comments")
    staff.goto(f"{portal.url}/customers/")
    assert "legacy API" not in staff.inner_text(f"tr:has-text('{NAME}')")
    assert staff.locator("#graph-migration-banner").count() == 0
    staff_context.close()
