"""One time format everywhere: 24-hour with seconds and the zone, and a relative age with
the exact moment in the title."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.test import Client
from django.utils import timezone

from partner_portal.core.times import format_age, format_moment
from tests.alerts.factories import AlertFactory
from tests.tenants.factories import AnalystScopeFactory, AuditEventFactory, ConsentRequestFactory

MOMENT = datetime(2026, 11, 30, 7, 44, 5, tzinfo=UTC)


def test_a_moment_is_24_hour_with_seconds_and_its_zone() -> None:
    assert format_moment(MOMENT) == "2026-11-30 07:44:05 UTC"
    assert format_moment(MOMENT.replace(hour=19)) == "2026-11-30 19:44:05 UTC"
    assert format_moment("2026-11-30T07:44:05Z") == "2026-11-30 07:44:05 UTC"
    assert format_moment(None) == ""


@pytest.mark.parametrize(
    ("ago", "words"),
    [
        (timedelta(seconds=2), "just now"),
        (timedelta(seconds=40), "40 s ago"),
        (timedelta(minutes=12, seconds=30), "12 min ago"),
        (timedelta(hours=3), "3 h ago"),
        (timedelta(days=5), "5 days ago"),
        (-timedelta(minutes=12), "in 12 min"),
    ],
)
def test_an_age_is_said_in_the_largest_unit_that_fits(ago: timedelta, words: str) -> None:
    assert format_age(MOMENT - ago, now=MOMENT) == words


def test_the_template_filters_show_the_moment_and_the_age_with_the_moment_as_title() -> None:
    html = Template("{% load times %}{{ t|when }}|{{ t|age }}|{{ none|when|default:'never' }}")
    out = html.render(Context({"t": timezone.now() - timedelta(minutes=12, seconds=3)}))
    exact, relative, missing = out.split("|")
    assert exact.startswith("<time datetime=") and " UTC</time>" in exact
    assert ">12 min ago</time>" in relative and 'title="' in relative
    assert missing == "never"


def test_an_unfiltered_datetime_also_renders_in_the_one_format() -> None:
    assert Template("{{ t }}").render(Context({"t": MOMENT})) == "2026-11-30 07:44:05 UTC"


@pytest.mark.django_db
def test_audit_log_and_customer_page_show_seconds_and_zone_and_no_double_period(
    staff_client: Client, admin_client_portal: Client
) -> None:
    customer = ConsentRequestFactory().customer
    AuditEventFactory(actor_label="sam", action="customer.created", customer=customer)
    audit = admin_client_portal.get("/audit/").content.decode()
    assert "a.m." not in audit and "p.m." not in audit
    assert re.search(r">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC</time>", audit)
    page = staff_client.get(f"/customers/{customer.pk}/").content.decode()
    assert "a.m." not in page and "p.m." not in page
    sentence = page[page.index("It works until") :].split("</p>")[0]
    assert sentence.endswith(" UTC</time>.")


@pytest.mark.django_db
def test_evidence_times_read_like_every_other_time(analyst: object, analyst_client: Client) -> None:
    alert = AlertFactory(
        raw={
            "evidence": [
                {"entityType": "File", "evidenceCreationTime": "2026-11-30T07:44:05.1234567Z"}
            ]
        }
    )
    AnalystScopeFactory(user=analyst, customer=alert.customer)
    page = analyst_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "2026-11-30 07:44:05 UTC" in page
    # Microsoft's own text is kept only in the machine-readable attribute and the raw
    # JSON; no field shows it as its value.
    assert ">2026-11-30T07:44:05.1234567Z<" not in page
