"""Hostile query values on every list page: a form error in words, never a 500.

Each list, export, count, chart and live-update page is opened by a portal admin holding
every role, once per filter parameter it reads and per hostile value below. Every answer
must be below 500. Numbers beyond the database's 64-bit range are the sharpest case (SQLite
raises OverflowError; PostgreSQL compares them as `numeric` and silently matches nothing), so
for those the page must also say what it did with the value.

The pages are found by walking the URL conf: a page added later without query parameters
named here fails `test_every_page_without_path_arguments_is_known`.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.filters import AlertFilterForm, ChartWindowForm, LiveForm
from partner_portal.alerts.incident_filters import IncidentFilterForm, IncidentLiveForm
from partner_portal.core.access import Role
from partner_portal.core.bounds import BIGINT_MAX
from partner_portal.correlation.views import WindowForm
from partner_portal.notifications.sla_forms import SlaReportForm
from tenants.forms import AuditFilterForm, CustomerFilterForm
from tenants.people_forms import PersonFilterForm
from tests.alerts.factories import AlertFactory, CustomerFactory, IncidentFactory
from tests.factories import UserFactory
from tests.tenants.factories import AuditEventFactory
from tests.test_access_matrix import all_routes, body_of

pytestmark = pytest.mark.django_db

OVERFLOW_IDS = ("9223372036854775808", "-9223372036854775809", "99999999999999999999999999")
HOSTILE = (
    *OVERFLOW_IDS,
    "-1",
    "0",
    "1e309",
    "nan",
    "abc",
    "",
    "x" * 5000,
    "\x00",
    "²",  # a digit to str.isdigit(), not to int()
    # times that leave datetime's range once turned to UTC
    "0001-01-01T00:00:00+05:00",
    "9999-12-31T23:59:00-05:00",
    # page cursors (time, pk) with a bad part
    "2026-11-01T12:00:00.000000Z,9223372036854775808",
    "2026-11-01T12:00:00.000000Z,9999999999999999999",
    "0001-01-01T00:00:00+05:00,1",
    "2026-11-01T12:00:00.000000Z,²",
)

ALERT_FILTER = tuple(AlertFilterForm.base_fields)
INCIDENT_FILTER = tuple(IncidentFilterForm.base_fields)
# The query parameters each list page reads: its forms' fields, plus Paginator's `page`.
PAGES: dict[str, tuple[str, ...]] = {
    "alerts:list": ALERT_FILTER,
    "alerts:counts": ALERT_FILTER,
    "alerts:live": (*ALERT_FILTER, *LiveForm.base_fields),
    "alerts:export_csv": ALERT_FILTER,
    "alerts:export_json": ALERT_FILTER,
    "alerts:charts": (*ALERT_FILTER, *ChartWindowForm.base_fields),
    "alerts:chart_data": (*ALERT_FILTER, *ChartWindowForm.base_fields),
    "alerts:incidents": INCIDENT_FILTER,
    "alerts:incident_counts": INCIDENT_FILTER,
    "alerts:incident_live": (*INCIDENT_FILTER, *IncidentLiveForm.base_fields),
    "alerts:incident_export_csv": INCIDENT_FILTER,
    "alerts:incident_export_json": INCIDENT_FILTER,
    "correlation:campaigns": tuple(WindowForm.base_fields),
    "hunting:hunts": ("saved",),
    "tenants:customer_list": (*CustomerFilterForm.base_fields, "page"),
    "tenants:audit_log": (*AuditFilterForm.base_fields, "page"),
    # "Suppress alerts like this": the alert to fill the form from.
    "notifications:suppression_create": ("alert",),
    "tenants:people": (*PersonFilterForm.base_fields, "page"),
    "notifications:sla_report": tuple(SlaReportForm.base_fields),
    "notifications:sla_report_csv": tuple(SlaReportForm.base_fields),
}
# Pages without path arguments that read no query values a user types (or no GET at all).
NOT_LISTS = {
    "home", "healthz", "login", "logout",
    "password_change",  # its form is posted
    "preferences",  # its form is posted
    "second_factor", "second_factor_verify",  # their forms are posted
    "alerts:bulk",  # POST only
    "alerts:saved_view_create", "alerts:saved_view_delete",  # POST only
    "hunting:start", "hunting:save",  # POST only
    "alerts:incident_bulk",  # POST only
    "alerts:health",
    "alerts:overview",  # figures only; it reads no query values
    "alerts:scopes",  # its form is posted
    "tenants:customer_register",  # its form is posted
    "tenants:person_create",  # its form is posted
    "tenants:customers_reconsent_email",  # POST only
    "tenants:consent_callback",  # Microsoft's redirect back, not a list
    "tenants:staff_signin", "tenants:staff_signin_callback",  # staff sign-in, not lists
    # Notification settings: short lists without filters, and forms that are posted.
    "notifications:channels", "notifications:channel_create",
    "notifications:policies", "notifications:policy_create",
    "notifications:tags", "notifications:tag_create", "notifications:customer_tags",
    "notifications:suppressions",
    "notifications:sla", "notifications:sla_goal_save",
}  # fmt: skip
# What a page needs in its query to answer at all.
BASE_QUERY = {"alerts:live": {"since_id": "0"}, "alerts:incident_live": {"mark": "0"}}

ID_ERROR = f"Enter a whole number from 1 to {BIGINT_MAX}."
MARK_ERROR = f"Enter a whole number from 0 to {BIGINT_MAX}."
LEFT_OUT = "not in your scope and"


@pytest.fixture
def seen() -> dict[str, Any]:
    """One customer with an alert, an incident and an audit event, and a signed-in
    portal admin holding every role."""
    admin = UserFactory(username="bounds-admin", roles=list(Role))
    customer = CustomerFactory(display_name="Northwind")
    alert = AlertFactory(customer=customer, alert_id="da-bounds-0001", created_at=timezone.now())
    IncidentFactory(
        customer=customer, incident_id=42, name="Bounds incident", status="Active",
        severity="High", created_at=timezone.now() - timedelta(minutes=1),
    )  # fmt: skip
    AuditEventFactory(
        actor_label="system", action="customer.registered", customer=customer,
        customer_name="Northwind", summary="Registered Northwind",
    )  # fmt: skip
    # A crash is reported as the 500 it is, with its URL, rather than raised mid-walk.
    client = Client(raise_request_exception=False)
    client.force_login(admin)
    return {"client": client, "customer": customer, "alert": alert}


def _url(name: str, params: list[tuple[str, str]]) -> str:
    given = {key for key, _ in params}
    base = [(key, value) for key, value in BASE_QUERY.get(name, {}).items() if key not in given]
    return reverse(name) + "?" + urlencode([*base, *params])


def _short(url: str) -> str:
    return url if len(url) < 140 else url[:140] + "…"


# What the page must show for an ID outside the 64-bit range, by (page, parameter). The alert
# console's customer filter ignores a customer outside the scope and says so where a
# person reads it; its data endpoints then match nothing rather than everything.
def _left_out(body: str, seen: dict[str, Any]) -> bool:
    return LEFT_OUT in body


def _matches_nothing(body: str, seen: dict[str, Any]) -> bool:
    return seen["alert"].alert_id not in body and "Northwind" not in body


def _counts_nothing(body: str, seen: dict[str, Any]) -> bool:
    return 'data-total="0"' in body


def _charts_nothing(body: str, seen: dict[str, Any]) -> bool:
    series = json.loads(body)["over_time"]["series"]
    return sum(sum(counts) for counts in series.values()) == 0


def _id_error(body: str, seen: dict[str, Any]) -> bool:
    return 'id="filter-errors"' in body and ID_ERROR in body


def _mark_error(body: str, seen: dict[str, Any]) -> bool:
    return MARK_ERROR in body


def _no_such_page(body: str, seen: dict[str, Any]) -> bool:
    return "There is no page" in body


SAYS_SO: dict[tuple[str, str], Callable[[str, dict[str, Any]], bool]] = {
    ("alerts:list", "customer"): _left_out,
    ("alerts:charts", "customer"): _left_out,
    ("alerts:counts", "customer"): _counts_nothing,
    ("alerts:live", "customer"): _matches_nothing,
    ("alerts:export_csv", "customer"): _matches_nothing,
    ("alerts:export_json", "customer"): _matches_nothing,
    ("alerts:chart_data", "customer"): _charts_nothing,
    ("alerts:live", "since_id"): _mark_error,
    ("alerts:incidents", "customer"): _left_out,
    ("alerts:incident_counts", "customer"): _counts_nothing,
    ("alerts:incident_live", "customer"): _matches_nothing,
    ("alerts:incident_export_csv", "customer"): _matches_nothing,
    ("alerts:incident_export_json", "customer"): _matches_nothing,
    ("tenants:audit_log", "customer"): _id_error,
    ("tenants:customer_list", "page"): _no_such_page,
    ("tenants:audit_log", "page"): _no_such_page,
}


def test_every_page_without_path_arguments_is_known() -> None:
    """A new list page must name the query values it reads in PAGES."""
    names = {route.name for route in all_routes() if not route.arguments}
    assert names - PAGES.keys() - NOT_LISTS == set()
    assert PAGES.keys() <= names


@pytest.mark.parametrize("name", sorted(PAGES))
def test_hostile_values_never_cause_a_server_error(name: str, seen: dict[str, Any]) -> None:
    client = seen["client"]
    wrong = []
    for param in PAGES[name]:
        tries = [[(param, value)] for value in HOSTILE]
        tries.append([(param, "abc"), (param, OVERFLOW_IDS[0])])  # repeated
        tries.append([(param, "abc")] * 50)
        for params in tries:
            url = _url(name, params)
            response = client.get(url)
            if response.status_code >= 500:
                wrong.append(f"{response.status_code} {_short(url)}")
                continue
            check = SAYS_SO.get((name, param))
            if check and params[-1][1] in OVERFLOW_IDS and not check(body_of(response), seen):
                wrong.append(f"silent about {params[-1][1]}: {_short(url)}")
    assert wrong == [], "\n".join(wrong)


def test_the_walk_checks_what_it_should(seen: dict[str, Any]) -> None:
    """Guards the walk above: with a real customer the checks see its data."""
    client = seen["client"]
    pk = str(seen["customer"].pk)
    for (name, param), check in SAYS_SO.items():
        if param == "customer":
            response = client.get(_url(name, [("customer", pk)]))
            assert not check(body_of(response), seen), name


# --- the two reproductions of the security run ---------------------------------------------
def test_a_customer_id_beyond_64_bits_is_a_form_error(seen: dict[str, Any]) -> None:
    response = seen["client"].get("/audit/?customer=9223372036854775808")
    assert response.status_code == 200
    body = body_of(response)
    assert "This filter was not applied" in body
    assert f"<li>Customer: {ID_ERROR}</li>" in body


# --- the bounds themselves -------------------------------------------------------------------
def test_the_largest_id_is_accepted_and_matches_nothing(seen: dict[str, Any]) -> None:
    client = seen["client"]
    audit = body_of(client.get(f"/audit/?customer={BIGINT_MAX}"))
    assert "filter-errors" not in audit and "No events match." in audit
    # Not a customer in scope: left out, and the page says so.
    incidents = body_of(client.get(f"/incidents/?customer={BIGINT_MAX}"))
    assert LEFT_OUT in incidents and "Bounds incident" not in incidents
    live = client.get(f"/alerts/live/?since_id={BIGINT_MAX}")
    assert live.status_code == 200 and live.json()["count"] == 0


def test_valid_ids_still_filter(seen: dict[str, Any]) -> None:
    client = seen["client"]
    other = CustomerFactory(display_name="Elsewhere")
    pk = seen["customer"].pk
    assert "Bounds incident" in body_of(client.get(f"/incidents/?customer={pk}"))
    assert "Bounds incident" not in body_of(client.get(f"/incidents/?customer={other.pk}"))
    assert "Registered Northwind" in body_of(client.get(f"/audit/?customer={pk}"))
    assert "Registered Northwind" not in body_of(client.get(f"/audit/?customer={other.pk}"))
    assert seen["alert"].alert_id in body_of(client.get(f"/alerts/?customer={pk}"))


def test_live_mark_beyond_64_bits_is_refused_in_words(seen: dict[str, Any]) -> None:
    response = seen["client"].get("/alerts/live/?since_id=9223372036854775808")
    assert response.status_code == 400
    assert response.json()["errors"]["since_id"][0]["message"] == MARK_ERROR


@pytest.mark.parametrize(
    "cursor",
    [
        "2026-11-01T12:00:00.000000Z,9223372036854775808",
        "2026-11-01T12:00:00.000000Z,²",
        "0001-01-01T00:00:00+05:00,1",
        "x" * 5000,
        "\x00",
    ],
)
def test_a_bad_page_link_is_a_form_error_the_analyst_sees(
    cursor: str, seen: dict[str, Any]
) -> None:
    response = seen["client"].get(reverse("alerts:list") + "?" + urlencode({"after": cursor}))
    assert response.status_code == 400
    assert "This page link is not valid; start from the first page." in body_of(response)


def test_a_time_outside_the_calendar_in_utc_is_a_form_error(seen: dict[str, Any]) -> None:
    query = urlencode({"period": "custom", "since": "0001-01-01T00:00:00+05:00"})
    response = seen["client"].get(reverse("alerts:list") + "?" + query)
    assert response.status_code == 400
    assert "Enter a time between the years 1 and 9999." in body_of(response)


def test_the_charts_page_names_a_bad_filter_and_a_bad_window(seen: dict[str, Any]) -> None:
    client = seen["client"]
    body = body_of(client.get("/alerts/charts/?severity=Severe"))
    assert "The charts cannot be drawn until the filter is corrected" in body
    assert 'id="charts"' not in body
    body = body_of(client.get("/alerts/charts/?window=9223372036854775808"))
    assert "is not one of these windows; the charts show 7 days" in body


def test_an_incident_search_of_unicode_digits_is_plain_text(seen: dict[str, Any]) -> None:
    response = seen["client"].get("/incidents/?q=²")
    assert response.status_code == 200
    assert "No incidents match this filter." in body_of(response)


def test_incident_live_mark_beyond_the_calendar_is_refused_in_words(
    seen: dict[str, Any],
) -> None:
    response = seen["client"].get("/incidents/live/?mark=9223372036854775807")
    assert response.status_code == 400
    assert "Enter a whole number from 0 to" in response.json()["errors"]["mark"][0]["message"]


def test_page_links_keep_every_repeated_filter_value(seen: dict[str, Any]) -> None:
    customer = seen["customer"]
    other = CustomerFactory(display_name="Second")
    for n in range(60):
        IncidentFactory(customer=customer, incident_id=1000 + n, name=f"Many {n}")
    response = seen["client"].get(f"/incidents/?customer={customer.pk}&customer={other.pk}")
    body = body_of(response)
    assert f"?customer={customer.pk}&amp;customer={other.pk}&amp;after=" in body


@pytest.mark.parametrize("alert", ["9223372036854775808", "²", "0"])
def test_the_list_bulk_form_refuses_ids_the_database_cannot_hold(
    alert: str, seen: dict[str, Any]
) -> None:
    client = seen["client"]
    response = client.post(
        reverse("alerts:bulk"), {"alert": alert, "status": "Resolved", "next": "/alerts/"}
    )
    assert response.status_code == 302
    page = body_of(client.get("/alerts/"))
    assert "The selection is not valid; reload the list." in page
