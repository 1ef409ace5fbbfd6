"""Onboarding end to end: the running portal (real worker), the sandbox, over HTTP.

Staff register a customer, the admin consents at the sandbox, the callback lands, and
the worker's verification makes the customer active with its roles.
"""

from __future__ import annotations

from typing import Any

import pytest

from tenants.demo import PortalDriver

pytestmark = [pytest.mark.sandbox]


def _staff(portal: Any) -> PortalDriver:
    driver = PortalDriver(portal.url)
    driver.sign_in(portal.admin_username, portal.admin_password)
    return driver


def test_v2_admin_consent_makes_the_customer_active(portal_with_sandbox: Any) -> None:
    portal = portal_with_sandbox
    tenant = portal.sandbox.tenants[0]
    staff = _staff(portal)
    customer_id, link = staff.register("Contoso", contact_email=tenant["admin_user"])
    assert staff.customer_status(customer_id) == "pending_consent"
    result = staff.consent(link, admin_user=tenant["admin_user"], ca_file=portal.sandbox.ca_file)
    assert result.status_code == 200, result.page[-500:]
    assert "access approved" in result.page
    assert staff.wait_for_status(customer_id, timeout=60) == "active"
    page = staff.session.get(f"{portal.url}/customers/{customer_id}/").text
    assert tenant["tenant_id"] in page
    for role in ("Alert.Read.All", "Incident.Read.All"):
        assert role in page


def test_v1_partner_link_makes_the_customer_active(portal_with_sandbox: Any) -> None:
    portal = portal_with_sandbox
    tenant = portal.sandbox.tenants[1]
    staff = _staff(portal)
    customer_id, link = staff.register("Fabrikam", flow="v1")
    result = staff.consent(link, admin_user=tenant["admin_user"], ca_file=portal.sandbox.ca_file)
    assert result.status_code == 200, result.page[-500:]
    assert "code=" in result.callback_query and "tenant=" not in result.callback_query
    assert staff.wait_for_status(customer_id, timeout=60) == "active"
    assert tenant["tenant_id"] in staff.session.get(f"{portal.url}/customers/{customer_id}/").text


def test_cancelled_consent_shows_the_decline_page_and_stays_pending(
    portal_with_sandbox: Any,
) -> None:
    portal = portal_with_sandbox
    tenant = portal.sandbox.tenants[2]
    staff = _staff(portal)
    customer_id, link = staff.register("Northwind")
    result = staff.consent(
        link, admin_user=tenant["admin_user"], ca_file=portal.sandbox.ca_file, accept=False
    )
    assert result.status_code == 200
    assert "not approved" in result.page
    assert "AADSTS65004" in result.page
    assert staff.customer_status(customer_id) == "pending_consent"
    timeline = staff.session.get(f"{portal.url}/customers/{customer_id}/").text
    assert "Consent not granted: access_denied (AADSTS65004)" in timeline


def test_seed_demo_onboards_through_the_same_flow(portal_with_sandbox: Any) -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    portal = portal_with_sandbox
    env = dict(os.environ)
    for name in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "SECRET_KEY", "DEBUG"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="partner_portal.settings",
        PORTAL_DATA_DIR=str(portal.data_dir),
        EMBEDDED="true",
        PUBLIC_BASE_URL=portal.url,
        SANDBOX_CONFIG_FILE=str(Path(portal.sandbox.state_dir) / "sandbox.json"),
    )
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo", "--customers", "2", "--pending", "1"],
        cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True,
        timeout=180,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count(": active") == 2
    assert "left pending consent" in result.stdout
    # One of them consented to the legacy Defender APIs only, to show the re-consent path.
    (legacy,) = [line for line in result.stdout.splitlines() if "legacy API" in line]
    staff = _staff(portal)
    customers = staff.session.get(f"{portal.url}/customers/").text
    assert customers.count("legacy-api") == 1 and legacy.split(":")[0] in customers
    # Staff sign in with Microsoft too: the sandbox's partner tenant, its SOC group giving
    # the analyst role and the team that seed_demo granted the demo customers.
    assert "Staff who sign in with Microsoft" in result.stdout
    listed = (Path(portal.data_dir) / "demo-microsoft-staff.txt").read_text()
    dana = next(line.split()[0] for line in listed.splitlines() if line.startswith("dana."))
    analyst = _microsoft_sign_in(portal, dana)
    assert analyst.get(f"{portal.url}/customers/", timeout=30).status_code == 403
    assert analyst.get(f"{portal.url}/alerts/", timeout=30).status_code == 200
    rows = analyst.get(f"{portal.url}/alerts/export.json", timeout=30).json()
    assert {row["customer"] for row in rows} <= {line.split(":")[0] for line in result.stdout
                                                  .splitlines() if ": active" in line}  # fmt: skip


def _microsoft_sign_in(portal: Any, upn: str) -> Any:
    """Sign in at the running portal with Microsoft (the sandbox) as ``upn``."""
    import html
    from urllib.parse import urljoin

    import requests

    from tenants.demo import CTX_INPUT

    browser = requests.Session()
    browser.trust_env = False
    assert 'id="sign-in-microsoft"' in browser.get(f"{portal.url}/accounts/login/").text
    start = browser.get(f"{portal.url}/accounts/microsoft/", allow_redirects=False, timeout=30)
    assert start.status_code == 302, start.text[-300:]
    page = browser.get(start.headers["Location"], verify=portal.sandbox.ca_file, timeout=30)
    ctx = CTX_INPUT.search(page.text)
    assert ctx, page.text[-300:]
    answer = browser.post(
        urljoin(page.url, "/common/login"),
        data={"ctx": html.unescape(ctx.group(1)), "login": upn},
        verify=portal.sandbox.ca_file, allow_redirects=False, timeout=30,
    )  # fmt: skip
    back = browser.get(answer.headers["Location"], allow_redirects=False, timeout=30)
    assert back.status_code == 302 and back.headers["Location"] == "/", back.text[-500:]
    return browser
