"""The customer admin's side: landing page, the hop to Microsoft, and the callback.

Every refused callback must leave the database exactly as it was.
"""

from __future__ import annotations

import dataclasses
import re
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from partner_portal.defender import CONSUMER_TENANT_ID, SignedInUser, TransientIdentityError
from tenants import consent_links, microsoft, registration
from tenants.models import AuditEvent, ConsentOutcome, ConsentRequest, CustomerStatus
from tests.tenants.conftest import FAKE_LOGIN, FakeSignIn, signed_in, snapshot
from tests.tenants.factories import CustomerFactory

pytestmark = pytest.mark.django_db

TENANT = "9f3e6c1a-52b7-4a8d-9c1e-0d2f4b6a8e10"
OTHER_TENANT = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        "tenants.tasks.verify_customer.apply_async",
        lambda args, countdown=0: calls.append(args),
    )
    return calls


def start(client: Client, consent: ConsentRequest) -> str:
    """Press the landing page's button; return the state Microsoft would carry back."""
    response = client.post(f"/consent/{consent.public_id}/start/")
    assert response.status_code == 302
    return parse_qs(urlsplit(response["Location"]).query)["state"][0]


def callback(client: Client, **params: str) -> Any:
    return client.get("/consent/callback/", params)


# --- landing -------------------------------------------------------------------------------
def test_landing_page_names_the_partner_and_what_is_read_and_not(
    customer_with_link: Any, settings: Any
) -> None:
    settings.PARTNER_NAME = "Northwind Security"
    CustomerFactory(display_name="Secret Other Customer")
    _, consent = customer_with_link
    page = Client().get(f"/consent/{consent.public_id}/").content.decode()
    assert "Northwind Security" in page
    assert "Contoso" in page
    assert "will not be able to" in page
    assert "Secret Other Customer" not in page
    assert "Sign out" not in page and "/customers/" not in page


def test_landing_page_explains_each_graph_permission_and_that_it_also_writes(
    customer_with_link: Any,
) -> None:
    customer, consent = customer_with_link
    customer.display_name = "Adventure Works Cycles"
    customer.save(update_fields=["display_name"])
    page = Client().get(f"/consent/{consent.public_id}/").content.decode()
    listed = page[page.index('id="consent-permissions"') : page.index("</dl>")]
    asked = re.findall(r"<dt><code>([^<]+)</code></dt>\s*<dd>([^<]+)</dd>", listed)
    assert [permission for permission, _ in asked] == [
        "SecurityAlert.ReadWrite.All",
        "SecurityIncident.ReadWrite.All",
        "ThreatHunting.Read.All",
    ]
    words = dict(asked)
    assert "every Microsoft Defender product" in words["SecurityAlert.ReadWrite.All"]
    assert "update" in words["SecurityAlert.ReadWrite.All"]
    assert "incidents" in words["SecurityIncident.ReadWrite.All"]
    assert "hunting queries" in words["ThreatHunting.Read.All"]
    title = page[page.index("<title>") : page.index("</title>")]
    assert "read and update" in title and "read access" not in page.lower()
    assert "Nothing else is asked" in page and "e-mail, files" in page
    assert "Adventure Works Cycles&#x27; whole organisation" in page
    assert "Cycles&#x27;s" not in page and "Cycles's" not in page


def test_landing_button_goes_to_the_v2_admin_consent_endpoint(
    customer_with_link: Any, partner_app: Any
) -> None:
    _, consent = customer_with_link
    response = Client().post(f"/consent/{consent.public_id}/start/")
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}" == FAKE_LOGIN
    assert target.path == "/organizations/v2.0/adminconsent"
    query = parse_qs(target.query)
    assert query["client_id"] == [partner_app.client_id]
    assert query["redirect_uri"] == ["https://portal.example.test/consent/callback/"]
    # Graph's resource: present in every tenant, with or without Defender for Endpoint.
    assert query["scope"] == ["https://graph.microsoft.com/.default"]
    consent.refresh_from_db()
    assert consent.state_hash and query["state"][0] not in consent.state_hash


def test_landing_page_lets_its_button_reach_the_sign_in_origin_and_no_other(
    customer_with_link: Any, partner_app: Any
) -> None:
    # Browsers hold the redirect after Continue to the page's form-action.
    _, consent = customer_with_link
    header = Client().get(f"/consent/{consent.public_id}/")["Content-Security-Policy"]
    assert f"form-action 'self' {FAKE_LOGIN};" in header
    assert "script-src 'self';" in header
    other = Client().get("/accounts/login/")["Content-Security-Policy"]
    assert "form-action 'self';" in other and FAKE_LOGIN not in other


@pytest.mark.parametrize(("flow", "path"), [("v2", "/organizations/v2.0/adminconsent"),
                                            ("v1", "/common/oauth2/authorize")])  # fmt: skip
def test_the_browser_goes_to_the_sign_in_pages_address_when_it_differs_from_the_api(
    staff_user: Any, partner_app: Any, monkeypatch: pytest.MonkeyPatch, flow: str, path: str
) -> None:
    # The sandbox's pages for a person's browser are plain HTTP on loopback; its token
    # endpoint stays HTTPS, and the landing page lets its button reach the pages alone.
    pages = "http://127.0.0.1:8442"
    app = dataclasses.replace(partner_app, browser_login_url=pages)
    monkeypatch.setattr(microsoft, "partner_app", lambda: app)
    _, consent = registration.customer_register(display_name="Pages", flow=flow,
                                                created_by=staff_user)  # fmt: skip
    client = Client()
    header = client.get(f"/consent/{consent.public_id}/")["Content-Security-Policy"]
    assert f"form-action 'self' {pages};" in header and FAKE_LOGIN not in header
    target = urlsplit(client.post(f"/consent/{consent.public_id}/start/")["Location"])
    assert (f"{target.scheme}://{target.netloc}", target.path) == (pages, path)
    assert microsoft.endpoints_for_customer(consent.customer).login_url == FAKE_LOGIN


def test_the_sign_in_pages_address_setting_reaches_the_endpoints(settings: Any) -> None:
    settings.PARTNER_APP_CLIENT_ID = "11111111-aaaa-bbbb-cccc-222222222222"
    settings.PARTNER_APP_CLIENT_SECRET = "not-used"
    settings.MICROSOFT_LOGIN_URL = "https://127.0.0.1:8443"
    settings.MICROSOFT_LOGIN_BROWSER_URL = "http://127.0.0.1:8442/"
    endpoints = microsoft.endpoints_for_customer(CustomerFactory())
    assert endpoints.login_url == "https://127.0.0.1:8443"
    assert endpoints.interactive_login_url == "http://127.0.0.1:8442"
    settings.MICROSOFT_LOGIN_BROWSER_URL = ""
    assert microsoft.endpoints_for_customer(CustomerFactory()).interactive_login_url == (
        "https://127.0.0.1:8443"
    )


def test_v1_link_uses_the_defender_partner_form(staff_user: Any, partner_app: Any) -> None:
    _, consent = registration.customer_register(
        display_name="Old", flow="v1", created_by=staff_user
    )
    target = urlsplit(Client().post(f"/consent/{consent.public_id}/start/")["Location"])
    query = parse_qs(target.query)
    assert target.path == "/common/oauth2/authorize"
    assert query["prompt"] == ["consent"] and query["response_type"] == ["code"]
    assert query["sso_reload"] == ["true"]


def test_expected_tenant_goes_into_the_consent_url(staff_user: Any, partner_app: Any) -> None:
    _, consent = registration.customer_register(
        display_name="Known", expected_tenant=TENANT, created_by=staff_user
    )
    target = urlsplit(Client().post(f"/consent/{consent.public_id}/start/")["Location"])
    assert target.path == f"/{TENANT}/v2.0/adminconsent"


def test_the_redirect_target_ignores_anything_in_the_request(
    customer_with_link: Any, partner_app: Any
) -> None:
    _, consent = customer_with_link
    response = Client().post(
        f"/consent/{consent.public_id}/start/?next=https://evil.example/",
        {"redirect_uri": "https://evil.example/cb", "next": "https://evil.example/"},
        HTTP_HOST="testserver",
    )
    assert "evil.example" not in response["Location"]


# --- success ---------------------------------------------------------------------------------
def come_back(client: Client, state: str, tenant: str = TENANT) -> Any:
    """Microsoft's v2 answer; the portal then sends the browser to sign in."""
    return callback(client, admin_consent="True", tenant=tenant, state=state)


def signed_in_back(client: Client, reported: Any, code: str = "admin-code") -> Any:
    """The sign-in comes back to the portal with a code and the sign-in's state."""
    assert reported.status_code == 302, reported.content.decode()[:300]
    sign_in_state = parse_qs(urlsplit(reported["Location"]).query)["state"][0]
    return callback(client, code=code, state=sign_in_state, session_state="s")


def refusals() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action="consent.refused").order_by("id"))


def test_consent_sends_the_browser_to_sign_in_at_the_claimed_tenant_and_binds_nothing_yet(
    customer_with_link: Any, sign_in: FakeSignIn
) -> None:
    customer, consent = customer_with_link
    client = Client()
    response = come_back(client, start(client, consent), TENANT.upper())
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == (
        f"{FAKE_LOGIN}/{TENANT}/oauth2/v2.0/authorize"
    )
    assert sign_in.begun == [
        {"tenant_id": TENANT, "redirect_uri": "https://portal.example.test/consent/callback/"}
    ]
    cookie = response.cookies["consent_browser"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie["path"] == "/consent/callback/"
    customer.refresh_from_db()
    assert customer.tenant_id is None and customer.status == CustomerStatus.PENDING_CONSENT
    assert AuditEvent.objects.filter(action="consent.reported", customer=customer).exists()


def test_granted_consent_binds_the_tenant_from_the_sign_in_and_queues_verification(
    customer_with_link: Any, sign_in: FakeSignIn, queued: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    customer, consent = customer_with_link
    sign_in.codes["admin-code"] = signed_in(TENANT)
    client = Client()
    reported = come_back(client, start(client, consent))
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_back(client, reported)
    assert response.status_code == 200
    assert "access approved" in response.content.decode()
    assert response.cookies["consent_browser"].value == ""  # the flow's secrets are dropped
    customer.refresh_from_db()
    assert (customer.tenant_id, customer.status) == (TENANT, CustomerStatus.VERIFYING)
    consent.refresh_from_db()
    assert consent.outcome == ConsentOutcome.GRANTED and consent.used_at and not consent.state_hash
    assert queued == [(customer.pk,)]
    event = AuditEvent.objects.get(action="consent.granted")
    assert event.actor_label == "customer admin" and event.ip_address == "127.0.0.1"
    assert event.details["signed_in_as"] == f"admin@{TENANT[:8]}.example"
    assert event.details["roles"] == ["Global Administrator"]
    assert refusals() == []


def test_v1_partner_link_binds_the_tenant_of_the_redeemed_token(
    staff_user: Any, sign_in: FakeSignIn, queued: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    customer, consent = registration.customer_register(
        display_name="Old", flow="v1", created_by=staff_user
    )
    sign_in.codes["v1-code"] = signed_in(TENANT)
    client = Client()
    state = start(client, consent)
    with django_capture_on_commit_callbacks(execute=True):
        response = callback(client, code="v1-code", state=state, admin_consent="True")
    assert response.status_code == 200
    customer.refresh_from_db()
    assert customer.tenant_id == TENANT
    assert queued == [(customer.pk,)]


# --- refused callbacks change nothing but the audit log ----------------------------------------
@pytest.fixture
def started(
    customer_with_link: Any, partner_app: Any, sign_in: FakeSignIn
) -> tuple[Client, ConsentRequest, str]:
    _, consent = customer_with_link
    client = Client()
    return client, consent, start(client, consent)


def _assert_refused_without_change(
    client: Client, params: dict[str, str], status: int, *, recorded: bool = True
) -> Any:
    """The answer is refused with ``status``; only a refusal event is written (if the
    state was the portal's), naming the link's customer and why."""
    before, refused_before = snapshot(), len(refusals())
    response = callback(client, **params)
    assert response.status_code == status
    assert snapshot() == before
    assert len(refusals()) == refused_before + (1 if recorded else 0)
    return response


def test_forged_state_changes_nothing(started: Any, queued: list[Any]) -> None:
    client, _, _ = started
    forged = signing.dumps(
        {"c": 1, "n": "guess"}, key="not-the-secret", salt=consent_links.STATE_SALT
    )
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": forged}, 400, recorded=False
    )
    assert queued == []


def test_tampered_signature_changes_nothing(started: Any) -> None:
    client, _, state = started
    tampered = state[:-2] + ("AA" if not state.endswith("AA") else "BB")
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": tampered}, 400, recorded=False
    )


def test_expired_state_changes_nothing_and_is_recorded_on_its_customer(
    started: Any, settings: Any
) -> None:
    client, link, state = started
    settings.CONSENT_STATE_MAX_AGE = -1  # any age is too old, without waiting for one
    response = _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": state}, 400
    )
    assert "ask" in response.content.decode().lower()
    event = refusals()[-1]
    assert event.customer_id == link.customer_id and event.details["reason"] == "state_unusable"


def test_replayed_callback_changes_nothing(started: Any, sign_in: FakeSignIn) -> None:
    client, _, state = started
    sign_in.codes["admin-code"] = signed_in(TENANT)
    reported = come_back(client, state)
    sign_in_state = parse_qs(urlsplit(reported["Location"]).query)["state"][0]
    assert signed_in_back(client, reported).status_code == 200
    for params in (
        {"admin_consent": "True", "tenant": TENANT, "state": state},
        {"code": "admin-code", "state": sign_in_state},
    ):
        _assert_refused_without_change(client, params, 400)


def test_a_superseded_click_state_changes_nothing(started: Any) -> None:
    client, consent, first = started
    start(client, consent)  # a second click mints a new state; the first stops working
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": first}, 400
    )


def test_another_requests_state_changes_nothing(started: Any, staff_user: Any) -> None:
    client, _, state = started
    _, other = registration.customer_register(display_name="Other", created_by=staff_user)
    start(client, other)
    payload = signing.loads(state, salt=consent_links.STATE_SALT)
    crossed = signing.dumps({"c": other.pk, "n": payload["n"]}, salt=consent_links.STATE_SALT)
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": crossed}, 400
    )


def test_malformed_and_oversized_values_change_nothing(started: Any) -> None:
    client, _, state = started
    for bad in ("contoso.onmicrosoft.com", "'; DROP TABLE x;--", TENANT + "0", "x" * 5000,
                TENANT + "\x00"):  # fmt: skip
        _assert_refused_without_change(
            client, {"admin_consent": "True", "tenant": bad, "state": state}, 400
        )
    for params in (
        {"admin_consent": "True", "tenant": TENANT, "state": "s" * 3000},
        {"code": "c" * 9000, "state": state},
        {"code": "c", "tenant": TENANT, "state": state},
        {"admin_consent": "no", "tenant": TENANT, "state": state},
    ):
        _assert_refused_without_change(client, params, 400, recorded=params["state"] != "s" * 3000)
    assert all(len(event.details["claimed_tenant"]) <= 64 for event in refusals())


def test_personal_accounts_tenant_is_refused_before_any_sign_in(
    started: Any, sign_in: FakeSignIn
) -> None:
    client, _, state = started
    response = _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": CONSUMER_TENANT_ID, "state": state}, 400
    )
    assert "personal Microsoft account" in response.content.decode()
    assert sign_in.begun == []
    assert refusals()[-1].details["reason"] == "personal_tenant"


def test_tenant_already_bound_changes_nothing(started: Any) -> None:
    client, _, state = started
    CustomerFactory(display_name="Fabrikam", tenant_id=TENANT)
    response = _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": state}, 409
    )
    assert "already registered" in response.content.decode()
    assert "Fabrikam" not in response.content.decode()
    assert "Fabrikam" not in str(refusals()[-1].details)


def test_tenant_another_customer_expects_is_refused(started: Any, sign_in: FakeSignIn) -> None:
    client, _, state = started
    CustomerFactory(
        display_name="Fabrikam", awaiting_consent=True, expected_tenant=TENANT,
        expected_tenant_id=TENANT,
    )  # fmt: skip
    sign_in.codes["admin-code"] = signed_in(TENANT)
    response = _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": state}, 409
    )
    assert "Fabrikam" not in response.content.decode()
    assert refusals()[-1].details["reason"] == "expected_by_other"


def test_unexpected_tenant_changes_nothing(
    staff_user: Any, partner_app: Any, sign_in: FakeSignIn
) -> None:
    _, link = registration.customer_register(
        display_name="Known", expected_tenant=OTHER_TENANT, created_by=staff_user
    )
    client = Client()
    state = start(client, link)
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": state}, 409
    )


@pytest.mark.parametrize(
    ("who", "status", "reason", "words"),
    [
        (signed_in(TENANT, admin=False), 403, "not_admin", "An administrator must sign in"),
        (signed_in(TENANT, roles=None), 403, "not_admin", ""),
        (signed_in(OTHER_TENANT), 400, "tenant_mismatch", "another organisation"),
        (SignedInUser(TENANT, "o", "u@x", None), 403, "no_roles", "which roles you hold"),
    ],
    ids=["not-admin", "no-admin-role", "other-tenant", "no-roles-claim"],
)
def test_a_sign_in_that_does_not_prove_an_admin_of_the_tenant_binds_nothing(
    started: Any, sign_in: FakeSignIn, who: SignedInUser, status: int, reason: str, words: str
) -> None:
    client, link, state = started
    if who.directory_roles is not None and who.tenant_id == TENANT and reason == "not_admin":
        who = SignedInUser(TENANT, "o", "u@x", frozenset({"fe930be7-5e62-47db-91af-98c3a49a38b1"}))
    sign_in.codes["admin-code"] = who
    reported = come_back(client, state)
    before, count = snapshot(), len(refusals())
    response = signed_in_back(client, reported)
    assert response.status_code == status
    assert snapshot() == before and len(refusals()) == count + 1
    assert words in response.content.decode()
    event = refusals()[-1]
    assert event.customer_id == link.customer_id and event.details["reason"] == reason
    assert event.details["claimed_tenant"] == TENANT


def test_a_sign_in_from_another_browser_binds_nothing(started: Any, sign_in: FakeSignIn) -> None:
    client, _, state = started
    sign_in.codes["admin-code"] = signed_in(TENANT)
    reported = come_back(client, state)
    sign_in_state = parse_qs(urlsplit(reported["Location"]).query)["state"][0]
    response = _assert_refused_without_change(
        Client(), {"code": "admin-code", "state": sign_in_state}, 400
    )
    assert "browser where you started" in response.content.decode()


def test_an_answer_in_a_browser_that_never_pressed_continue_binds_nothing(
    started: Any, sign_in: FakeSignIn, staff_user: Any
) -> None:
    """Someone holding the link sends Microsoft's URL (with its state) to another
    organisation's admin, who consents and signs in: their browser never pressed Continue
    on this link, so nothing is bound and nobody is asked to sign in."""
    _, _, state = started
    victim = Client()
    sign_in.codes["admin-code"] = signed_in(OTHER_TENANT)
    response = _assert_refused_without_change(
        victim, {"admin_consent": "True", "tenant": OTHER_TENANT, "state": state}, 400
    )
    assert "browser where you started" in response.content.decode()
    assert sign_in.begun == [] and refusals()[-1].details["reason"] == "other_browser"
    _, v1_link = registration.customer_register(
        display_name="Old", flow="v1", created_by=staff_user
    )
    sign_in.codes["v1-code"] = signed_in(OTHER_TENANT)
    v1_state = start(Client(), v1_link)
    _assert_refused_without_change(victim, {"code": "v1-code", "state": v1_state}, 400)


def test_an_altered_sign_in_cookie_binds_nothing(started: Any, sign_in: FakeSignIn) -> None:
    client, _, state = started
    sign_in.codes["admin-code"] = signed_in(TENANT)
    reported = come_back(client, state)
    sign_in_state = parse_qs(urlsplit(reported["Location"]).query)["state"][0]
    kept = client.cookies["consent_browser"].value
    client.cookies["consent_browser"] = kept[:-3] + ("abc" if not kept.endswith("abc") else "xyz")
    # Altered, the cookie proves nothing: not even that this browser pressed Continue.
    _assert_refused_without_change(client, {"code": "admin-code", "state": sign_in_state}, 400)


def test_an_injected_code_or_state_binds_nothing(started: Any, sign_in: FakeSignIn) -> None:
    client, _, state = started
    sign_in.codes["admin-code"] = signed_in(TENANT)
    reported = come_back(client, state)
    # The consent step's state with a code: not a sign-in answer.
    _assert_refused_without_change(client, {"code": "admin-code", "state": state}, 400)
    # A code Microsoft never issued for this sign-in.
    sign_in_state = parse_qs(urlsplit(reported["Location"]).query)["state"][0]
    _assert_refused_without_change(client, {"code": "bogus", "state": sign_in_state}, 400)


def test_a_bogus_v1_code_is_a_4xx_and_binds_nothing(staff_user: Any, sign_in: FakeSignIn) -> None:
    _, link = registration.customer_register(display_name="Old", flow="v1", created_by=staff_user)
    client = Client()
    state = start(client, link)
    response = _assert_refused_without_change(
        client, {"code": "not-a-real-code", "state": state, "admin_consent": "True"}, 400
    )
    assert "did not confirm" in response.content.decode()
    # A v2-shaped answer to a v1 link is refused too.
    _assert_refused_without_change(client, {"admin_consent": "True", "tenant": TENANT,
                                            "state": state}, 400)  # fmt: skip


def test_microsoft_unreachable_during_sign_in_is_a_clear_503(
    started: Any, sign_in: FakeSignIn
) -> None:
    client, _, state = started
    sign_in.codes["admin-code"] = TransientIdentityError("connection reset")
    reported = come_back(client, state)
    before = snapshot()
    response = signed_in_back(client, reported)
    assert response.status_code == 503 and "could not reach Microsoft" in response.content.decode()
    assert snapshot() == before


def test_xss_in_error_description_is_shown_as_text_and_changes_nothing(started: Any) -> None:
    client, _, _ = started
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = _assert_refused_without_change(
        client,
        {"error": "access_denied", "error_description": payload, "state": "forged"},
        400,
        recorded=False,
    )
    assert payload not in response.content.decode()


def test_xss_in_a_real_denial_is_escaped_on_every_page(started: Any, staff_user: Any) -> None:
    client, consent, state = started
    payload = "AADSTS65004: <script>alert(1)</script>"
    response = callback(
        client, error="access_denied", error_description=payload, admin_consent="True", state=state
    )
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert "&lt;script&gt;" in response.content.decode()
    staff = Client()
    staff.force_login(staff_user)
    page = staff.get(f"/customers/{consent.customer_id}/").content.decode()
    assert "<script>alert(1)</script>" not in page


def test_refusals_appear_on_the_customers_timeline_for_staff(started: Any, staff_user: Any) -> None:
    client, link, state = started
    callback(client, admin_consent="True", tenant=CONSUMER_TENANT_ID, state=state)
    staff = Client()
    staff.force_login(staff_user)
    page = staff.get(f"/customers/{link.customer_id}/").content.decode()
    assert "Consent answer refused for tenant " + CONSUMER_TENANT_ID in page


def test_missing_state_changes_nothing(started: Any) -> None:
    client, _, _ = started
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT}, 400, recorded=False
    )


# --- denial ------------------------------------------------------------------------------------
def test_cancelled_consent_explains_and_keeps_the_customer_pending(started: Any) -> None:
    client, consent, state = started
    response = callback(
        client,
        error="access_denied",
        error_description="AADSTS65004: User declined to consent to access the app.",
        admin_consent="True",
        state=state,
    )
    page = response.content.decode()
    assert response.status_code == 200
    assert "not approved" in page and "open the link you were sent again" in page
    consent.refresh_from_db()
    assert consent.outcome == ConsentOutcome.DENIED and consent.error_code == "AADSTS65004"
    assert consent.customer.status == CustomerStatus.PENDING_CONSENT
    assert AuditEvent.objects.filter(action="consent.denied", customer=consent.customer).exists()
    # The same link can be tried again.
    assert consent.is_open
    start(client, consent)


def test_consent_required_tells_the_admin_to_use_a_global_admin(started: Any) -> None:
    client, _, state = started
    page = callback(
        client, error="consent_required",
        error_description="AADSTS65001: The user or administrator has not consented.",
        state=state,
    ).content.decode()  # fmt: skip
    assert "global administrator" in page


def test_expired_link_landing_and_start_say_so(customer_with_link: Any) -> None:
    _, consent = customer_with_link
    consent.expires_at = timezone.now() - timedelta(seconds=1)
    consent.save(update_fields=["expires_at"])
    assert "expired" in Client().get(f"/consent/{consent.public_id}/").content.decode()
    assert Client().post(f"/consent/{consent.public_id}/start/").status_code == 404
