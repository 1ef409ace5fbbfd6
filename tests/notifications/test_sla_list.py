"""The SLA timer in the alert list: each open alert with a running clock shows the one
due first, breached or not; acknowledged clocks and resolved alerts show none; the live
update's rows carry it too; and the page's reads do not grow with its rows."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from tenants.models import Customer
from tests.alerts.factories import AlertFactory
from tests.notifications.factories import AlertAcknowledgementFactory, SlaGoalFactory

pytestmark = pytest.mark.django_db


def ago(minutes: float) -> Any:
    return timezone.now() - timedelta(minutes=minutes)


def row_of(page: str, pk: int) -> str:
    row = page[page.index(f'<tr data-alert-id="{pk}"') :]
    return row[: row.index("</tr>")]


def test_open_alerts_show_the_clock_due_first(
    customer: Customer, admin_client_portal: Client
) -> None:
    SlaGoalFactory(severity="High", acknowledge_minutes=15, resolve_minutes=240)
    late = AlertFactory(customer=customer, severity="High", status="New", created_at=ago(20))
    fresh = AlertFactory(customer=customer, severity="High", status="New", created_at=ago(3))
    taken = AlertFactory(customer=customer, severity="High", status="InProgress",
                         assigned_to="sam", created_at=ago(20))  # fmt: skip
    recorded = AlertFactory(customer=customer, severity="High", status="New", created_at=ago(20))
    AlertAcknowledgementFactory(
        customer=customer, alert_id=recorded.alert_id, acknowledged_at=ago(19)
    )
    done = AlertFactory(customer=customer, severity="High", status="Resolved", created_at=ago(20))
    no_goal = AlertFactory(customer=customer, severity="Low", status="New", created_at=ago(20))

    page = admin_client_portal.get(reverse("alerts:list") + "?status=all").content.decode()
    assert (
        '<span class="sub sla-timer sla-breached" data-sla="acknowledge" data-breached="yes">'
        "SLA: breached 5 min ago</span>" in row_of(page, late.pk)
    )
    assert 'data-breached="no">SLA: due in 12 min</span>' in row_of(page, fresh.pk)
    assert 'data-sla="resolve" data-breached="no">SLA: due in 3 h 40 min' in row_of(page, taken.pk)
    assert 'data-sla="resolve"' in row_of(page, recorded.pk)
    assert "sla-timer" not in row_of(page, done.pk)
    assert "sla-timer" not in row_of(page, no_goal.pk)


def test_the_live_rows_carry_the_timer(customer: Customer, admin_client_portal: Client) -> None:
    SlaGoalFactory(severity="High", acknowledge_minutes=15, resolve_minutes=None)
    newer = AlertFactory(customer=customer, severity="High", status="New", created_at=ago(1))
    answer = admin_client_portal.get(reverse("alerts:live"), {"since_id": newer.pk - 1}).json()
    assert "SLA: due in 14 min" in answer["rows_html"]


def test_the_timers_cost_the_same_reads_for_few_rows_or_many(
    customer: Customer, admin_client_portal: Client
) -> None:
    SlaGoalFactory(severity="High", acknowledge_minutes=15, resolve_minutes=240)

    def reads() -> int:
        with CaptureQueriesContext(connection) as queries:
            page = admin_client_portal.get(reverse("alerts:list"))
        assert page.status_code == 200
        return len(queries)

    AlertFactory.create_batch(2, customer=customer, severity="High", status="New")
    few = reads()
    AlertFactory.create_batch(30, customer=customer, severity="High", status="New")
    assert reads() == few
