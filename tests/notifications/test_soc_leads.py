"""SOC leads: analysts who may also change routing policies and suppression rules, for the
customers of their scope. A lead scoped to some customers changes only what names those
customers alone (no tag, not "every customer"); a lead who sees every customer changes
anything an admin can. Channels, tags and SLA goals stay with portal admins."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.core.access import Role, user_roles
from partner_portal.notifications.models import Policy, SuppressionRule
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.factories import UserFactory
from tests.notifications.factories import (
    ChannelFactory,
    CustomerTagFactory,
    PolicyFactory,
    SuppressionRuleFactory,
)
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world() -> dict[str, Any]:
    mine = CustomerFactory(display_name="Contoso")
    theirs = CustomerFactory(display_name="Northwind")
    lead = UserFactory(username="lead", roles=[Role.SOC_LEAD])
    AnalystScopeFactory(user=lead, customer=mine)
    client = Client()
    client.force_login(lead)
    return {"mine": mine, "theirs": theirs, "lead": lead, "client": client}


def rule_form(**fields: Any) -> dict[str, Any]:
    return {"reason": "Pen test this week", "days": "7", "action": "mute", **fields}


def policy_form(channel: Any, **fields: Any) -> dict[str, Any]:
    return {
        "name": "Lead's policy", "enabled": "on", "channels": [channel.pk], "group_by": "alert",
        "group_wait_seconds": "0", "repeat_interval_seconds": "3600", **fields,
    }  # fmt: skip


def test_the_role_exists_and_a_lead_is_an_analyst(world: dict[str, Any]) -> None:
    assert Group.objects.filter(name="SOC leads").exists()
    assert user_roles(world["lead"]) == {Role.SOC_LEAD, Role.ANALYST}


def test_a_lead_makes_a_rule_for_a_customer_in_scope(world: dict[str, Any]) -> None:
    client, mine = world["client"], world["mine"]
    form = client.get(reverse("notifications:suppression_create")).content.decode()
    assert "Contoso" in form and "Northwind" not in form
    response = client.post(
        reverse("notifications:suppression_create"), rule_form(customers=[mine.pk])
    )
    assert response.status_code == 302
    rule = SuppressionRule.objects.get()
    assert rule.owner == world["lead"] and list(rule.customers.all()) == [mine]
    ended = client.post(reverse("notifications:suppression_end", args=[rule.pk]))
    assert ended.status_code == 302


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({}, "Without customers named, this would cover every customer"),
        ({"customers": "theirs"}, "Select a valid choice"),
        ({"customers": "mine", "tags": "gold"}, "Select a valid choice"),
    ],
)
def test_a_scoped_lead_cannot_reach_other_customers(
    world: dict[str, Any], fields: dict[str, str], error: str
) -> None:
    gold = CustomerTagFactory(name="Gold")
    values = {"mine": world["mine"].pk, "theirs": world["theirs"].pk, "gold": gold.pk}
    data = rule_form(**{name: [values[value]] for name, value in fields.items()})
    response = world["client"].post(reverse("notifications:suppression_create"), data)
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not SuppressionRule.objects.exists()


def test_a_scoped_lead_cannot_change_or_end_a_rule_that_reaches_another_customer(
    world: dict[str, Any],
) -> None:
    shared = SuppressionRuleFactory(customers=[world["mine"], world["theirs"]])
    everyone = SuppressionRuleFactory()
    client = world["client"]
    for rule in (shared, everyone):
        edit = client.get(reverse("notifications:suppression_edit", args=[rule.pk]))
        assert edit.status_code == 403
        end = client.post(reverse("notifications:suppression_end", args=[rule.pk]))
        assert end.status_code == 403
        rule.refresh_from_db()
        assert rule.expires_at > timezone.now()


def test_a_lead_who_sees_every_customer_makes_a_rule_for_all(world: dict[str, Any]) -> None:
    lead = UserFactory(username="lead-all", roles=[Role.SOC_LEAD])
    AnalystScopeFactory(user=lead, all_customers=True)
    client = Client()
    client.force_login(lead)
    response = client.post(reverse("notifications:suppression_create"), rule_form())
    assert response.status_code == 302


def test_a_lead_changes_policies_in_scope_but_not_channels_tags_or_sla_goals(
    world: dict[str, Any],
) -> None:
    client, mine = world["client"], world["mine"]
    channel = ChannelFactory()
    response = client.post(
        reverse("notifications:policy_create"), policy_form(channel, customers=[mine.pk])
    )
    assert response.status_code == 302
    policy = Policy.objects.get(name="Lead's policy")
    move = client.post(reverse("notifications:policy_move", args=[policy.pk]), {"direction": "up"})
    assert move.status_code == 302
    for_all = client.post(reverse("notifications:policy_create"), policy_form(channel, name="All"))
    assert for_all.status_code == 400
    everyone = PolicyFactory(name="Everyone", channels=[channel])
    assert client.get(reverse("notifications:policy_edit", args=[everyone.pk])).status_code == 403
    moved = client.post(reverse("notifications:policy_move", args=[everyone.pk]))
    assert moved.status_code == 403
    assert client.get(reverse("notifications:channel_create")).status_code == 403
    assert client.post(reverse("notifications:tag_create"), {"name": "x"}).status_code == 403
    sla = client.post(reverse("notifications:sla_goal_save"), {"severity": "High"})
    assert sla.status_code == 403


def test_an_analyst_who_is_not_a_lead_still_only_reads(world: dict[str, Any]) -> None:
    analyst = UserFactory(username="plain", roles=[Role.ANALYST])
    AnalystScopeFactory(user=analyst, customer=world["mine"])
    client = Client()
    client.force_login(analyst)
    assert client.get(reverse("notifications:suppression_create")).status_code == 403
    assert client.get(reverse("notifications:policy_create")).status_code == 403


def test_the_alert_page_offers_a_lead_to_suppress_alerts_like_it(world: dict[str, Any]) -> None:
    alert = AlertFactory(customer=world["mine"], created_at=timezone.now())
    page = world["client"].get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    assert 'id="suppress-link"' in page


def test_the_people_page_offers_the_role(admin_client_portal: Client) -> None:
    page = admin_client_portal.get(reverse("tenants:person_create")).content.decode()
    assert 'value="SOC leads"' in page
    assert "change routing policies and suppression rules" in page


def test_a_lead_of_every_customer_sets_sla_goals_and_a_scoped_one_is_told_why_not(
    world: dict[str, Any],
) -> None:
    from partner_portal.notifications.models import SlaGoal

    form = {"severity": "High", "acknowledge_minutes": "15", "resolve_minutes": "240"}
    scoped = world["client"].post(reverse("notifications:sla_goal_save"), form)
    assert scoped.status_code == 403
    assert "only a SOC lead of every customer" in scoped.content.decode()
    assert "sla_goal_save" not in world["client"].get(reverse("notifications:sla")).content.decode()

    lead = UserFactory(username="lead-every", roles=[Role.SOC_LEAD])
    AnalystScopeFactory(user=lead, all_customers=True)
    client = Client()
    client.force_login(lead)
    assert (
        'action="/notifications/sla/goals/"'
        in client.get(reverse("notifications:sla")).content.decode()
    )
    assert client.post(reverse("notifications:sla_goal_save"), form).status_code == 302
    goal = SlaGoal.objects.get()
    delete = client.post(reverse("notifications:sla_goal_delete", args=[goal.pk]))
    assert delete.status_code == 302 and not SlaGoal.objects.exists()
