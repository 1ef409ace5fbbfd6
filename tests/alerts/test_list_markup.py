"""The alert list's hand-written markup: rows and filter inputs written without templates.

The filter inputs are compared with what Django's own widgets write for the same form
(attribute order aside), so the faster path cannot drift from the reference silently.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import pytest
from django.http import QueryDict
from django.test import Client
from django.test.html import parse_html

from partner_portal.alerts.filters import AlertFilterForm
from partner_portal.alerts.list_html import alert_rows_html
from partner_portal.alerts.reads.alert_list import AlertRow
from tests.alerts.factories import CustomerFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


def row(**overrides: Any) -> AlertRow:
    # Deliberately a hand-written dict, not a factory's row: this is the list's row as
    # the selector hands it to the markup, fixed down to the pk, so the markup is tested
    # without the database.
    values: AlertRow = {
        "pk": 42,
        "customer_id": 7,
        "customer_name": "Alpha Ltd",
        "alert_id": "da6383_1",
        "title": "Suspicious process",
        "severity": "High",
        "severity_rank": 3,
        "status": "InProgress",
        "status_label": "In progress",
        "classification": "",
        "category": "Execution",
        "assigned_to": "",
        "assigned": "\u2014",
        "computer_dns_name": "ws-01.alpha.example",
        "computer": "ws-01.alpha.example",
        "related_user": "",
        "created_at": datetime(2026, 11, 20, 9, 30, tzinfo=UTC),
        "created_iso": "2026-11-20T09:30:00Z",
        "created_display": "2026-11-20 09:30",
        "label": "Suspicious process",
        "service_source": "microsoftDefenderForEndpoint",
        "from_graph": True,
        "product": "Defender for Endpoint",
    }
    values.update(overrides)
    return values


# --- rows ------------------------------------------------------------------------------------
def test_row_links_to_the_detail_and_selects_by_pk() -> None:
    html = alert_rows_html([row()], list_url="/alerts/")
    assert '<tr data-alert-id="42">' in html
    assert '<a class="alert-link" href="/alerts/42/">Suspicious process</a>' in html
    assert 'value="42" form="bulk-form"' in html
    assert '<time datetime="2026-11-20T09:30:00Z">2026-11-20 09:30</time>' in html
    assert '<span class="badge sev-High">High</span>' in html
    assert '<span class="status status-InProgress">In progress</span>' in html
    assert "da6383_1 · Execution" in html


def test_row_markup_is_what_the_page_and_its_script_expect() -> None:
    # The whole row as the list's former template wrote it (whitespace aside): the
    # script and the browser tests find rows, links and boxes by this markup.
    expected = """
    <tr data-alert-id="42">
      <td class="pick"><input type="checkbox" name="alert" value="42" form="bulk-form"
        aria-label="Select “Suspicious process”"></td>
      <td class="when"><time datetime="2026-11-20T09:30:00Z">2026-11-20 09:30</time></td>
      <td><span class="badge sev-High">High</span></td>
      <td class="title"><a class="alert-link" href="/alerts/42/">Suspicious process</a>
        <span class="sub">da6383_1 · Execution</span></td>
      <td>Alpha Ltd</td>
      <td class="product">Defender for Endpoint</td>
      <td><span class="status status-InProgress">In progress</span><span
        class="sub">True positive</span></td>
      <td class="where">ws-01.alpha.example<span class="sub">alice</span></td>
      <td>—</td>
    </tr>
    """
    html = alert_rows_html(
        [row(classification="TruePositive", related_user="alice")], list_url="/alerts/"
    )
    assert parse_html(html) == parse_html(expected)


def test_row_escapes_every_stored_value() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    html = alert_rows_html(
        [
            row(
                label=hostile,
                alert_id=hostile,
                category=hostile,
                customer_name=hostile,
                severity=hostile,
                status=hostile,
                status_label=hostile,
                classification=hostile,
                computer=hostile,
                related_user=hostile,
                assigned=hostile,
                product=hostile,
            )
        ],
        list_url="/alerts/",
    )
    assert "<img" not in html
    assert 'onerror="' not in html
    assert html.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") == 14


def test_row_leaves_out_empty_second_lines_and_marks_fresh_rows() -> None:
    plain = alert_rows_html([row(category="")], list_url="/alerts/")
    assert plain.count('<span class="sub">') == 1  # the alert ID line only
    assert "·" not in plain
    assert 'class="fresh"' not in plain
    fresh = alert_rows_html(
        [row(classification="TruePositive", related_user="alice")], list_url="/a/", fresh=True
    )
    assert '<tr data-alert-id="42" class="fresh">' in fresh
    assert '<span class="sub">True positive</span>' in fresh
    assert '<span class="sub">alice</span>' in fresh


def test_no_rows_write_nothing() -> None:
    assert alert_rows_html([], list_url="/alerts/") == ""


# --- filter inputs against Django's widgets --------------------------------------------------
def reference(form: AlertFilterForm, name: str) -> str:
    """What Django's widget writes for field `name`, without the error list."""
    return str(form[name])


def without_errors(html: str) -> str:
    return html.split('<ul class="errorlist"')[0]


QUERIES = [
    "",
    "severity=High&severity=Low&status=InProgress&classification=none&period=30d&sort=severity",
    "category=Exec%3Cution&detection_source=a%22b&assigned_to=x%27y&q=%3Cscript%3E",
    "period=custom&since=2026-11-20T10:00&until=2026-11-21T09:00",
    "severity=Bogus&status=Closed&classification=x&period=y&sort=nope",
    "period=custom&since=2026-11-20T10:00&until=2026-11-19T10:00",
    "since=not-a-time",
]
FIELDS = [
    "q", "category", "detection_source", "assigned_to", "since", "until",
    "classification", "period", "sort",
]  # fmt: skip


@pytest.mark.parametrize("query", QUERIES)
def test_inputs_match_what_django_widgets_write(query: str, analyst: Any) -> None:
    form = AlertFilterForm(QueryDict(query), user=analyst)
    form.is_valid()
    for name in FIELDS:
        mine = parse_html(without_errors(form.controls[name]))
        if name == "q" and form.errors.get("q"):
            continue  # ours also names the error list; compared in its own test
        assert mine == parse_html(reference(form, name)), (name, form.controls[name])
    for name in ("severity", "status"):
        boxes = "".join(
            f'<label class="check" for="{box.id_for_label}">{box.tag()} '
            + (
                f'<span class="badge sev-{box.data["value"]}">{box.choice_label}</span>'
                if name == "severity"
                else str(box.choice_label)
            )
            + "</label>"
            for box in form[name]
        )
        assert parse_html(without_errors(form.controls[name])) == parse_html(boxes), name


def test_a_field_with_errors_is_marked_invalid_and_shows_its_message(analyst: Any) -> None:
    form = AlertFilterForm(
        QueryDict("period=custom&since=2026-11-20T10:00&until=2026-11-19T10:00&sort=nope"),
        user=analyst,
    )
    assert not form.is_valid()
    until = form.controls["until"]
    assert 'aria-invalid="true" aria-describedby="id_until_error"' in until
    assert '<ul class="errorlist" id="id_until_error"><li>The end of the range' in until
    assert 'id="id_sort_error"' in form.controls["sort"]
    assert "aria-invalid" not in form.controls["since"]


def test_a_check_group_with_errors_points_at_its_message(analyst_client: Client) -> None:
    html = analyst_client.get("/alerts/", {"severity": "Bogus"}).content.decode()
    assert 'aria-describedby="id_severity_error"' in html
    assert '<ul class="errorlist" id="id_severity_error">' in html
    assert 'aria-describedby="id_status_error"' not in html


def test_search_errors_keep_the_help_text_described(analyst: Any) -> None:
    form = AlertFilterForm(QueryDict("q=" + "x" * 201), user=analyst)
    assert not form.is_valid()
    assert 'aria-describedby="q-help id_q_error"' in form.controls["q"]


def test_submitted_values_are_escaped_in_the_inputs(analyst: Any) -> None:
    form = AlertFilterForm(QueryDict("q=%22%3E%3Cscript%3E&category=%3Cb%3E"), user=analyst)
    form.is_valid()
    assert 'value="&quot;&gt;&lt;script&gt;"' in form.controls["q"]
    assert 'value="&lt;b&gt;"' in form.controls["category"]
    assert "<script>" not in "".join(form.controls.values())


def test_the_page_offers_the_suggestions_and_the_customers_in_scope(
    analyst_client: Client, analyst: Any
) -> None:
    alpha = CustomerFactory(display_name="Alpha Ltd")
    hostile = CustomerFactory(display_name="Beta <b>& Co</b>")
    CustomerFactory(display_name="Gamma, out of scope")
    for customer in (alpha, hostile):
        AnalystScopeFactory(user=analyst, customer=customer)
    html = analyst_client.get("/alerts/", {"customer": hostile.pk}).content.decode()
    assert '<datalist id="known-categories"><option value="Collection">' in html
    assert '<datalist id="known-detection-sources"><option value="AutomatedInvestigation">' in html
    select = re.search(r'<select name="customer"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    # The compact bar's single select: every customer in scope, or one of them.
    assert select.group(0).startswith('<select name="customer" id="id_customer">')
    assert parse_html(select.group(1)) == parse_html(
        '<option value="">All customers</option>'
        f'<option value="{alpha.pk}">Alpha Ltd</option>'
        f'<option value="{hostile.pk}" selected>Beta &lt;b&gt;&amp; Co&lt;/b&gt;</option>'
    )
    assert '<p class="visually-hidden" id="q-help">Title, description' in html
    several = analyst_client.get("/alerts/", {"customer": [alpha.pk, hostile.pk]}).content
    assert b'<select name="customer" id="id_customer" multiple size="2">' in several
