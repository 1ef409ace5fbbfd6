"""The customer admin's side: landing page, the hop to Microsoft, and the callback.

Every refused callback must leave the database exactly as it was.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import signing
from django.test import Client
from django.utils import timezone

from tenants import services
from tenants.models import AuditEvent, ConsentOutcome, ConsentRequest, Customer, CustomerStatus
from tests.tenants.conftest import FAKE_LOGIN, snapshot

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
    Customer.objects.create(display_name="Secret Other Customer")
    _, consent = customer_with_link
    page = Client().get(f"/consent/{consent.public_id}/").content.decode()
    assert "Northwind Security" in page
    assert "Contoso" in page
    assert "will not be able to" in page
    assert "Secret Other Customer" not in page
    assert "Sign out" not in page and "/customers/" not in page


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
    assert query["scope"] == ["https://api.securitycenter.microsoft.com/.default"]
    consent.refresh_from_db()
    assert consent.state_hash and query["state"][0] not in consent.state_hash


def test_v1_link_uses_the_defender_partner_form(staff_user: Any, partner_app: Any) -> None:
    _, consent = services.customer_register(display_name="Old", flow="v1", created_by=staff_user)
    target = urlsplit(Client().post(f"/consent/{consent.public_id}/start/")["Location"])
    query = parse_qs(target.query)
    assert target.path == "/common/oauth2/authorize"
    assert query["prompt"] == ["consent"] and query["response_type"] == ["code"]
    assert query["sso_reload"] == ["true"]


def test_expected_tenant_goes_into_the_consent_url(staff_user: Any, partner_app: Any) -> None:
    _, consent = services.customer_register(
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
def test_granted_consent_records_the_tenant_and_queues_verification(
    customer_with_link: Any, partner_app: Any, queued: list[Any],
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    customer, consent = customer_with_link
    client = Client()
    state = start(client, consent)
    with django_capture_on_commit_callbacks(execute=True):
        response = callback(client, admin_consent="True", tenant=TENANT.upper(), state=state)
    assert response.status_code == 200
    assert "access approved" in response.content.decode()
    customer.refresh_from_db()
    assert (customer.tenant_id, customer.status) == (TENANT, CustomerStatus.VERIFYING)
    consent.refresh_from_db()
    assert consent.outcome == ConsentOutcome.GRANTED and consent.used_at and not consent.state_hash
    assert queued == [(customer.pk,)]
    event = AuditEvent.objects.get(action="consent.granted")
    assert event.actor_label == "customer admin" and event.ip_address == "127.0.0.1"


# --- refused callbacks change nothing ----------------------------------------------------------
@pytest.fixture
def started(customer_with_link: Any, partner_app: Any) -> tuple[Client, ConsentRequest, str]:
    _, consent = customer_with_link
    client = Client()
    return client, consent, start(client, consent)


def _assert_refused_without_change(client: Client, params: dict[str, str], status: int) -> Any:
    before = snapshot()
    response = callback(client, **params)
    assert response.status_code == status
    assert snapshot() == before
    return response


def test_forged_state_changes_nothing(started: Any, queued: list[Any]) -> None:
    client, _, _ = started
    forged = signing.dumps({"c": 1, "n": "guess"}, key="not-the-secret", salt=services.STATE_SALT)
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": forged}, 400
    )
    assert queued == []


def test_tampered_signature_changes_nothing(started: Any) -> None:
    client, _, state = started
    tampered = state[:-2] + ("AA" if not state.endswith("AA") else "BB")
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": tampered}, 400
    )


def test_expired_state_changes_nothing(started: Any, settings: Any) -> None:
    client, _, state = started
    settings.CONSENT_STATE_MAX_AGE = 0
    import time

    time.sleep(1.1)
    response = _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": state}, 400
    )
    assert "ask" in response.content.decode().lower()


def test_replayed_state_changes_nothing(started: Any, queued: list[Any]) -> None:
    client, _, state = started
    assert callback(client, admin_consent="True", tenant=TENANT, state=state).status_code == 200
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": state}, 400
    )


def test_a_superseded_click_state_changes_nothing(started: Any) -> None:
    client, consent, first = started
    start(client, consent)  # a second click mints a new state; the first stops working
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": first}, 400
    )


def test_another_requests_state_changes_nothing(started: Any, staff_user: Any) -> None:
    client, _, state = started
    _, other = services.customer_register(display_name="Other", created_by=staff_user)
    start(client, other)
    payload = signing.loads(state, salt=services.STATE_SALT)
    crossed = signing.dumps({"c": other.pk, "n": payload["n"]}, salt=services.STATE_SALT)
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": crossed}, 400
    )


def test_non_guid_tenant_changes_nothing(started: Any) -> None:
    client, _, state = started
    for bad in ("contoso.onmicrosoft.com", "'; DROP TABLE x;--", TENANT + "0"):
        _assert_refused_without_change(
            client, {"admin_consent": "True", "tenant": bad, "state": state}, 400
        )


def test_tenant_already_bound_changes_nothing(started: Any) -> None:
    client, _, state = started
    Customer.objects.create(display_name="Fabrikam", tenant_id=TENANT)
    response = _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": state}, 409
    )
    assert "already registered" in response.content.decode()
    assert "Fabrikam" not in response.content.decode()


def test_unexpected_tenant_changes_nothing(staff_user: Any, partner_app: Any) -> None:
    _, consent = services.customer_register(
        display_name="Known", expected_tenant=OTHER_TENANT, created_by=staff_user
    )
    client = Client()
    state = start(client, consent)
    _assert_refused_without_change(
        client, {"admin_consent": "True", "tenant": TENANT, "state": state}, 409
    )


def test_xss_in_error_description_is_shown_as_text_and_changes_nothing(started: Any) -> None:
    client, _, _ = started
    payload = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    response = _assert_refused_without_change(
        client,
        {"error": "access_denied", "error_description": payload, "state": "forged"},
        400,
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


def test_missing_state_changes_nothing(started: Any) -> None:
    client, _, _ = started
    _assert_refused_without_change(client, {"admin_consent": "True", "tenant": TENANT}, 400)


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
