"""Portal admins grant and revoke analyst scopes; the scope decides what analysts see."""

from __future__ import annotations

import pytest
from django.test import Client

from partner_portal.core.access import Role
from tenants.models import AnalystScope, AuditEvent
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.factories import GroupFactory, UserFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


def test_admin_grants_one_customer_to_an_analyst_who_then_sees_it(
    admin_client_portal: Client, analyst: object, analyst_client: Client
) -> None:
    customer = CustomerFactory(display_name="Contoso")
    alert = AlertFactory(customer=customer)
    assert analyst_client.get(f"/alerts/{alert.pk}/").status_code == 404
    response = admin_client_portal.post(
        "/scopes/",
        {"user": analyst.pk, "customer": customer.pk},  # type: ignore[attr-defined]
    )
    assert response.status_code == 302
    assert AnalystScope.objects.filter(user=analyst, customer=customer).exists()
    assert analyst_client.get(f"/alerts/{alert.pk}/").status_code == 200
    event = AuditEvent.objects.get(action="scope.granted")
    assert event.customer == customer and "analyst" in event.summary


def test_all_customers_is_an_explicit_grant_to_a_group(
    admin_client_portal: Client,
) -> None:
    team = GroupFactory(name="Tier 2")
    member = UserFactory(username="t2", roles=[Role.ANALYST])
    member.groups.add(team)
    alert = AlertFactory(customer=CustomerFactory(display_name="Anyone"))
    client = Client()
    client.force_login(member)
    assert client.get(f"/alerts/{alert.pk}/").status_code == 404
    admin_client_portal.post("/scopes/", {"group": team.pk, "all_customers": "on"})
    assert AnalystScope.objects.get(group=team).all_customers
    assert client.get(f"/alerts/{alert.pk}/").status_code == 200


def test_revoking_takes_the_customer_away_and_is_audited(
    admin_client_portal: Client, analyst: object, analyst_client: Client
) -> None:
    customer = CustomerFactory(display_name="Contoso")
    alert = AlertFactory(customer=customer)
    scope = AnalystScopeFactory(user=analyst, customer=customer)
    assert analyst_client.get(f"/alerts/{alert.pk}/").status_code == 200
    response = admin_client_portal.post(f"/scopes/{scope.pk}/revoke/")
    assert response.status_code == 302
    assert not AnalystScope.objects.exists()
    assert analyst_client.get(f"/alerts/{alert.pk}/").status_code == 404
    assert AuditEvent.objects.filter(action="scope.revoked", customer=customer).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"customer": "C"}, "Choose either a user or a group."),
        ({"user": "U", "group": "G", "customer": "C"}, "Choose either a user or a group."),
        ({"user": "U"}, "Choose either one customer or"),
        ({"user": "U", "customer": "C", "all_customers": "on"}, "Choose either one customer or"),
    ],
)
def test_a_grant_must_name_one_who_and_one_what(
    admin_client_portal: Client, analyst: object, data: dict, message: str
) -> None:
    customer = CustomerFactory()
    group = GroupFactory(name="Team")
    ids = {"U": analyst.pk, "G": group.pk, "C": customer.pk}  # type: ignore[attr-defined]
    posted = {key: ids.get(value, value) for key, value in data.items()}
    response = admin_client_portal.post("/scopes/", posted)
    assert response.status_code == 400
    assert message in response.content.decode()
    assert not AnalystScope.objects.exists()


def test_the_same_grant_twice_is_refused(admin_client_portal: Client, analyst: object) -> None:
    customer = CustomerFactory()
    AnalystScopeFactory(user=analyst, customer=customer)
    response = admin_client_portal.post(
        "/scopes/",
        {"user": analyst.pk, "customer": customer.pk},  # type: ignore[attr-defined]
    )
    assert response.status_code == 400
    assert "already in place" in response.content.decode()
    assert AnalystScope.objects.count() == 1


def test_only_portal_admins_manage_scopes(
    analyst_client: Client, staff_client: Client, admin_client_portal: Client
) -> None:
    assert analyst_client.get("/scopes/").status_code == 403
    assert staff_client.get("/scopes/").status_code == 403
    page = admin_client_portal.get("/scopes/").content.decode()
    assert 'href="/scopes/"' in page  # the admins' navigation names it


def test_scopes_are_registered_in_the_django_admin() -> None:
    from django.contrib import admin

    assert admin.site.is_registered(AnalystScope)
