"""The monthly SLA report, against a month built by hand: which alerts count, in time or
breached per clock, the shares, the CSV (formula-safe) and the analyst's scope; and the
business hours of a goal counted in the customer's own time zone."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.urls import reverse

from partner_portal.notifications import sla
from partner_portal.notifications.models import SlaGoal
from tenants.models import Customer
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.notifications.factories import AlertAcknowledgementFactory, SlaGoalFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


def oct(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def alert(
    customer: Customer, created: datetime, *, acked: datetime | None = None, **fields: Any
) -> Any:
    made = AlertFactory(customer=customer, created_at=created, **{"severity": "High", **fields})
    if acked is not None:
        AlertAcknowledgementFactory(
            customer=customer, alert_id=made.alert_id, acknowledged_at=acked
        )
    return made


@pytest.fixture
def october(customer: Customer) -> Customer:
    """Contoso's October: goal High, acknowledge in 60 min, resolve in 240 min."""
    SlaGoalFactory(severity="High", acknowledge_minutes=60, resolve_minutes=240)
    # Acknowledged in 30 min, resolved in 2 h: both in time.
    alert(customer, oct(5, 10), acked=oct(5, 10, 30), status="Resolved",
          resolved_at=oct(5, 12), assigned_to="sam")  # fmt: skip
    # Acknowledged after 2 h, resolved after 10 h: both breached.
    alert(customer, oct(6, 10), acked=oct(6, 12), status="Resolved", resolved_at=oct(6, 20))
    # Never acknowledged, never resolved: both still running, long past due.
    alert(customer, oct(7, 10), status="New")
    # Acknowledged in 10 min, never resolved: one in time, one breached.
    alert(customer, oct(31, 23), acked=oct(31, 23, 10), status="InProgress")
    # Not counted: a severity without a goal, and alerts of September and November.
    alert(customer, oct(8, 10), severity="Low")
    alert(customer, datetime(2026, 9, 30, 23, 59, tzinfo=UTC))
    alert(customer, datetime(2026, 11, 1, 0, 0, tzinfo=UTC))
    return customer


def test_the_month_counts_each_clock_in_time_or_breached(
    october: Customer, admin_client_portal: Client
) -> None:
    page = admin_client_portal.get(reverse("notifications:sla_report"), {"month": "2026-10"})
    assert page.status_code == 200
    html = page.content.decode()
    row = html[html.index(f'data-customer-id="{october.pk}"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="alerts">4</td>' in row
    assert '<td class="ack-in-time">2</td>' in row and '<td class="ack-breached">2</td>' in row
    assert '<td class="ack-percent">50.0 %</td>' in row
    assert '<td class="res-in-time">1</td>' in row and '<td class="res-breached">3</td>' in row
    assert '<td class="res-percent">25.0 %</td>' in row


def test_the_csv_has_the_same_figures_and_defuses_formulas(
    october: Customer, admin_client_portal: Client
) -> None:
    Customer.objects.filter(pk=october.pk).update(display_name="=HYPERLINK(evil)")
    response = admin_client_portal.get(
        reverse("notifications:sla_report_csv"), {"month": "2026-10"}
    )
    assert response.status_code == 200
    assert 'filename="sla-report-2026-10-' in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()  # type: ignore[attr-defined]
    rows = {r["customer"]: r for r in csv.DictReader(io.StringIO(text))}
    mine = rows["'=HYPERLINK(evil)"]
    assert (mine["month"], mine["alerts_with_goal"]) == ("2026-10", "4")
    assert (mine["acknowledged_in_time"], mine["acknowledge_breached"]) == ("2", "2")
    assert (mine["resolved_in_time"], mine["resolve_breached"]) == ("1", "3")
    assert (mine["acknowledged_in_time_percent"], mine["resolved_in_time_percent"]) == (
        "50.0",
        "25.0",
    )


def test_an_analyst_sees_only_their_customers(
    october: Customer, analyst: Any, analyst_client: Client
) -> None:
    AnalystScopeFactory(user=analyst, customer=october)
    hidden = CustomerFactory(display_name="Qz7Hidden")
    alert(hidden, oct(9, 10))
    page = analyst_client.get(reverse("notifications:sla_report"), {"month": "2026-10"})
    html = page.content.decode()
    assert f'data-customer-id="{october.pk}"' in html
    assert "Qz7Hidden" not in html and f'data-customer-id="{hidden.pk}"' not in html
    exported = analyst_client.get(reverse("notifications:sla_report_csv"), {"month": "2026-10"})
    text = b"".join(exported.streaming_content).decode()  # type: ignore[attr-defined]
    assert "Qz7Hidden" not in text and "Contoso" in text


def test_a_month_that_is_not_one_is_refused_in_words(admin_client_portal: Client) -> None:
    for bad in ("2026-13", "October", "2026-1x", "99999-01"):
        page = admin_client_portal.get(reverse("notifications:sla_report"), {"month": bad})
        assert page.status_code == 400
        assert f"“{bad}” is not a month like 2026-11." in page.content.decode()


def test_business_hours_count_in_the_customers_time_zone(customer: Customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(time_zone="America/New_York")
    SlaGoalFactory(severity="High", acknowledge_minutes=60, resolve_minutes=None,
                   business_days=[0, 1, 2, 3, 4], start_hour=9, end_hour=17)  # fmt: skip
    new_york = ZoneInfo("America/New_York")
    # Friday 27 November 2026, 16:30 in New York: 30 minutes that day, 30 on Monday.
    friday = datetime(2026, 11, 27, 16, 30, tzinfo=new_york)
    made = alert(customer, friday)
    (timer,) = sla.alert_timers(made)
    assert timer.due_at == datetime(2026, 11, 30, 9, 30, tzinfo=new_york)
    # In UTC business hours the same alert would have been due on Friday.
    Customer.objects.filter(pk=customer.pk).update(time_zone="UTC")
    (timer,) = sla.alert_timers(made)
    assert timer.due_at == datetime(2026, 11, 30, 10, 0, tzinfo=UTC)
    assert timer.due_at - friday > timedelta(hours=48)


def test_staff_set_the_customers_time_zone_on_its_edit_form(
    customer: Customer, staff_client: Client
) -> None:
    staff = staff_client
    url = reverse("tenants:customer_edit", args=[customer.pk])
    page = staff.get(url).content.decode()
    assert '<option value="Europe/Paris">' in page
    form = {"display_name": "Contoso", "cloud": "commercial", "collect_alerts": "on",
            "sync_interval_seconds": "60", "time_zone": "Europe/Paris"}  # fmt: skip
    assert staff.post(url, form).status_code == 302
    customer.refresh_from_db()
    assert customer.time_zone == "Europe/Paris"
    bad = staff.post(url, {**form, "time_zone": "Mars/Olympus"})
    assert bad.status_code == 200 and "Select a valid choice" in bad.content.decode()


def test_an_admin_sets_business_hours_holidays_and_a_warning_on_a_goal(
    admin_client_portal: Client,
) -> None:
    url = reverse("notifications:sla_goal_save")
    form = {"severity": "High", "acknowledge_minutes": "60", "business_days": ["0", "1", "2",
            "3", "4"], "start_hour": "8", "end_hour": "18",
            "holidays": "2026-12-25, 2026-12-26", "warn_percent": "80"}  # fmt: skip
    assert admin_client_portal.post(url, form).status_code == 302
    goal = SlaGoal.objects.get()
    assert (goal.business_days, goal.start_hour, goal.end_hour) == ([0, 1, 2, 3, 4], 8, 18)
    assert (goal.holidays, goal.warn_fraction) == (["2026-12-25", "2026-12-26"], 0.8)
    page = admin_client_portal.get(reverse("notifications:sla")).content.decode()
    assert "Mon, Tue, Wed, Thu, Fri 08:00-18:00, 2 holiday(s)" in page
    assert "at 80 %" in page

    bad = admin_client_portal.post(url, {**form, "holidays": "25/12"})
    assert bad.status_code == 400 and "“25/12” is not a date like 2026-12-25." in (
        bad.content.decode()
    )
    backwards = admin_client_portal.post(url, {**form, "start_hour": "18", "end_hour": "8"})
    assert backwards.status_code == 400
    assert "Business hours must end after they start." in backwards.content.decode()
