"""Onboarding in Chromium: staff register Contoso and copy the link; the customer's admin
consents at the sandbox; the portal's real worker verifies and the customer turns active.

The admin's browser is an ordinary one (no `ignore_https_errors`): the sandbox's consent
and sign-in pages are served on plain HTTP at loopback, which it trusts, while the
sandbox's HTTPS origin, signed by a CA the browser does not know, is refused.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tenants.demo import PortalDriver
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]


def _sign_in(page: Any, portal: Any) -> None:
    page.goto(portal.url + "/accounts/login/")
    page.fill("#id_username", portal.admin_username)
    page.fill("#id_password", portal.admin_password)
    page.click("#sign-in")
    page.wait_for_url(portal.url + "/")


def _register(page: Any, portal: Any, name: str, *, flow: str = "v2") -> str:
    """Register through the form, press Copy, return the copied consent link."""
    page.goto(portal.url + "/customers/new/")
    page.fill("#id_display_name", name)
    page.fill("#id_contact_name", "Dana Admin")
    page.fill("#id_contact_email", "dana@example.test")
    page.check(f"input[name=flow][value={flow}]")
    page.click("#save-customer")
    page.wait_for_selector("#consent-link")
    # The copy button works once its deferred script has run: the element alone can be
    # there before that, and a click then does nothing.
    page.wait_for_load_state("load")
    page.click("[data-copy-target=consent-link]")
    # Wait on the clipboard itself: the button says "Copied" for only 2.5 s, which a
    # busy machine can miss.
    link = page.input_value("#consent-link")
    wait_until(
        lambda: page.evaluate("navigator.clipboard.readText()") == link,
        timeout=30, every=0.1, message=lambda: "the link never reached the clipboard",
    )  # fmt: skip
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == link
    return str(copied)


def _consent_as_admin(
    browser: Any, link: str, admin_user: str, *, accept: bool, flow: str = "v2"
) -> Any:
    """A separate browser context: the customer's admin has no portal session. It trusts
    what an ordinary browser trusts: the sandbox's pages are plain HTTP on loopback."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(link)
    assert "What" in page.inner_text("main") and "will not be able to do" in page.inner_text("main")
    assert "Sign in once more" in page.inner_text("#consent-steps")
    page.click("#consent-button")
    page.wait_for_selector("#username")  # the sandbox's sign-in page
    assert page.url.startswith("http://127.0.0.1:")
    page.fill("#username", admin_user)
    page.click("#signin")
    page.wait_for_selector("#consent-form")
    assert "Alert.Read.All" in page.inner_text("#permissions")
    page.click("#accept" if accept else "#cancel")
    if accept and flow == "v2":
        # Back at the portal, which sends the same browser to sign in at the tenant that
        # Microsoft reported: the ID token of that sign-in is what binds the tenant.
        page.wait_for_selector("#username")
        assert "/oauth2/v2.0/authorize" in page.url and page.url.startswith("http://127.0.0.1:")
        page.fill("#username", admin_user)
        page.click("#signin")
    page.wait_for_url("**/consent/callback/**")
    return page


def _wait_for_status(page: Any, wanted: str, timeout: float = 60) -> None:
    def reached() -> bool:
        page.reload()
        return page.get_attribute("[data-status]", "data-status") == wanted

    wait_until(
        reached, timeout=timeout,
        message=lambda: f"status stayed {page.get_attribute('[data-status]', 'data-status')}",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("flow", "tenant_index", "name"), [("v2", 3, "Contoso"), ("v1", 4, "Tailspin")]
)
def test_staff_registers_admin_consents_and_customer_turns_active(
    chromium: Any, portal_with_sandbox: Any, artifacts_dir: Path, flow: str, tenant_index: int,
    name: str,
) -> None:  # fmt: skip
    portal = portal_with_sandbox
    tenant = portal.sandbox.tenants[tenant_index]
    staff_context = chromium.new_context(permissions=["clipboard-read", "clipboard-write"])
    staff = staff_context.new_page()
    _sign_in(staff, portal)
    link = _register(staff, portal, name, flow=flow)
    customer_url = staff.url

    admin = _consent_as_admin(chromium, link, tenant["admin_user"], accept=True, flow=flow)
    assert "access approved" in admin.inner_text("main")
    admin.screenshot(path=str(artifacts_dir / f"onboarding-{flow}-approved.png"))

    staff.goto(customer_url)
    started = time.monotonic()
    _wait_for_status(staff, "active")
    assert time.monotonic() - started < 30, "verification should take seconds"
    assert staff.inner_text("#tenant-id") == tenant["tenant_id"]
    roles = staff.inner_text("#granted-roles")
    assert "Alert.Read.All" in roles and "Incident.Read.All" in roles
    # The tenant came from the admin's signed token, and the timeline says whose.
    assert f"Admin consent proven for tenant {tenant['tenant_id']} by {tenant['admin_user']}" in (
        staff.inner_text("main")
    )
    staff.screenshot(path=str(artifacts_dir / f"onboarding-{flow}-customer.png"), full_page=True)
    staff_context.close()


def test_cancelled_consent_shows_the_decline_page_and_customer_stays_pending(
    chromium: Any, portal_with_sandbox: Any, artifacts_dir: Path
) -> None:
    portal = portal_with_sandbox
    tenant = portal.sandbox.tenants[5]
    staff_context = chromium.new_context(permissions=["clipboard-read", "clipboard-write"])
    staff = staff_context.new_page()
    _sign_in(staff, portal)
    link = _register(staff, portal, "Wingtip")
    customer_url = staff.url

    admin = _consent_as_admin(chromium, link, tenant["admin_user"], accept=False)
    text = admin.inner_text("main")
    assert "Access was not approved" in text and "open the link you were sent again" in text
    admin.screenshot(path=str(artifacts_dir / "onboarding-declined.png"))

    staff.goto(customer_url)
    assert staff.get_attribute("[data-status]", "data-status") == "pending_consent"
    assert "AADSTS65004" in staff.inner_text("main")
    staff_context.close()


def test_a_demo_consent_link_opens_in_an_ordinary_browser_without_a_certificate_warning(
    chromium: Any, portal_with_sandbox: Any, artifacts_dir: Path
) -> None:
    from playwright.sync_api import Error as BrowserError

    portal = portal_with_sandbox
    sandbox = portal.sandbox
    tenant = sandbox.tenants[2]
    # Registered as `make run`'s demo registers its customers, and the link it prints.
    driver = PortalDriver(portal.url)
    driver.sign_in(portal.admin_username, portal.admin_password)
    customer_id, link = driver.register(
        "Fabrikam", contact_name="Global administrator", contact_email=tenant["admin_user"],
        expected_tenant=tenant["tenant_id"],
    )  # fmt: skip

    # This browser does not know the sandbox's CA: its HTTPS origin is refused...
    context = chromium.new_context()
    refused = context.new_page()
    with pytest.raises(BrowserError, match="ERR_CERT_AUTHORITY_INVALID"):
        refused.goto(sandbox.url + "/common/v2.0/.well-known/openid-configuration")
    context.close()
    # ...and the whole consent, sign-in included, never goes there.
    admin = _consent_as_admin(chromium, link, tenant["admin_user"], accept=True)
    assert "access approved" in admin.inner_text("main")
    admin.screenshot(path=str(artifacts_dir / "onboarding-demo-link-plain-http.png"))
    assert driver.wait_for_status(customer_id, ("active",), timeout=60) == "active"
