"""Drive the onboarding flow over HTTP, as staff and a customer's admin would in a browser.

Used by `manage.py seed_demo` and by the tests: it signs in to the portal, registers a
customer, follows the consent link to the sandbox, signs in there as the tenant's admin,
accepts, lands back on the portal's callback, and signs in once more when the portal asks
the same browser for proof of the tenant. Nothing is written to the database
directly; every step is a request to a page.
"""

from __future__ import annotations

import html
import re
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

CSRF_INPUT = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
CTX_INPUT = re.compile(r'name="ctx" value="([^"]+)"')
CONSENT_LINK = re.compile(r'id="consent-link" value="([^"]+)"')
CUSTOMER_PATH = re.compile(r"/customers/(\d+)/$")
STATUS = re.compile(r'data-status="([a-z_]+)"')


class DemoFlowError(RuntimeError):
    """A page did not answer as the flow expects; the message says which."""


@dataclass
class ConsentResult:
    status_code: int
    page: str
    callback_query: str


class PortalDriver:
    def __init__(self, portal_url: str, *, timeout: float = 30) -> None:
        self.portal_url = portal_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.session.trust_env = False

    # --- portal pages ----------------------------------------------------------------------
    def _csrf(self, path: str) -> str:
        response = self.session.get(self.portal_url + path, timeout=self.timeout)
        match = CSRF_INPUT.search(response.text)
        if response.status_code != 200 or not match:
            raise DemoFlowError(f"{path} answered {response.status_code} without a form")
        return match.group(1)

    def _post(
        self, path: str, data: dict[str, Any], *, form_path: str | None = None
    ) -> requests.Response:
        token = self._csrf(form_path or path)
        return self.session.post(
            self.portal_url + path,
            data={**data, "csrfmiddlewaretoken": token},
            headers={"Referer": self.portal_url + (form_path or path)},
            timeout=self.timeout,
        )

    def sign_in(self, username: str, password: str) -> None:
        response = self._post("/accounts/login/", {"username": username, "password": password})
        if "Sign out" not in response.text:
            raise DemoFlowError(f"signing in as {username} failed")

    def register(self, name: str, **fields: Any) -> tuple[int, str]:
        """Register a customer; return its ID and consent link."""
        data = {
            "display_name": name,
            "cloud": "commercial",
            "collect_alerts": "on",
            "collect_incidents": "on",
            "sync_interval_seconds": "60",
            "flow": "v2",
            **fields,
        }
        response = self._post("/customers/new/", data)
        path = urlsplit(response.url).path
        match = CUSTOMER_PATH.search(path)
        link = CONSENT_LINK.search(response.text)
        if not match or not link:
            raise DemoFlowError(f"registering {name} did not lead to its page ({path})")
        return int(match.group(1)), html.unescape(link.group(1))

    def customer_status(self, customer_id: int) -> str:
        response = self.session.get(
            f"{self.portal_url}/customers/{customer_id}/", timeout=self.timeout
        )
        match = STATUS.search(response.text)
        if not match:
            raise DemoFlowError(f"customer {customer_id}'s page shows no status")
        return match.group(1)

    def wait_for_status(
        self, customer_id: int, wanted: tuple[str, ...] = ("active",), timeout: float = 60
    ) -> str:
        deadline = time.monotonic() + timeout
        status = ""
        while time.monotonic() < deadline:
            status = self.customer_status(customer_id)
            if status in wanted:
                return status
            time.sleep(0.5)
        raise DemoFlowError(f"customer {customer_id} stayed {status!r}, not {wanted}")

    # --- the customer's admin ----------------------------------------------------------------
    def consent(
        self,
        link: str,
        *,
        admin_user: str,
        ca_file: str,
        accept: bool = True,
        sign_in_user: str | None = None,
    ) -> ConsentResult:
        """Open the landing page, go to Microsoft (the sandbox), sign in, decide, come back,
        and sign in once more when the portal asks for proof (as ``sign_in_user``, by
        default the admin who consented)."""
        admin = requests.Session()
        admin.trust_env = False
        landing_path = urlsplit(link).path
        page = admin.get(self.portal_url + landing_path, timeout=self.timeout)
        match = CSRF_INPUT.search(page.text)
        if page.status_code != 200 or not match:
            raise DemoFlowError(f"the landing page answered {page.status_code}")
        start = admin.post(
            self.portal_url + landing_path + "start/",
            data={"csrfmiddlewaretoken": match.group(1)},
            headers={"Referer": self.portal_url + landing_path},
            allow_redirects=False,
            timeout=self.timeout,
        )
        microsoft_url = start.headers.get("Location", "")
        # Microsoft's host, or the sandbox's pages (plain HTTP on loopback): not the portal.
        target = urlsplit(microsoft_url)
        elsewhere = target.scheme in {"http", "https"} and (
            target[:2] != urlsplit(self.portal_url)[:2]
        )
        if start.status_code != 302 or not elsewhere:
            raise DemoFlowError(f"the consent button answered {start.status_code}")

        at_microsoft = requests.Session()
        at_microsoft.trust_env = False
        at_microsoft.verify = ca_file
        sign_in = at_microsoft.get(microsoft_url, timeout=self.timeout)
        ctx = CTX_INPUT.search(sign_in.text)
        if sign_in.status_code != 200 or not ctx:
            raise DemoFlowError(f"the sign-in page answered {sign_in.status_code}")
        login_url = urljoin(microsoft_url, "/common/login")
        consent_page = at_microsoft.post(
            login_url, data={"ctx": html.unescape(ctx.group(1)), "login": admin_user},
            timeout=self.timeout,
        )  # fmt: skip
        ctx = CTX_INPUT.search(consent_page.text)
        if consent_page.status_code != 200 or not ctx:
            raise DemoFlowError(f"signing in as {admin_user} at the sandbox failed")
        decision = at_microsoft.post(
            urljoin(microsoft_url, "/common/consent"),
            data={"ctx": html.unescape(ctx.group(1)), "decision": "accept" if accept else "cancel"},
            allow_redirects=False,
            timeout=self.timeout,
        )
        back = decision.headers.get("Location", "")
        if decision.status_code != 302 or "/consent/callback/" not in back:
            raise DemoFlowError(f"the sandbox did not redirect back ({decision.status_code})")
        landed, query = self._back_at_portal(admin, back)
        if landed.status_code == 302 and "/oauth2/v2.0/authorize" in landed.headers.get(
            "Location", ""
        ):
            # After a v2 consent the portal asks the same browser to sign in (its proof).
            back = self._sign_in(
                at_microsoft, landed.headers["Location"], sign_in_user or admin_user
            )
            landed, _ = self._back_at_portal(admin, back)
        return ConsentResult(landed.status_code, landed.text, query)

    def _back_at_portal(
        self, browser: requests.Session, location: str
    ) -> tuple[requests.Response, str]:
        # The redirect names the portal's public address; follow it on this portal.
        parts = urlsplit(location)
        landed = browser.get(
            f"{self.portal_url}{parts.path}?{parts.query}",
            allow_redirects=False,
            timeout=self.timeout,
        )
        return landed, parts.query

    def _sign_in(self, at_microsoft: requests.Session, sign_in_url: str, user: str) -> str:
        """Sign in at the sandbox's authorize page as ``user``; return where it sends back."""
        page = at_microsoft.get(sign_in_url, timeout=self.timeout)
        ctx = CTX_INPUT.search(page.text)
        if page.status_code != 200 or not ctx:
            raise DemoFlowError(f"the sign-in page answered {page.status_code}")
        answer = at_microsoft.post(
            urljoin(sign_in_url, "/common/login"),
            data={"ctx": html.unescape(ctx.group(1)), "login": user},
            allow_redirects=False,
            timeout=self.timeout,
        )
        back = answer.headers.get("Location", "")
        if answer.status_code != 302 or "/consent/callback/" not in back:
            raise DemoFlowError(f"signing in as {user} did not lead back ({answer.status_code})")
        return back
