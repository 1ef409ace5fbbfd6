"""The Content-Security-Policy in Chromium: the portal's pages, Django's admin and the
customer page's confirmation all work under it, and the browser hook sees violations."""

from __future__ import annotations

from typing import Any

import pytest

from partner_portal.core.access import Role
from tests.browser.conftest import Console
from tests.fixtures import browser as browser_fixtures

pytestmark = pytest.mark.browser

STRICT = "default-src 'self'; script-src 'self'; style-src 'self'"


def test_the_hook_reports_an_inline_script_and_style_the_policy_blocks(chromium: Any) -> None:
    context = chromium.new_context()
    page = context.new_page()
    page.route(
        "http://policy.test/",
        lambda route: route.fulfill(
            status=200,
            headers={"Content-Type": "text/html", "Content-Security-Policy": STRICT},
            body="<p style='color:red'>x</p><script>document.title='ran'</script>",
        ),
    )
    try:
        page.goto("http://policy.test/")
        assert page.title() != "ran"
        page.wait_for_function("true")
        seen = list(browser_fixtures.CSP_VIOLATIONS)
    finally:
        context.close()
        browser_fixtures.CSP_VIOLATIONS.clear()  # seen on purpose
    assert any("script-src" in v for v in seen), seen
    assert any("style-src" in v for v in seen), seen


def test_django_admin_pages_work_under_the_policy(page: Any, console: Console) -> None:
    page.goto(f"{console.url}/admin/")
    assert "Site administration" in page.inner_text("#content")
    page.goto(f"{console.url}/admin/auth/user/")
    page.wait_for_selector("#result_list")
    page.locator("#result_list tbody th a").first.click()
    page.wait_for_selector("#user_form")
    # The group picker is drawn by the admin's scripts (SelectFilter2).
    page.wait_for_selector("#id_groups_filter", state="attached")
    page.goto(f"{console.url}/admin/auth/group/add/")
    page.wait_for_selector("#id_permissions_filter", state="attached")


def test_offboarding_asks_first_and_cancelling_sends_nothing(page: Any, console: Console) -> None:
    pk, _ = console.customers["Fabrikam Health"]
    page.goto(f"{console.url}/customers/{pk}/")
    asked: list[str] = []

    def dismiss(dialog: Any) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    page.click("button.danger:has-text('Offboard')")
    page.wait_for_function("true")
    assert asked == ["Stop collecting for Fabrikam Health?"]
    assert page.url == f"{console.url}/customers/{pk}/"
    assert "Offboarded" not in page.inner_text("main")


def test_an_admin_adds_a_person_and_deactivates_them_after_confirming(
    page: Any, console: Console
) -> None:
    page.goto(f"{console.url}/people/")
    page.click("#add-person")
    page.fill("#id_username", "fox")
    page.fill("#id_first_name", "Fox")
    page.fill("#id_email", "fox@partner.example")
    page.check(f"input[name=roles][value='{Role.ANALYST.value}']")
    page.click("#save-person")
    link = page.input_value("#set-password-link")
    assert "/accounts/set-password/" in link
    page.click("#to-person")
    page.wait_for_selector("#person-history")
    assert "added fox (Fox) with roles Analysts" in page.inner_text("#person-history")
    answers = iter([False, True])  # cancel once, then agree
    page.on("dialog", lambda d: d.accept() if next(answers) else d.dismiss())
    page.click("#deactivate")
    assert page.inner_text("#person-status") == "active"
    page.click("#deactivate")
    page.wait_for_selector("#reactivate")
    assert "deactivated" in page.inner_text("#person-status")
    assert "deactivated fox" in page.inner_text("#person-history")


def test_a_person_turns_on_two_step_sign_in_and_is_asked_for_the_code(
    page: Any, console: Console, console_browser: Any
) -> None:
    from base64 import b32decode

    from django_otp.oath import totp

    password = "a long and unusual passphrase 41"
    page.goto(f"{console.url}/people/new/")
    page.fill("#id_username", "otp-user")
    page.check(f"input[name=roles][value='{Role.ANALYST.value}']")
    page.check("input[name=password_by][value=set]")
    page.fill("#id_password1", password)
    page.fill("#id_password2", password)
    page.click("#save-person")
    page.wait_for_selector("#person-history")

    person = console_browser.new_context()  # watched for policy violations too
    try:
        tab = person.new_page()
        tab.set_default_timeout(20_000)

        def sign_in() -> None:
            tab.goto(f"{console.url}/accounts/login/")
            tab.fill("#id_username", "otp-user")
            tab.fill("#id_password", password)
            tab.click("button[type=submit]")

        sign_in()
        tab.wait_for_selector("text=Sign out")
        tab.click("text=Two-step sign-in")
        secret = tab.inner_text("#totp-secret").replace(" ", "")
        key = b32decode(secret + "=" * (-len(secret) % 8))
        assert tab.get_attribute("#totp-uri", "href").startswith("otpauth://totp/")
        tab.fill("#id_code", f"{totp(key):06d}")
        tab.click("#second-factor-on")
        tab.wait_for_selector("text=Two-step sign-in is on")
        tab.click("button:has-text('Sign out')")

        sign_in()
        tab.wait_for_selector("#second-factor-verify")
        tab.goto(f"{console.url}/alerts/")
        tab.wait_for_selector("#second-factor-verify")  # no page before the code
        tab.fill("#id_code", f"{totp(key, drift=1):06d}")
        tab.click("#verify-code")
        tab.wait_for_url(f"{console.url}/alerts/")
    finally:
        person.close()
