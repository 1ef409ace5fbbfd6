"""Staff register, edit, re-link, e-mail, offboard and delete customers."""

from __future__ import annotations

from typing import Any

import pytest
from django.core import mail
from django.test import Client

from partner_portal.core.access import Role
from tenants import audit, registration
from tenants.models import AuditEvent, ConsentOutcome, ConsentRequest, Customer, CustomerStatus
from tests.factories import UserFactory
from tests.tenants.factories import CustomerFactory

pytestmark = pytest.mark.django_db

VALID = {
    "display_name": "Contoso",
    "contact_name": "Dana Admin",
    "contact_email": "dana@contoso.example",
    "expected_tenant": "",
    "cloud": "commercial",
    "api_region": "",
    "collect_alerts": "on",
    "collect_incidents": "on",
    "sync_interval_seconds": "60",
    "flow": "v2",
}


@pytest.fixture
def staff(staff_user: Any) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def test_staff_registers_a_customer_and_gets_a_consent_link(
    staff: Client, partner_app: Any
) -> None:
    response = staff.post("/customers/new/", VALID, follow=True)
    assert response.status_code == 200
    customer = Customer.objects.get()
    assert customer.status == CustomerStatus.PENDING_CONSENT
    consent = ConsentRequest.objects.get(customer=customer)
    page = response.content.decode()
    assert f"https://portal.example.test/consent/{consent.public_id}/" in page
    assert 'data-copy-target="consent-link"' in page
    assert AuditEvent.objects.filter(customer=customer, action="customer.registered").exists()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"display_name": "  "}, "This field is required"),
        ({"contact_email": "not-an-email"}, "Enter a valid email address"),
        ({"expected_tenant": "0b4c4a0c-1111-2222-3333-44445555666"}, "not a valid tenant ID"),
        ({"expected_tenant": "no spaces allowed"}, "Enter a tenant ID (GUID) or a domain"),
        ({"collect_alerts": "", "collect_incidents": ""}, "at least one of alerts"),
        ({"cloud": "gcc", "api_region": "eu"}, "commercial cloud only"),
    ],
)
def test_register_refuses_bad_input_with_a_clear_message(
    staff: Client, change: dict[str, str], message: str
) -> None:
    data = {**VALID, **change}
    data = {k: v for k, v in data.items() if v != ""}
    response = staff.post("/customers/new/", data)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Customer.objects.exists()


def test_register_refuses_a_tenant_already_bound_and_names_its_holder(staff: Client) -> None:
    CustomerFactory(display_name="Fabrikam", tenant_id="0b4c4a0c-1111-2222-3333-444455556666")
    data = {**VALID, "expected_tenant": "0B4C4A0C-1111-2222-3333-444455556666"}
    response = staff.post("/customers/new/", data)
    assert "already belongs to the customer “Fabrikam”" in response.content.decode()
    assert Customer.objects.count() == 1


def test_expected_tenant_accepts_a_guid_or_a_domain(staff: Client, tenant_lookup: Any) -> None:
    tenant_lookup.tenants["contoso.onmicrosoft.com"] = "5d7e8f90-1111-2222-3333-444455556666"
    staff.post("/customers/new/", {**VALID, "expected_tenant": "Contoso.OnMicrosoft.com"})
    staff.post(
        "/customers/new/",
        {**VALID, "display_name": "B", "expected_tenant": "{0B4C4A0C-1111-2222-3333-444455556666}"},
    )
    assert sorted(Customer.objects.values_list("expected_tenant", "expected_tenant_id")) == [
        ("0b4c4a0c-1111-2222-3333-444455556666", "0b4c4a0c-1111-2222-3333-444455556666"),
        ("contoso.onmicrosoft.com", "5d7e8f90-1111-2222-3333-444455556666"),
    ]
    # Only the domain needed Microsoft.
    assert [name for name, _ in tenant_lookup.calls] == ["contoso.onmicrosoft.com"]


def test_analyst_cannot_register_a_customer(client: Client) -> None:
    analyst = UserFactory(username="ana", roles=[Role.ANALYST])
    client.force_login(analyst)
    assert client.get("/customers/new/").status_code == 403
    assert client.post("/customers/new/", VALID).status_code == 403
    assert not Customer.objects.exists()


def test_anonymous_user_is_sent_to_sign_in_from_staff_pages(client: Client) -> None:
    for url in ("/customers/", "/customers/new/", "/audit/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")
    assert client.post("/customers/new/", VALID).status_code == 302
    assert not Customer.objects.exists()


def test_staff_edit_records_what_changed(staff: Client, customer_with_link: Any) -> None:
    customer, _ = customer_with_link
    data = {**VALID, "contact_name": "Robin", "sync_interval_seconds": "120"}
    data.pop("flow")
    staff.post(f"/customers/{customer.pk}/edit/", data)
    customer.refresh_from_db()
    assert (customer.contact_name, customer.sync_interval_seconds) == ("Robin", 120)
    event = AuditEvent.objects.get(action="customer.updated")
    assert set(event.details["changes"]) == {"contact_name", "sync_interval_seconds"}


def test_new_link_stops_the_old_one_working(
    staff: Client, customer_with_link: Any, partner_app: Any
) -> None:
    customer, old = customer_with_link
    staff.post(f"/customers/{customer.pk}/new-link/", {"flow": "v1"})
    old.refresh_from_db()
    assert old.outcome == ConsentOutcome.SUPERSEDED
    assert Client().get(f"/consent/{old.public_id}/").status_code == 404
    new = ConsentRequest.objects.exclude(pk=old.pk).get()
    assert new.flow == "v1"
    assert Client().get(f"/consent/{new.public_id}/").status_code == 200


def test_send_by_email_mails_the_link_to_the_contact(
    staff: Client, customer_with_link: Any, django_capture_on_commit_callbacks: Any
) -> None:
    customer, consent = customer_with_link
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/customers/{customer.pk}/email-link/", {"to": "dana@contoso.example"})
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["dana@contoso.example"]
    assert f"/consent/{consent.public_id}/" in mail.outbox[0].body
    assert AuditEvent.objects.filter(action="consent.link_emailed").exists()


def test_offboard_then_delete_needs_the_typed_name(staff: Client, customer_with_link: Any) -> None:
    customer, consent = customer_with_link
    staff.post(f"/customers/{customer.pk}/delete/", {"confirmation": "Contoso"})
    assert Customer.objects.filter(pk=customer.pk).exists(), "deleted before offboarding"

    staff.post(f"/customers/{customer.pk}/offboard/")
    customer.refresh_from_db()
    assert customer.status == CustomerStatus.OFFBOARDED
    consent.refresh_from_db()
    assert consent.outcome == ConsentOutcome.SUPERSEDED

    staff.post(f"/customers/{customer.pk}/delete/", {"confirmation": "contoso"})
    assert Customer.objects.filter(pk=customer.pk).exists(), "wrong confirmation accepted"
    staff.post(f"/customers/{customer.pk}/delete/", {"confirmation": "Contoso"})
    assert not Customer.objects.filter(pk=customer.pk).exists()
    deleted = AuditEvent.objects.get(action="customer.deleted")
    assert deleted.customer is None and deleted.customer_name == "Contoso"


def test_verify_now_queues_a_verification_on_commit(
    staff: Client, customer_with_link: Any, monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:  # fmt: skip
    customer, _ = customer_with_link
    customer.tenant_id = "0b4c4a0c-1111-2222-3333-444455556666"
    customer.save(update_fields=["tenant_id"])
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        "tenants.tasks.verify_customer.apply_async",
        lambda args, countdown=0: queued.append(args),
    )
    with django_capture_on_commit_callbacks(execute=True):
        staff.post(f"/customers/{customer.pk}/verify/")
    assert queued == [(customer.pk,)]


def test_customer_list_searches_and_filters(staff: Client) -> None:
    CustomerFactory(display_name="Contoso", status=CustomerStatus.ACTIVE)
    CustomerFactory(display_name="Fabrikam", awaiting_consent=True)
    page = staff.get("/customers/", {"q": "fabri"}).content.decode()
    assert "Fabrikam" in page and "Contoso" not in page
    page = staff.get("/customers/", {"status": "active"}).content.decode()
    assert "Contoso" in page and "Fabrikam" not in page


def test_customer_list_finds_a_customer_by_the_tenant_its_domain_stands_for(
    staff: Client,
) -> None:
    tenant = "7f3b2c1d-0000-4000-8000-00000000abcd"
    CustomerFactory(
        display_name="Northwind", awaiting_consent=True, expected_tenant="northwind.example",
        expected_tenant_id=tenant,
    )  # fmt: skip
    CustomerFactory(
        display_name="Tailspin", awaiting_consent=True, expected_tenant="tailspin.example"
    )
    page = staff.get("/customers/", {"q": "00000000abcd"}).content.decode()
    assert "Northwind" in page and "Tailspin" not in page


def test_audit_log_is_for_portal_admins_only(staff: Client, customer_with_link: Any) -> None:
    assert staff.get("/audit/").status_code == 403
    admin = Client()
    admin.force_login(UserFactory(username="boss", roles=[Role.ADMIN]))
    page = admin.get("/audit/", {"action": "customer."}).content.decode()
    assert "Registered Contoso" in page


def test_register_service_writes_nothing_when_validation_fails(staff_user: Any) -> None:
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        registration.customer_register(display_name="X", contact_email="bad", created_by=staff_user)
    assert not Customer.objects.exists()
    assert not AuditEvent.objects.exists()


def test_the_staff_timeline_leaves_out_analysts_actions_on_alerts(
    staff: Client, customer_with_link: Any
) -> None:
    customer, _ = customer_with_link
    audit.audit_record(
        action="alert.updated", customer=customer, summary="Changed alert SECRET-TITLE-42"
    )
    page = staff.get(f"/customers/{customer.pk}/").content.decode()
    assert "Registered Contoso" in page
    assert "SECRET-TITLE-42" not in page


def test_the_django_admin_shows_onboarding_records_read_only(customer_with_link: Any) -> None:
    customer, consent = customer_with_link
    admin = Client()
    admin.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    assert admin.get(f"/admin/tenants/customer/{customer.pk}/change/").status_code == 200
    admin.post(
        f"/admin/tenants/customer/{customer.pk}/change/",
        {"display_name": "Renamed", "status": "active"},
    )
    customer.refresh_from_db()
    assert (customer.display_name, customer.status) == ("Contoso", CustomerStatus.PENDING_CONSENT)
    assert (
        admin.post(
            f"/admin/tenants/consentrequest/{consent.pk}/delete/", {"post": "yes"}
        ).status_code
        == 403
    )
    assert ConsentRequest.objects.filter(pk=consent.pk).exists()


@pytest.mark.parametrize(
    ("cloud", "region", "shown"),
    [
        ("commercial", "", ('<option value="commercial" selected>', '<option value="" selected>')),
        ("gcc_high", "", ('<option value="gcc_high" selected>', '<option value="" selected>')),
        (
            "commercial",
            "eu",
            ('<option value="commercial" selected>', '<option value="eu" selected>'),
        ),
    ],
)
def test_a_new_customer_starts_in_the_partners_cloud_and_region(
    staff: Client, settings: Any, cloud: str, region: str, shown: tuple[str, str]
) -> None:
    settings.PARTNER_CLOUD, settings.PARTNER_API_REGION = cloud, region
    page = staff.get("/customers/new/").content.decode()
    for option in shown:
        assert option in page
    # The cloud, the region and the time zone (UTC until staff choose another).
    assert '<option value="UTC" selected>' in page
    assert page.count(" selected>") == 3


def test_editing_shows_the_customers_own_cloud_not_the_partners(
    staff: Client, settings: Any, partner_app: Any
) -> None:
    staff.post("/customers/new/", VALID)
    settings.PARTNER_CLOUD = "dod"
    customer = Customer.objects.get()
    page = staff.get(f"/customers/{customer.pk}/edit/").content.decode()
    assert '<option value="commercial" selected>' in page
    assert '<option value="dod" selected>' not in page
