"""The alert list's markup: its rows (`alerts/_alert_rows.html`, for the page and its
live updates) and its filter inputs (the form's bound fields in `alerts/list.html`).

The rows are pinned to the markup the page's script and the browser tests rely on, and
every stored value is escaped. The filter inputs on the page are compared with what
Django's own widgets write for the same form (attribute order aside), and their ids,
names, aria attributes and error lists are pinned, so the page cannot drift to markup of
its own silently.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import pytest
from django.http import QueryDict
from django.template.loader import render_to_string
from django.test import Client
from django.test.html import parse_html

from partner_portal.alerts.filters import AlertFilterForm
from partner_portal.alerts.reads.alert_list import AlertRow
from tests.alerts.factories import CustomerFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db


def alert_rows_html(rows: Iterable[AlertRow], *, list_url: str, fresh: bool = False) -> str:
    """The rows as the page and the live updates write them."""
    context = {"rows": rows, "list_url": list_url, "fresh": fresh}
    return render_to_string("alerts/_alert_rows.html", context)


def row(**overrides: Any) -> AlertRow:
    # Deliberately a hand-written dict, not a factory's row: this is the list's row as
    # the selector hands it to the markup, fixed down to the pk, so the markup is tested
    # without the database.
    values: AlertRow = {
        "pk": 42,
        "pk_text": "42",
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
      <td><span class="status status-InProgress">In progress</span><span
        class="sub">TruePositive</span></td>
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
            )
        ],
        list_url="/alerts/",
    )
    assert "<img" not in html
    assert 'onerror="' not in html
    assert html.count("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;") == 13


def test_row_leaves_out_empty_second_lines_and_marks_fresh_rows() -> None:
    plain = alert_rows_html([row(category="")], list_url="/alerts/")
    assert plain.count('<span class="sub">') == 1  # the alert ID line only
    assert "·" not in plain
    assert 'class="fresh"' not in plain
    fresh = alert_rows_html(
        [row(classification="TruePositive", related_user="alice")], list_url="/a/", fresh=True
    )
    assert '<tr data-alert-id="42" class="fresh">' in fresh
    assert '<span class="sub">TruePositive</span>' in fresh
    assert '<span class="sub">alice</span>' in fresh


def test_no_rows_write_nothing() -> None:
    assert alert_rows_html([], list_url="/alerts/") == ""


# --- filter inputs against Django's widgets --------------------------------------------------
def reference(form: AlertFilterForm, name: str) -> str:
    """What Django's widget writes for field `name`, without the error list."""
    return str(form[name])


def filter_form(client: Client, query: str) -> str:
    """The list page's filter form (the page answers 400 to a filter that is not valid)."""
    html = client.get("/alerts/?" + query).content.decode()
    found = re.search(r'<form id="alert-filters".*?</form>', html, re.S)
    assert found, html[:500]
    return found.group(0)


def control(html: str, name: str) -> str:
    """The input (or select) of filter `name` on the page, with its error list if any."""
    start = re.search(rf'<(input|select)\b[^>]*\bid="id_{name}"', html)
    assert start, name
    if start.group(1) == "select":
        end = html.index("</select>", start.start()) + len("</select>")
    else:
        end = html.index(">", start.start()) + 1
    errors = re.match(rf'<ul class="errorlist" id="id_{name}_error">.*?</ul>', html[end:], re.S)
    return html[start.start() : end + (errors.end() if errors else 0)]


def check_group(html: str, legend: str) -> str:
    """The check boxes of a fieldset on the page (and its error list), by its legend."""
    found = re.search(rf"<legend>{legend}</legend>(.*?)</fieldset>", html, re.S)
    assert found, legend
    return found.group(1)


def controls(client: Client, query: str) -> dict[str, str]:
    """Each filter's markup on the page for `query`, by field name."""
    html = filter_form(client, query)
    found = {name: control(html, name) for name in FIELDS}
    found["severity"] = check_group(html, "Severity")
    found["status"] = check_group(html, "Status")
    return found


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
def test_inputs_match_what_django_widgets_write(
    query: str, analyst: Any, analyst_client: Client
) -> None:
    form = AlertFilterForm(QueryDict(query), user=analyst)
    form.is_valid()
    page = controls(analyst_client, query)
    for name in FIELDS:
        mine = parse_html(without_errors(page[name]))
        assert mine == parse_html(reference(form, name)), (name, page[name])
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
        assert parse_html(without_errors(page[name])) == parse_html(boxes), name


def test_inputs_keep_their_ids_names_and_attributes(analyst_client: Client) -> None:
    page = controls(analyst_client, QUERIES[2])
    expected = {
        "q": '<input type="search" name="q" value="&lt;script&gt;" maxlength="200"'
        ' aria-describedby="q-help" id="id_q">',
        "category": '<input type="text" name="category" value="Exec&lt;ution" maxlength="64"'
        ' list="known-categories" autocomplete="off" id="id_category">',
        "detection_source": '<input type="text" name="detection_source" value="a&quot;b"'
        ' maxlength="64" list="known-detection-sources" autocomplete="off"'
        ' id="id_detection_source">',
        "assigned_to": '<input type="text" name="assigned_to" value="x&#x27;y" maxlength="255"'
        ' id="id_assigned_to">',
        "since": '<input type="datetime-local" name="since" id="id_since">',
    }
    for name, markup in expected.items():
        assert parse_html(page[name]) == parse_html(markup), (name, page[name])
    sort = parse_html(page["sort"])
    assert (sort.name, dict(sort.attributes)) == ("select", {"name": "sort", "id": "id_sort"})


def test_the_page_offers_the_suggestions_and_the_customers_in_scope(
    analyst_client: Client, analyst: Any
) -> None:
    alpha, hostile = (
        CustomerFactory(display_name="Alpha Ltd"),
        CustomerFactory(display_name="Beta <b>& Co</b>"),
    )
    CustomerFactory(display_name="Gamma, out of scope")
    for customer in (alpha, hostile):
        AnalystScopeFactory(user=analyst, customer=customer)
    html = filter_form(analyst_client, f"customer={hostile.pk}")
    assert '<datalist id="known-categories"><option value="Collection">' in html
    assert '<datalist id="known-detection-sources"><option value="AutomatedInvestigation">' in html
    select = re.search(r'<select name="customer"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    assert select.group(0).startswith(
        '<select name="customer" id="id_customer" multiple size="6"'
        ' aria-describedby="customer-help">'
    )
    assert parse_html(select.group(1)) == parse_html(
        f'<option value="{alpha.pk}">Alpha Ltd</option>'
        f'<option value="{hostile.pk}" selected>Beta &lt;b&gt;&amp; Co&lt;/b&gt;</option>'
    )
    assert '<p class="help muted" id="customer-help">Hold Ctrl' in html
    assert '<p class="help muted" id="q-help">Title, description' in html


def test_a_field_with_errors_is_marked_invalid_and_shows_its_message(
    analyst_client: Client,
) -> None:
    page = controls(
        analyst_client, "period=custom&since=2026-11-20T10:00&until=2026-11-19T10:00&sort=nope"
    )
    until = page["until"]
    assert 'aria-invalid="true" aria-describedby="id_until_error"' in until
    assert '<ul class="errorlist" id="id_until_error"><li>The end of the range' in until
    assert 'id="id_sort_error"' in page["sort"]
    assert "aria-invalid" not in page["since"]


def test_a_check_group_with_errors_points_at_its_message(analyst_client: Client) -> None:
    html = analyst_client.get("/alerts/", {"severity": "Bogus"}).content.decode()
    assert 'aria-describedby="id_severity_error"' in html
    assert '<ul class="errorlist" id="id_severity_error">' in html
    assert 'aria-describedby="id_status_error"' not in html


def test_search_errors_keep_the_help_text_described(analyst_client: Client) -> None:
    q = controls(analyst_client, "q=" + "x" * 201)["q"]
    assert 'aria-describedby="q-help id_q_error"' in q
    assert 'aria-invalid="true"' in q
    assert '<ul class="errorlist" id="id_q_error">' in q


def test_submitted_values_are_escaped_in_the_inputs(analyst_client: Client) -> None:
    query = "q=%22%3E%3Cscript%3E&category=%3Cb%3E"
    page = controls(analyst_client, query)
    assert 'value="&quot;&gt;&lt;script&gt;"' in page["q"]
    assert 'value="&lt;b&gt;"' in page["category"]
    assert "<script>" not in filter_form(analyst_client, query)
