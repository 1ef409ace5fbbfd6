"""An expected domain end to end against the sandbox process: looked up when staff
register the customer, then enforced when admins of two different tenants consent.

The portal runs in this process (test client, test database); Microsoft is the sandbox,
reached over HTTPS through the portal's one door, as in `make run`.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import pytest
import requests
from django.test import Client

from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft
from tenants.demo import CTX_INPUT
from tenants.models import ConsentOutcome, Customer, CustomerStatus
from tests.tenants.conftest import snapshot

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]


@pytest.fixture
def portal_on_sandbox(
    sandbox_factory: Callable[..., SandboxProcess], settings: Any
) -> Iterator[SandboxProcess]:
    """A fresh sandbox (consent in it is changed here) as the portal's Microsoft."""
    sandbox = sandbox_factory(tenants=2, consented=0, alerts_per_tenant=0, seed=23)
    settings.PARTNER_APP_CLIENT_ID = ""
    settings.SANDBOX_CONFIG_FILE = str(Path(sandbox.state_dir) / "sandbox.json")
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"  # registered at the sandbox
    microsoft.reset_for_tests()
    yield sandbox
    microsoft.reset_for_tests()


def _submit(
    browser: requests.Session, page: requests.Response, path: str, **fields: str
) -> requests.Response:
    """Post the sandbox's form on ``page`` to ``path``: its signed state and ``fields``."""
    ctx = CTX_INPUT.search(page.text)
    assert page.status_code == 200 and ctx, page.text[-300:]
    return browser.post(
        urljoin(page.url, path),
        data={"ctx": html.unescape(ctx.group(1)), **fields},
        allow_redirects=False,
        timeout=30,
    )


def consent_at_sandbox(sandbox: SandboxProcess, microsoft_url: str, admin_user: str) -> str:
    """Sign in at the sandbox as `admin_user`, accept, and return the callback's query."""
    with sandbox.session() as browser:
        sign_in = browser.get(microsoft_url, timeout=30)
        permissions = _submit(browser, sign_in, "/common/login", login=admin_user)
        decision = _submit(browser, permissions, "/common/consent", decision="accept")
    back = urlsplit(decision.headers.get("Location", ""))
    assert decision.status_code == 302 and back.path == "/consent/callback/"
    return back.query


def sign_in_at_sandbox(sandbox: SandboxProcess, sign_in_url: str, user: str) -> str:
    """The portal's proof step: sign in at the sandbox as `user`; the callback's query."""
    with sandbox.session() as browser:
        page = browser.get(sign_in_url, timeout=30)
        answer = _submit(browser, page, "/common/login", login=user)
    back = urlsplit(answer.headers.get("Location", ""))
    assert answer.status_code == 302 and back.path == "/consent/callback/"
    return back.query


def press_consent_button(admin: Client, customer: Customer) -> str:
    consent = customer.consents.get(outcome=ConsentOutcome.PENDING)
    response = admin.post(f"/consent/{consent.public_id}/start/")
    assert response.status_code == 302
    return str(response["Location"])


def test_a_domain_binds_only_its_own_tenant(
    portal_on_sandbox: SandboxProcess, staff_user: Any
) -> None:
    sandbox = portal_on_sandbox
    ours, theirs = sandbox.tenants
    staff = Client()
    staff.force_login(staff_user)
    form = {
        "display_name": "Contoso",
        "expected_tenant": ours["domain"].upper(),
        "cloud": "commercial",
        "collect_alerts": "on",
        "collect_incidents": "on",
        "sync_interval_seconds": "60",
        "flow": "v2",
    }

    # A domain no tenant uses: said in words, nothing registered.
    refused = staff.post("/customers/new/", {**form, "expected_tenant": "nobody-here.com"})
    assert "No Microsoft Entra tenant uses this domain" in refused.content.decode()
    assert not Customer.objects.exists()

    # The sandbox names the domain's tenant; that ID is what consent must come from.
    assert staff.post("/customers/new/", form).status_code == 302
    customer = Customer.objects.get()
    assert customer.expected_tenant == ours["domain"].lower()
    assert customer.expected_tenant_id == ours["tenant_id"]

    # The other tenant's admin takes the link, swaps the tenant in Microsoft's URL for
    # "organizations" and consents: the callback refuses it and writes nothing.
    admin = Client()
    at_microsoft = urlsplit(press_consent_button(admin, customer))
    # The link names the looked-up tenant, the one the callback will insist on.
    assert at_microsoft.path == f"/{ours['tenant_id']}/v2.0/adminconsent"
    swapped = urlunsplit(at_microsoft._replace(path="/organizations/v2.0/adminconsent"))
    query = consent_at_sandbox(sandbox, swapped, theirs["admin_user"])
    assert f"tenant={theirs['tenant_id']}" in query
    before = snapshot()
    response = admin.get(f"/consent/callback/?{query}")
    assert response.status_code == 409
    assert theirs["tenant_id"] in response.content.decode()
    assert snapshot() == before

    # The customer's own admin, on the link as sent: bound, on to verification.
    microsoft_url = press_consent_button(admin, customer)
    query = consent_at_sandbox(sandbox, microsoft_url, ours["admin_user"])
    asked = admin.get(f"/consent/callback/?{query}")
    assert asked.status_code == 302  # on to the admin's sign-in, the proof of the tenant
    assert f"/{ours['tenant_id']}/oauth2/v2.0/authorize" in asked["Location"]
    query = sign_in_at_sandbox(sandbox, asked["Location"], ours["admin_user"])
    response = admin.get(f"/consent/callback/?{query}")
    assert response.status_code == 200, response.content.decode()[-500:]
    customer.refresh_from_db()
    assert (customer.tenant_id, customer.status) == (ours["tenant_id"], CustomerStatus.VERIFYING)
