"""SLA timers: goals per severity for a tag or all customers (the strictest tag wins),
clocks from Defender's creation time to the first acknowledgement (recorded when a sync
first stores it) and to resolution, shown on the alert's page and on the SLA page with
the last 30 days' breaches, cut to the reader's customers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.defender import parse_alert
from partner_portal.notifications import sla
from partner_portal.notifications.models import AlertAcknowledgement, SlaGoal
from tenants.models import AuditEvent, Customer
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.notifications.factories import (
    AlertAcknowledgementFactory,
    CustomerTagFactory,
    SlaGoalFactory,
)
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


def ago(minutes: float) -> Any:
    return timezone.now() - timedelta(minutes=minutes)


def test_an_admin_sets_goals_and_each_change_is_audited(admin_client_portal: Client) -> None:
    gold = CustomerTagFactory(name="Gold")
    url = reverse("notifications:sla_goal_save")
    form = {"tag": gold.pk, "severity": "High", "acknowledge_minutes": "15",
            "resolve_minutes": "240"}  # fmt: skip
    assert admin_client_portal.post(url, form).status_code == 302
    assert admin_client_portal.post(url, {**form, "acknowledge_minutes": "10"}).status_code == 302
    goal = SlaGoal.objects.get()
    assert (goal.tag, goal.acknowledge_minutes, goal.resolve_minutes) == (gold, 10, 240)
    assert AuditEvent.objects.filter(action="notifications.sla_goal_set").count() == 2

    empty = admin_client_portal.post(url, {"severity": "High"})
    assert empty.status_code == 400
    assert "Give a time to acknowledge, a time to resolve, or both." in empty.content.decode()
    page = admin_client_portal.get(reverse("notifications:sla")).content.decode()
    assert "Tagged Gold" in page and "10 min" in page

    delete = reverse("notifications:sla_goal_delete", args=[goal.pk])
    assert admin_client_portal.post(delete).status_code == 302
    assert not SlaGoal.objects.exists()
    assert AuditEvent.objects.filter(action="notifications.sla_goal_removed").exists()


def test_the_strictest_tagged_goal_wins_and_untagged_customers_get_the_default(
    customer: Customer,
) -> None:
    gold, eu = CustomerTagFactory(name="Gold"), CustomerTagFactory(name="EU")
    gold.customers.add(customer)
    eu.customers.add(customer)
    SlaGoalFactory(tag=gold, acknowledge_minutes=30, resolve_minutes=None)
    SlaGoalFactory(tag=eu, acknowledge_minutes=60, resolve_minutes=120)
    SlaGoalFactory(tag=None, acknowledge_minutes=240, resolve_minutes=1440)
    plain = CustomerFactory(display_name="Northwind")

    goals = sla.goals_for([customer.pk, plain.pk])
    assert goals[customer.pk]["High"] == sla.Goal(timedelta(minutes=30), timedelta(minutes=120))
    assert goals[plain.pk]["High"] == sla.Goal(timedelta(minutes=240), timedelta(minutes=1440))
    assert "Low" not in goals[plain.pk]


def test_the_first_stored_acknowledgement_is_kept_with_defenders_time(customer: Customer) -> None:
    def version(status: str, updated: Any, **fields: Any) -> Any:
        return parse_alert(
            {"id": "da-sla", "title": "PowerShell", "severity": "High", "status": status,
             "alertCreationTime": ago(30).isoformat(), "lastUpdateTime": updated.isoformat(),
             **fields}
        )  # fmt: skip

    alerts_upsert(customer_id=customer.pk, records=[version("New", ago(29))])
    assert not AlertAcknowledgement.objects.exists()
    acknowledged = ago(20)
    alerts_upsert(customer_id=customer.pk, records=[version("InProgress", acknowledged)])
    alerts_upsert(customer_id=customer.pk, records=[version("InProgress", ago(5), assignedTo="x")])
    recorded = AlertAcknowledgement.objects.get(customer=customer, alert_id="da-sla")
    assert abs((recorded.acknowledged_at - acknowledged).total_seconds()) < 1


def test_the_alert_page_shows_the_timers_running_breached_and_met(
    customer: Customer, admin_client_portal: Client
) -> None:
    SlaGoalFactory(severity="High", acknowledge_minutes=15, resolve_minutes=240)
    late = AlertFactory(customer=customer, severity="High", status="New", created_at=ago(20))
    page = admin_client_portal.get(reverse("alerts:detail", args=[late.pk])).content.decode()
    assert 'id="sla-timers"' in page
    assert 'data-sla="acknowledge" data-breached="yes">breached 5 min ago' in page
    assert 'data-sla="resolve" data-breached="no">due in 3 h 40 min' in page

    quick = AlertFactory(customer=customer, severity="High", status="InProgress",
                         created_at=ago(20))  # fmt: skip
    AlertAcknowledgementFactory(customer=customer, alert_id=quick.alert_id, acknowledged_at=ago(18))
    page = admin_client_portal.get(reverse("alerts:detail", args=[quick.pk])).content.decode()
    assert 'data-sla="acknowledge" data-breached="no">met' in page

    low = AlertFactory(customer=customer, severity="Low", created_at=ago(20))
    page = admin_client_portal.get(reverse("alerts:detail", args=[low.pk])).content.decode()
    assert 'id="sla-timers"' not in page


def test_the_sla_page_shows_open_timers_and_breaches_per_customer_in_scope(
    customer: Customer, analyst: Any, analyst_client: Client
) -> None:
    AnalystScopeFactory(user=analyst, customer=customer)
    hidden = CustomerFactory(display_name="Qz7Hidden")
    SlaGoalFactory(severity="High", acknowledge_minutes=15, resolve_minutes=240)
    AlertFactory(customer=customer, title="Overdue one", severity="High", created_at=ago(60))
    AlertFactory(customer=customer, title="Fresh one", severity="High", created_at=ago(5))
    AlertFactory(
        customer=customer, title="Resolved late", severity="High", status="Resolved",
        created_at=ago(60 * 24 * 3), resolved_at=ago(60 * 24 * 2), assigned_to="sam",
    )  # fmt: skip
    AlertFactory(
        customer=customer, title="Resolved long ago", severity="High", status="Resolved",
        created_at=ago(60 * 24 * 40), resolved_at=ago(60 * 24 * 39),
    )  # fmt: skip
    AlertFactory(customer=hidden, title="Qz7HiddenAlert", severity="High", created_at=ago(60))

    page = analyst_client.get(reverse("notifications:sla")).content.decode()
    assert "Qz7Hidden" not in page
    section = page[page.index(f'data-customer-id="{customer.pk}"') :]
    assert '<span class="open-count">2</span>' in section
    assert '<span class="open-breached">1</span>' in section
    assert '<span class="breached-30d">2</span> of 3 alerts' in section
    assert section.index("Overdue one") < section.index("Fresh one")
    assert "Acknowledge: breached 45 min ago" in section
    assert "Acknowledge: due in 10 min" in section
    # Analysts read the goals but cannot set them.
    assert 'id="sla-goal-form"' not in page
    form = {"severity": "High", "acknowledge_minutes": "1"}
    assert analyst_client.post(reverse("notifications:sla_goal_save"), form).status_code == 403
