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
