"""Staff sign in with Microsoft in Chromium: the portal (live server) and the sandbox's
partner tenant. A member of the SOC group lands as an analyst who sees the SOC team's
customer only; someone in no mapped group is refused in words; taking the analyst out
of the group in the sandbox sends their open alert list to the sign-in form, which says
why; with an authentication context, the sandbox's second factor comes first."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from partner_portal.alerts.views import alert_list as list_views
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft
from tenants.models import AnalystScope
from tests.alerts.factories import AlertFactory
from tests.factories import GroupFactory
from tests.fixtures.sandbox import sandbox_fixture
from tests.tenants.factories import CustomerFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

staff_browser_sandbox = sandbox_fixture("staff-browser", tenants=1, alerts_per_tenant=1)


def _partner(sb: SandboxProcess) -> dict[str, Any]:
    answer: dict[str, Any] = sb.control("GET", "/_sandbox/partner").json()
    return answer


def _upn(partner: dict[str, Any], first: str) -> str:
    return str(next(u["upn"] for u in partner["users"] if u["upn"].startswith(first + ".")))


@pytest.fixture
def portal(
    staff_browser_sandbox: SandboxProcess, live_server: Any, settings: Any
) -> Iterator[tuple[str, SandboxProcess]]:
    """The live portal with staff sign-in at the sandbox's partner tenant, as the demo
    configures it (no STAFF_SIGNIN_* settings: the sandbox's groups), and two customers,
    one granted to the SOC analysts' team."""
    sb = staff_browser_sandbox
    settings.PARTNER_APP_CLIENT_ID = ""
    settings.STAFF_SIGNIN_TENANT_ID = ""
    settings.SANDBOX_CONFIG_FILE = str(Path(sb.state_dir) / "sandbox.json")
    settings.PUBLIC_BASE_URL = live_server.url  # http://localhost:<port>, registered
    settings.STAFF_SIGNIN_RECHECK_SECONDS = 0
    microsoft.reset_for_tests()
    seen = CustomerFactory(display_name="Fabrikam Seen")
    hidden = CustomerFactory(display_name="Tailspin Hidden")
    AlertFactory(customer=seen, title="Alert of the SOC's customer")
    AlertFactory(customer=hidden, title="Alert of another customer")
    AnalystScope.objects.create(group=GroupFactory(name="SOC analysts"), customer=seen)
    yield live_server.url, sb
    microsoft.reset_for_tests()


@pytest.fixture
def page(module_browser: Any) -> Iterator[Any]:
    """A fresh browser (no session) of tests/fixtures/browser.py's module Chromium."""
    context = module_browser.new_context(ignore_https_errors=True)
    yield context.new_page()
    context.close()


def _sign_in_with_microsoft(page: Any, url: str, upn: str) -> None:
    page.goto(url + "/accounts/login/?next=/alerts/")
    page.click("#sign-in-microsoft")
    page.wait_for_selector("#accounts")  # the sandbox's sign-in page
    page.click(f'button[data-upn="{upn}"]')
    page.wait_for_url(lambda u: u.startswith(url), timeout=60_000)


def test_a_soc_member_lands_as_an_analyst_with_the_teams_customers(
    portal: tuple[str, SandboxProcess], page: Any
) -> None:
    url, sb = portal
    _sign_in_with_microsoft(page, url, _upn(_partner(sb), "dana"))
    page.wait_for_url(url + "/alerts/")
    body = page.inner_text("body")
    assert "Alert of the SOC's customer" in body
    assert "Alert of another customer" not in body
    page.goto(url + "/customers/")
    assert "You don't have access to this page" in page.inner_text("body")


def test_someone_in_no_mapped_group_is_refused_in_words(
    portal: tuple[str, SandboxProcess], page: Any
) -> None:
    url, sb = portal
    _sign_in_with_microsoft(page, url, _upn(_partner(sb), "robin"))
    refusal = page.wait_for_selector("#staff-signin-refused")
    assert "none of the groups that give access to this portal" in refusal.inner_text()
    page.goto(url + "/alerts/")
    page.wait_for_url(lambda u: "/accounts/login/" in u)


def test_leaving_the_group_in_entra_sends_the_open_alerts_page_to_sign_in_saying_why(
    portal: tuple[str, SandboxProcess], page: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Lee leaves the group while the alert list is open: its own next request ends the
    session, the one after it is answered signed out, and the page opens the sign-in
    form by itself, which says why; no page of the portal opens for Lee after that."""
    monkeypatch.setattr(list_views, "POLL_SECONDS", 0.5)
    url, sb = portal
    partner = _partner(sb)
    lee = _upn(partner, "lee")
    members = f"/_sandbox/tenants/{partner['tenant_id']}/groups/SOC analysts/members/{lee}"
    _sign_in_with_microsoft(page, url, lee)
    page.wait_for_url(url + "/alerts/")
    assert "Alert of the SOC's customer" in page.inner_text("body")
    sb.control("DELETE", members).raise_for_status()
    try:
        page.wait_for_url(lambda u: "/accounts/login/" in u, timeout=60_000)
        assert "no longer in any Microsoft Entra group" in page.inner_text("body")
        page.goto(url + "/alerts/")
        page.wait_for_url(lambda u: "/accounts/login/" in u)
    finally:
        sb.control("PUT", members).raise_for_status()


def test_with_an_authentication_context_the_second_factor_comes_first(
    portal: tuple[str, SandboxProcess], page: Any, settings: Any
) -> None:
    """The portal asks for context c1: the sandbox asks Dana for her authenticator's code
    before anything goes back; typed, she lands as an analyst. Giving up instead is
    refused in words."""
    settings.STAFF_SIGNIN_AUTH_CONTEXT = "c1"
    url, sb = portal
    dana = _upn(_partner(sb), "dana")
    page.goto(url + "/accounts/login/?next=/alerts/")
    page.click("#sign-in-microsoft")
    page.wait_for_selector("#accounts")
    page.click(f'button[data-upn="{dana}"]')
    page.fill("#otc", page.inner_text("#mfa-code"))
    page.click("#verify")
    page.wait_for_url(url + "/alerts/")
    assert "Alert of the SOC's customer" in page.inner_text("body")

    # A browser of its own: the alerts page's live-update requests, each answered with the
    # session's cookie (rechecked on every request here), could put back a cleared one.
    other = page.context.browser.new_context(ignore_https_errors=True)
    try:
        again = other.new_page()
        again.goto(url + "/accounts/login/?next=/alerts/")
        again.click("#sign-in-microsoft")
        again.wait_for_selector("#accounts")
        again.click(f'button[data-upn="{dana}"]')
        again.click("#skip")
        refusal = again.wait_for_selector("#staff-signin-refused")
        assert "second factor your organisation asks for was not completed" in (
            refusal.inner_text()
        )
    finally:
        other.close()
