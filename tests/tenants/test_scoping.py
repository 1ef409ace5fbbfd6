"""The analyst scoping rule itself (`tenants.scoping`), below the pages that use it."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser

from partner_portal.core.access import Role
from tenants import scoping
from tenants.models import AnalystScope, AuditEvent
from tests.factories import GroupFactory, UserFactory
from tests.tenants.factories import AnalystScopeFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def _names(user: Any) -> list[str]:
    return list(scoping.visible_customers(user=user).values_list("display_name", flat=True))


@pytest.fixture
def customers() -> dict[str, Any]:
    return {name: CustomerFactory(display_name=name) for name in ("Alpha", "Bravo", "Charlie")}


def test_grants_reach_an_analyst_directly_and_through_groups(
    customers: dict[str, Any], analyst: Any
) -> None:
    team = GroupFactory(name="Night shift")
    analyst.groups.add(team)
    AnalystScopeFactory(user=analyst, customer=customers["Charlie"])
    AnalystScopeFactory(group=team, customer=customers["Alpha"])
    assert _names(analyst) == ["Alpha", "Charlie"]
    assert not scoping.sees_all_customers(analyst)


def test_only_admins_and_an_explicit_grant_see_every_customer(
    customers: dict[str, Any], analyst: Any, portal_admin: Any
) -> None:
    assert _names(portal_admin) == ["Alpha", "Bravo", "Charlie"]
    assert _names(analyst) == []
    AnalystScopeFactory(user=analyst, all_customers=True)
    fresh = type(analyst).objects.get(pk=analyst.pk)  # the next request's user
    assert _names(fresh) == ["Alpha", "Bravo", "Charlie"]


@pytest.mark.parametrize("who", ["anonymous", "staff", "no role"])
def test_people_who_are_not_analysts_see_no_customer(customers: dict[str, Any], who: str) -> None:
    user: Any = AnonymousUser()
    if who != "anonymous":
        user = UserFactory(roles=[Role.ONBOARDING] if who == "staff" else [])
        # A grant alone does not make an analyst.
        AnalystScopeFactory(user=user, all_customers=True)
    assert _names(user) == []


def test_the_all_customers_answer_is_asked_once_per_user_object(
    customers: dict[str, Any], analyst: Any, django_assert_num_queries: Any
) -> None:
    scoping.sees_all_customers(analyst)
    with django_assert_num_queries(0):
        assert not scoping.sees_all_customers(analyst)


def test_grant_and_revoke_write_their_audit_events(
    customers: dict[str, Any], analyst: Any, portal_admin: Any
) -> None:
    scope = scoping.scope_grant(
        user=analyst, customer=customers["Bravo"], granted_by=portal_admin, ip_address="10.0.0.9"
    )
    with pytest.raises(scoping.ScopeExists):
        scoping.scope_grant(user=analyst, customer=customers["Bravo"], granted_by=portal_admin)
    scoping.scope_revoke(scope=scope, revoked_by=portal_admin)
    events = AuditEvent.objects.order_by("id")
    assert [(e.action, e.customer_name, e.actor) for e in events] == [
        ("scope.granted", "Bravo", portal_admin),
        ("scope.revoked", "Bravo", portal_admin),
    ]
    assert events[0].ip_address == "10.0.0.9"
    assert list(scoping.scope_list()) == []


def test_a_grant_whose_audit_fails_is_not_kept(
    customers: dict[str, Any], analyst: Any, portal_admin: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(**kwargs: Any) -> None:
        raise RuntimeError("audit store down")

    monkeypatch.setattr(scoping, "audit_record", broken)
    with pytest.raises(RuntimeError):
        scoping.scope_grant(user=analyst, customer=customers["Alpha"], granted_by=portal_admin)
    assert not AnalystScope.objects.exists()
