"""Staff see which customers must consent again before the Defender APIs stop."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from partner_portal.core.access import Role
from tenants.models import GRAPH_ALERT_READWRITE, AuditEvent, Customer, CustomerStatus
from tests.factories import UserFactory
from tests.tenants.factories import CustomerFactory

pytestmark = pytest.mark.django_db

LEGACY_ROLES = ["Alert.ReadWrite.All", "Incident.Read.All"]


@pytest.fixture(autouse=True)
def fresh_count() -> None:
    cache.clear()


def verified(**fields: Any) -> Customer:
    return CustomerFactory(last_verified_at=timezone.now(), **fields)


@pytest.fixture
def fleet() -> dict[str, Customer]:
    return {
        "legacy": verified(display_name="Legacy One", granted_roles=LEGACY_ROLES),
        "legacy_missing": verified(
            display_name="Legacy Two",
            granted_roles=LEGACY_ROLES,
            status=CustomerStatus.MISSING_PERMISSIONS,
        ),
        "graph": verified(
            display_name="On Graph", granted_roles=[*LEGACY_ROLES, GRAPH_ALERT_READWRITE]
        ),
        "pending": CustomerFactory(display_name="Pending", awaiting_consent=True),
        "unverified": CustomerFactory(display_name="Not verified yet", granted_roles=[]),
        "offboarded": verified(
            display_name="Gone", granted_roles=LEGACY_ROLES, status=CustomerStatus.OFFBOARDED
        ),
    }


def client_for(*roles: Role) -> Client:
    client = Client()
    client.force_login(UserFactory(roles=list(roles)))
    return client


def test_only_connected_verified_customers_off_graph_are_on_the_legacy_api(
    fleet: dict[str, Customer],
) -> None:
    legacy = {name for name, customer in fleet.items() if customer.on_legacy_api}
    assert legacy == {"legacy", "legacy_missing"}


@pytest.mark.parametrize("role", [Role.ONBOARDING, Role.ADMIN])
def test_staff_see_how_many_customers_must_consent_again_on_every_page(
    fleet: dict[str, Customer], role: Role
) -> None:
    page = client_for(role).get("/customers/" if role == Role.ONBOARDING else "/audit/")
    assert page.status_code == 200
    banner = 'id="graph-migration-banner">2 customers must re-consent for Microsoft Graph'
    assert banner in page.content.decode()


def test_analysts_see_no_banner(fleet: dict[str, Customer]) -> None:
    page = client_for(Role.ANALYST).get("/alerts/")
    assert page.status_code == 200
    assert "graph-migration-banner" not in page.content.decode()


def test_no_banner_once_every_customer_is_on_graph() -> None:
    verified(granted_roles=[GRAPH_ALERT_READWRITE])
    page = client_for(Role.ONBOARDING).get("/customers/")
    assert "graph-migration-banner" not in page.content.decode()


def test_the_customers_list_marks_each_legacy_customer(fleet: dict[str, Customer]) -> None:
    html = client_for(Role.ONBOARDING).get("/customers/").content.decode()
    rows = {name: html.split(customer.display_name, 1)[1].split("</tr>", 1)[0]
            for name, customer in fleet.items() if name != "offboarded"}  # fmt: skip
    marked = {name for name, row in rows.items() if "legacy API, stops 1 Feb 2027" in row}
    assert marked == {"legacy", "legacy_missing"}


def test_a_legacy_customers_page_says_what_to_do(fleet: dict[str, Customer]) -> None:
    client = client_for(Role.ONBOARDING)
    legacy = client.get(f"/customers/{fleet['legacy'].pk}/").content.decode()
    on_graph = client.get(f"/customers/{fleet['graph'].pk}/").content.decode()
    assert 'id="legacy-api"' in legacy and "ask the customer's admin to consent again" in legacy
    assert 'id="legacy-api"' not in on_graph


def test_tenant_health_marks_each_legacy_customer(fleet: dict[str, Customer]) -> None:
    html = client_for(Role.ONBOARDING, Role.ANALYST).get("/health/").content.decode()
    marked = {
        name
        for name, customer in fleet.items()
        if f'data-customer-id="{customer.pk}"' in html
        and "legacy API"
        in html.split(f'data-customer-id="{customer.pk}"', 1)[1].split("</tr>", 1)[0]
    }
    assert marked == {"legacy", "legacy_missing"}


def test_staff_email_every_legacy_customer_a_new_link_in_one_action(
    fleet: dict[str, Customer], mailoutbox: list[Any]
) -> None:
    Customer.objects.filter(pk=fleet["legacy"].pk).update(contact_email="it@legacy.example")
    Customer.objects.filter(pk=fleet["legacy_missing"].pk).update(contact_email="")
    client = client_for(Role.ONBOARDING)

    answer = client.post("/customers/reconsent-email/", follow=True)

    assert answer.status_code == 200
    assert [m.to for m in mailoutbox] == [["it@legacy.example"]]
    link = fleet["legacy"].consents.get(outcome="pending")
    assert f"/consent/{link.public_id}/" in mailoutbox[0].body
    page = answer.content.decode()
    assert "New consent link e-mailed to 1 customer(s): Legacy One." in page
    assert "No contact e-mail address" in page and "Legacy Two" in page
    # The customer without an address gets nothing; those on Graph are left alone.
    assert not fleet["legacy_missing"].consents.exists()
    assert not fleet["graph"].consents.exists()
    assert (
        AuditEvent.objects.filter(
            customer=fleet["legacy"], action__in=["consent.link_created", "consent.link_emailed"]
        ).count()
        == 2
    )


def test_a_mail_server_that_is_down_is_said_in_words_and_the_link_is_kept(
    fleet: dict[str, Customer], settings: Any
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens there
    Customer.objects.filter(pk=fleet["legacy"].pk).update(contact_email="it@legacy.example")

    answer = client_for(Role.ONBOARDING).post("/customers/reconsent-email/", follow=True)

    assert answer.status_code == 200
    assert "Legacy One: the link was made but not sent (the mail server could not be reached)" in (
        answer.content.decode()
    )
    assert fleet["legacy"].consents.filter(outcome="pending").exists()


def test_the_customers_list_offers_the_action_only_while_some_are_on_the_legacy_api() -> None:
    client = client_for(Role.ONBOARDING)
    verified(granted_roles=[GRAPH_ALERT_READWRITE])
    assert 'id="reconsent-email"' not in client.get("/customers/").content.decode()
    cache.clear()
    verified(granted_roles=LEGACY_ROLES)
    assert 'id="reconsent-email"' in client.get("/customers/").content.decode()
