"""The tenant-squatting chain, replayed over HTTP against a running portal (gunicorn, a
real Celery worker and beat) and the sandbox.

Someone holding customer X's consent link claims another organisation's tenant in a
forged v2 answer. Before, the portal bound the claimed tenant to X; once that
organisation consented for real (as customer Y), X turned active with its alerts. Now
the tenant is learned only from the admin's own signed sign-in: nothing is bound to X,
the organisation onboards through its own link, and X never sees an alert of it.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import pytest
import requests

from tenants.demo import CSRF_INPUT, CTX_INPUT, PortalDriver
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox]

TOTAL = re.compile(r'id="severity-counts" class="count-group" data-total="(\d+)"')


def _staff(portal: Any) -> PortalDriver:
    driver = PortalDriver(portal.url)
    driver.sign_in(portal.admin_username, portal.admin_password)
    return driver


def _browser() -> requests.Session:
    session = requests.Session()
    session.trust_env = False
    return session


def _state_from_link(portal: Any, browser: requests.Session, link: str) -> str:
    """Press the landing page's button and read the state off the redirect to Microsoft."""
    landing = urlsplit(link).path
    page = browser.get(portal.url + landing, timeout=30)
    token = CSRF_INPUT.search(page.text)
    assert token, page.text[-300:]
    start = browser.post(
        portal.url + landing + "start/",
        data={"csrfmiddlewaretoken": token.group(1)},
        headers={"Referer": portal.url + landing},
        allow_redirects=False,
        timeout=30,
    )
    assert start.status_code == 302
    return parse_qs(urlsplit(start.headers["Location"]).query)["state"][0]


def _alert_total(staff: PortalDriver, customer_id: int) -> int:
    page = staff.session.get(
        f"{staff.portal_url}/alerts/counts/?customer={customer_id}&status=all", timeout=30
    )
    match = TOTAL.search(page.text)
    assert page.status_code == 200 and match, page.text[-300:]
    return int(match.group(1))


def _events(staff: PortalDriver, customer_id: int) -> str:
    return staff.session.get(f"{staff.portal_url}/customers/{customer_id}/", timeout=30).text


def test_a_forged_tenant_in_a_consent_answer_is_never_bound(portal_with_sandbox: Any) -> None:
    portal = portal_with_sandbox
    victim, attacker_home = portal.sandbox.tenants[4], portal.sandbox.tenants[5]
    staff = _staff(portal)
    x_id, x_link = staff.register("Squatter X")

    # 1. The attacker answers in Microsoft's place, naming the victim organisation.
    attacker = _browser()
    state = _state_from_link(portal, attacker, x_link)
    forged = attacker.get(
        f"{portal.url}/consent/callback/",
        params={"admin_consent": "True", "tenant": victim["tenant_id"], "state": state},
        allow_redirects=False,
        timeout=30,
    )
    # The portal wants proof: a sign-in at the victim's own tenant.
    assert forged.status_code == 302
    sign_in_url = forged.headers["Location"]
    assert f"/{victim['tenant_id']}/oauth2/v2.0/authorize" in sign_in_url
    assert staff.customer_status(x_id) == "pending_consent"

    # 2. The attacker's own admin account is not the victim's: Microsoft stops there.
    at_microsoft = _browser()
    at_microsoft.verify = portal.sandbox.ca_file
    page = at_microsoft.get(sign_in_url, timeout=30)
    ctx = html.unescape(CTX_INPUT.search(page.text).group(1))  # type: ignore[union-attr]
    refused = at_microsoft.post(
        urljoin(sign_in_url, "/common/login"),
        data={"ctx": ctx, "login": attacker_home["admin_user"]},
        allow_redirects=False,
        timeout=30,
    )
    assert "AADSTS50020" in refused.text and "Location" not in refused.headers

    # 3. An ordinary user of the victim (an insider, say) signs in: not an administrator.
    member = portal.sandbox.control("GET", f"/_sandbox/tenants/{victim['tenant_id']}").json()
    member = member["plain_user"]
    answer = at_microsoft.post(
        urljoin(sign_in_url, "/common/login"),
        data={"ctx": ctx, "login": member},
        allow_redirects=False,
        timeout=30,
    )
    back = urlsplit(answer.headers["Location"])
    landed = attacker.get(f"{portal.url}{back.path}?{back.query}", timeout=30)
    assert landed.status_code == 403 and "An administrator must sign in" in landed.text

    # 4. A made-up code and a replay of the forged answer: refused, in words.
    sign_in_state = parse_qs(urlsplit(sign_in_url).query)["state"][0]
    bogus = attacker.get(
        f"{portal.url}/consent/callback/",
        params={"code": "0.AforgedCode", "state": sign_in_state},
        timeout=30,
    )
    assert 400 <= bogus.status_code < 500
    assert staff.customer_status(x_id) == "pending_consent"
    timeline = _events(staff, x_id)
    assert f"Consent answer refused for tenant {victim['tenant_id']}" in timeline

    # 5. The victim organisation onboards through its own link and reaches active.
    y_id, y_link = staff.register("Real Organisation Y")
    result = staff.consent(y_link, admin_user=victim["admin_user"], ca_file=portal.sandbox.ca_file)
    assert result.status_code == 200, result.page[-500:]
    assert staff.wait_for_status(y_id, timeout=90) == "active"
    assert victim["tenant_id"] in _events(staff, y_id)

    # 6. Y's alerts arrive; X holds no tenant and sees none of them.
    wait_until(
        lambda: _alert_total(staff, y_id) > 0, timeout=120, every=1,
        message=lambda: "Y's alerts never arrived",
    )  # fmt: skip
    assert _alert_total(staff, x_id) == 0
    assert staff.customer_status(x_id) == "pending_consent"
