"""An expected domain is looked up at Microsoft when staff save it, and then enforced.

Microsoft's side is the door's look-up patched (`tenant_lookup`); the door's own logic
(GUIDs need no call, which sign-in host is asked) stays real.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from partner_portal.defender import (
    CONSUMER_TENANT_ID,
    TenantLookupUnavailable,
    UnreadableDiscovery,
)
from tenants import microsoft, registration
from tenants.models import AuditEvent, ConsentOutcome, Customer, CustomerStatus
from tests.tenants.conftest import FAKE_LOGIN, FakeSignIn, FakeTenantLookup, signed_in, snapshot
from tests.tenants.factories import CustomerFactory
from tests.tenants.test_consent_flow import callback, come_back, signed_in_back, start

pytestmark = pytest.mark.django_db

DOMAIN = "contoso.onmicrosoft.com"
TENANT = "9f3e6c1a-52b7-4a8d-9c1e-0d2f4b6a8e10"
OTHER_DOMAIN = "fabrikam.com"
OTHER_TENANT = "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d"

FORM = {
    "display_name": "Contoso",
    "contact_name": "Dana Admin",
    "contact_email": "dana@contoso.example",
    "expected_tenant": DOMAIN,
    "cloud": "commercial",
    "api_region": "",
    "collect_alerts": "on",
    "collect_incidents": "on",
    "sync_interval_seconds": "90",
    "flow": "v2",
}


@pytest.fixture
def lookup(tenant_lookup: FakeTenantLookup) -> FakeTenantLookup:
    tenant_lookup.tenants.update({DOMAIN: TENANT, OTHER_DOMAIN: OTHER_TENANT})
    return tenant_lookup


@pytest.fixture
def staff(staff_user: Any) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def edit_form(customer: Customer, **changes: str) -> dict[str, str]:
    """The edit form as the page fills it in for `customer`, with `changes` typed over it."""
    current = {name: getattr(customer, name) for name in registration.EDITABLE_FIELDS}
    data = {name: value for name, value in current.items() if not isinstance(value, bool)}
    data.update({name: "on" for name, value in current.items() if value is True})
    return {**data, **changes}


def field_errors(response: Any) -> list[str]:
    return list(response.context["form"].errors.get("expected_tenant", []))


# --- registering ------------------------------------------------------------------------------
def test_registering_with_a_domain_stores_the_tenant_microsoft_names(
    staff: Client, lookup: FakeTenantLookup
) -> None:
    response = staff.post("/customers/new/", {**FORM, "expected_tenant": "Contoso.OnMicrosoft.com"})
    assert response.status_code == 302
    customer = Customer.objects.get()
    assert (customer.expected_tenant, customer.expected_tenant_id) == (DOMAIN, TENANT)
    assert not customer.expected_tenant_unchecked
    # Asked once, at the partner app's sign-in host.
    assert lookup.calls == [(DOMAIN, FAKE_LOGIN)]
    event = AuditEvent.objects.get(action="customer.registered")
    assert event.details["expected_tenant_id"] == TENANT
    page = staff.get(f"/customers/{customer.pk}/").content.decode()
    assert TENANT in page and "not checked yet" not in page


def test_a_guid_is_stored_as_the_tenant_without_asking_microsoft(
    staff: Client, lookup: FakeTenantLookup
) -> None:
    staff.post("/customers/new/", {**FORM, "expected_tenant": TENANT.upper()})
    customer = Customer.objects.get()
    assert (customer.expected_tenant, customer.expected_tenant_id) == (TENANT, TENANT)
    assert lookup.calls == []


def test_the_customers_cloud_decides_which_sign_in_host_is_asked(
    monkeypatch: pytest.MonkeyPatch, lookup: FakeTenantLookup, partner_app: Any, staff_user: Any
) -> None:
    # A partner app on Microsoft's own hosts (no override): the cloud picks the host.
    app = microsoft.PartnerApp(
        credentials=partner_app.credentials, login_url="", mde_api_url="", xdr_api_url="",
        ca_file=None, uses_sandbox=False,
    )  # fmt: skip
    monkeypatch.setattr(microsoft, "partner_app", lambda: app)
    registration.customer_register(
        display_name="Gov", expected_tenant=DOMAIN, cloud="gcc_high", created_by=staff_user
    )
    registration.customer_register(
        display_name="Com", expected_tenant=OTHER_DOMAIN, cloud="commercial", created_by=staff_user
    )
    assert lookup.calls == [
        (DOMAIN, "https://login.microsoftonline.us"),
        (OTHER_DOMAIN, "https://login.microsoftonline.com"),
    ]


def test_an_unknown_domain_is_a_form_error_and_nothing_is_lost(
    staff: Client, lookup: FakeTenantLookup
) -> None:
    data = {**FORM, "expected_tenant": "nobody-here.com"}
    response = staff.post("/customers/new/", data)
    assert response.status_code == 200
    (error,) = field_errors(response)
    assert error.startswith("No Microsoft Entra tenant uses this domain (nobody-here.com)")
    assert "Commercial cloud" in error and "tenant ID" in error
    assert not Customer.objects.exists() and not AuditEvent.objects.exists()
    # The form comes back as typed.
    page = response.content.decode()
    for value in ("Contoso", "Dana Admin", "dana@contoso.example", "nobody-here.com", "90"):
        assert f'value="{value}"' in page
    assert 'role="alert"' in page


@pytest.mark.parametrize(
    ("failure", "words"),
    [
        (TenantLookupUnavailable(DOMAIN, "timed out"), "could not be reached"),
        (TenantLookupUnavailable(DOMAIN, "HTTP 503", http_status=503), "could not be reached"),
        (UnreadableDiscovery(DOMAIN, "not JSON"), "did not say which tenant"),
    ],
)
def test_microsoft_unreachable_is_a_form_error_offering_the_tenant_id(
    staff: Client, lookup: FakeTenantLookup, failure: Exception, words: str
) -> None:
    lookup.tenants[DOMAIN] = failure
    response = staff.post("/customers/new/", FORM)
    assert response.status_code == 200
    (error,) = field_errors(response)
    assert words in error
    assert "enter the customer's tenant ID instead, or leave the field empty" in error
    assert not Customer.objects.exists()
    assert f'value="{DOMAIN}"' in response.content.decode()


def test_no_partner_app_is_a_form_error(
    staff: Client, monkeypatch: pytest.MonkeyPatch, lookup: FakeTenantLookup
) -> None:
    def not_configured() -> Any:
        raise microsoft.PartnerAppNotConfigured("nothing configured")

    monkeypatch.setattr(microsoft, "partner_app", not_configured)
    response = staff.post("/customers/new/", FORM)
    (error,) = field_errors(response)
    assert "not connected to Microsoft" in error and "tenant ID instead" in error
    assert not Customer.objects.exists()
    # A GUID still needs no connection.
    assert staff.post("/customers/new/", {**FORM, "expected_tenant": TENANT}).status_code == 302


def test_a_domain_of_a_tenant_another_customer_holds_is_refused(
    staff: Client, lookup: FakeTenantLookup
) -> None:
    CustomerFactory(display_name="Fabrikam", tenant_id=TENANT)
    response = staff.post("/customers/new/", FORM)
    (error,) = field_errors(response)
    assert error == (
        f"This domain belongs to tenant {TENANT}, which already belongs to the customer “Fabrikam”."
    )
    assert Customer.objects.count() == 1


# --- editing ------------------------------------------------------------------------------------
@pytest.fixture
def registered(lookup: FakeTenantLookup, staff_user: Any) -> Customer:
    customer, _ = registration.customer_register(
        display_name="Contoso", expected_tenant=DOMAIN, created_by=staff_user
    )
    lookup.calls.clear()
    return customer


def test_an_edit_that_changes_the_domain_looks_it_up_again(
    staff: Client, registered: Customer, lookup: FakeTenantLookup
) -> None:
    response = staff.post(
        f"/customers/{registered.pk}/edit/", edit_form(registered, expected_tenant=OTHER_DOMAIN)
    )
    assert response.status_code == 302
    registered.refresh_from_db()
    assert (registered.expected_tenant, registered.expected_tenant_id) == (
        OTHER_DOMAIN,
        OTHER_TENANT,
    )
    assert lookup.calls == [(OTHER_DOMAIN, FAKE_LOGIN)]
    event = AuditEvent.objects.get(action="customer.updated")
    assert event.details["changes"]["expected_tenant_id"] == {"from": TENANT, "to": OTHER_TENANT}


def test_an_edit_that_keeps_the_domain_does_not_ask_microsoft(
    staff: Client, registered: Customer, lookup: FakeTenantLookup
) -> None:
    lookup.tenants[DOMAIN] = AssertionError("Microsoft must not be asked")
    response = staff.post(
        f"/customers/{registered.pk}/edit/",
        edit_form(registered, expected_tenant=DOMAIN.upper(), contact_name="Robin"),
    )
    assert response.status_code == 302
    registered.refresh_from_db()
    assert registered.contact_name == "Robin"
    assert (registered.expected_tenant, registered.expected_tenant_id) == (DOMAIN, TENANT)
    assert lookup.calls == []
    event = AuditEvent.objects.get(action="customer.updated")
    assert "expected_tenant" not in event.details["changes"]


def test_an_edit_to_a_guid_or_to_nothing_needs_no_look_up(
    staff: Client, registered: Customer, lookup: FakeTenantLookup
) -> None:
    staff.post(
        f"/customers/{registered.pk}/edit/", edit_form(registered, expected_tenant=OTHER_TENANT)
    )
    registered.refresh_from_db()
    assert registered.expected_tenant_id == OTHER_TENANT
    staff.post(f"/customers/{registered.pk}/edit/", edit_form(registered, expected_tenant=""))
    registered.refresh_from_db()
    assert (registered.expected_tenant, registered.expected_tenant_id) == ("", "")
    assert lookup.calls == []


def test_a_failed_look_up_on_edit_changes_nothing(
    staff: Client, registered: Customer, lookup: FakeTenantLookup
) -> None:
    lookup.tenants[OTHER_DOMAIN] = TenantLookupUnavailable(OTHER_DOMAIN, "could not connect")
    before = snapshot()
    response = staff.post(
        f"/customers/{registered.pk}/edit/",
        edit_form(registered, expected_tenant=OTHER_DOMAIN, contact_name="Robin"),
    )
    assert response.status_code == 200
    assert "could not be reached" in field_errors(response)[0]
    assert snapshot() == before
    page = response.content.decode()
    assert f'value="{OTHER_DOMAIN}"' in page and 'value="Robin"' in page


def test_a_new_cloud_asks_about_the_domain_again(
    staff: Client, registered: Customer, lookup: FakeTenantLookup
) -> None:
    # The domain is no tenant of the cloud chosen now: the edit is refused as it stands.
    del lookup.tenants[DOMAIN]
    response = staff.post(
        f"/customers/{registered.pk}/edit/", edit_form(registered, cloud="gcc_high")
    )
    assert response.status_code == 200
    assert "in the US Government" in field_errors(response)[0]
    assert lookup.calls == [(DOMAIN, FAKE_LOGIN)]
    registered.refresh_from_db()
    assert registered.cloud == "commercial" and registered.expected_tenant_id == TENANT


def test_a_connected_customer_cannot_expect_another_tenant(
    staff: Client, registered: Customer, lookup: FakeTenantLookup
) -> None:
    Customer.objects.filter(pk=registered.pk).update(tenant_id=TENANT)
    registered.refresh_from_db()
    before = snapshot()
    response = staff.post(
        f"/customers/{registered.pk}/edit/", edit_form(registered, expected_tenant=OTHER_DOMAIN)
    )
    assert response.status_code == 200
    assert f"connected to tenant {TENANT}" in field_errors(response)[0]
    assert snapshot() == before
    # Its own tenant, by domain or by ID, is still fine.
    response = staff.post(
        f"/customers/{registered.pk}/edit/", edit_form(registered, expected_tenant=TENANT)
    )
    assert response.status_code == 302


def test_the_personal_accounts_tenant_is_refused_as_expected_tenant(
    staff: Client, lookup: FakeTenantLookup
) -> None:
    lookup.tenants["outlook.com"] = CONSUMER_TENANT_ID
    for typed in (CONSUMER_TENANT_ID, "outlook.com"):
        response = staff.post("/customers/new/", {**FORM, "expected_tenant": typed})
        assert response.status_code == 200
        assert "personal Microsoft accounts" in field_errors(response)[0]
    assert not Customer.objects.exists()


# --- the callback enforces the looked-up tenant ---------------------------------------------------
@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    calls: list[Any] = []
    monkeypatch.setattr(
        "tenants.tasks.verify_customer.apply_async",
        lambda args, countdown=0: calls.append(args),
    )
    return calls


def test_consent_from_another_tenant_than_the_domains_is_refused(
    registered: Customer, queued: list[Any], django_capture_on_commit_callbacks: Any,
    sign_in: FakeSignIn,
) -> None:  # fmt: skip
    consent = registered.consents.get()
    client = Client()
    state = start(client, consent)
    before = snapshot()
    with django_capture_on_commit_callbacks(execute=True):
        response = callback(client, admin_consent="True", tenant=OTHER_TENANT, state=state)
    assert response.status_code == 409
    assert "different tenant than expected" in response.content.decode()
    assert snapshot() == before and queued == []

    sign_in.codes["admin-code"] = signed_in(TENANT)
    with django_capture_on_commit_callbacks(execute=True):
        response = signed_in_back(client, come_back(client, state, TENANT))
    assert response.status_code == 200
    registered.refresh_from_db()
    assert (registered.tenant_id, registered.status) == (TENANT, CustomerStatus.VERIFYING)
    assert queued == [(registered.pk,)]


# --- rows saved before domains were looked up -----------------------------------------------------
@pytest.fixture
def legacy(staff_user: Any) -> Customer:
    customer, _ = registration.customer_register(display_name="Legacy", created_by=staff_user)
    # As stored before: a domain, and no tenant ID for it.
    Customer.objects.filter(pk=customer.pk).update(expected_tenant=DOMAIN)
    customer.refresh_from_db()
    return customer


def test_an_unchecked_domain_is_not_enforced_and_the_page_says_so(
    legacy: Customer, staff: Client, partner_app: Any, queued: list[Any], sign_in: FakeSignIn
) -> None:
    assert legacy.expected_tenant_unchecked
    page = staff.get(f"/customers/{legacy.pk}/").content.decode()
    assert 'id="expected-domain-unchecked"' in page
    assert "consent from any tenant is accepted" in page
    assert "not checked yet" in page
    assert "has not been checked yet" in staff.get(f"/customers/{legacy.pk}/edit/").content.decode()

    client = Client()
    state = start(client, legacy.consents.get())
    sign_in.codes["admin-code"] = signed_in(OTHER_TENANT)
    response = signed_in_back(client, come_back(client, state, OTHER_TENANT))
    assert response.status_code == 200
    legacy.refresh_from_db()
    assert legacy.tenant_id == OTHER_TENANT
    assert legacy.consents.get().outcome == ConsentOutcome.GRANTED
    # Once a tenant is bound the warning has nothing left to warn about.
    page = staff.get(f"/customers/{legacy.pk}/").content.decode()
    assert 'id="expected-domain-unchecked"' not in page


def test_saving_an_unchecked_domain_looks_it_up(
    legacy: Customer, staff: Client, lookup: FakeTenantLookup
) -> None:
    response = staff.post(f"/customers/{legacy.pk}/edit/", edit_form(legacy))
    assert response.status_code == 302
    legacy.refresh_from_db()
    assert legacy.expected_tenant_id == TENANT and not legacy.expected_tenant_unchecked
    assert lookup.calls == [(DOMAIN, FAKE_LOGIN)]
    assert AuditEvent.objects.get(action="customer.updated").summary == (
        "Changed expected_tenant_id"
    )


def test_an_unrelated_edit_of_an_unchecked_domain_survives_a_failed_look_up(
    legacy: Customer, staff: Client, lookup: FakeTenantLookup
) -> None:
    lookup.tenants[DOMAIN] = TenantLookupUnavailable(DOMAIN, "could not connect")
    response = staff.post(f"/customers/{legacy.pk}/edit/", edit_form(legacy, contact_name="Robin"))
    assert response.status_code == 302
    legacy.refresh_from_db()
    assert legacy.contact_name == "Robin" and legacy.expected_tenant_unchecked


def test_a_connected_customers_unchecked_domain_is_not_asked_about(
    legacy: Customer, staff: Client, lookup: FakeTenantLookup
) -> None:
    Customer.objects.filter(pk=legacy.pk).update(tenant_id=OTHER_TENANT)
    legacy.refresh_from_db()
    page = staff.get(f"/customers/{legacy.pk}/edit/").content.decode()
    assert "saving looks it up" not in page
    response = staff.post(f"/customers/{legacy.pk}/edit/", edit_form(legacy, contact_name="Robin"))
    assert response.status_code == 302
    assert lookup.calls == []


def test_a_guid_stored_before_still_counts_without_its_copy(
    staff_user: Any, partner_app: Any
) -> None:
    customer, consent = registration.customer_register(display_name="Old", created_by=staff_user)
    Customer.objects.filter(pk=customer.pk).update(expected_tenant=TENANT, expected_tenant_id="")
    client = Client()
    state = start(client, consent)
    before = snapshot()
    assert (
        callback(client, admin_consent="True", tenant=OTHER_TENANT, state=state).status_code == 409
    )
    assert snapshot() == before
