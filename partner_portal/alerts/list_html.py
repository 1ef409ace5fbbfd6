"""The HTML of the console lists' rows (alerts, incidents), written in Python.

The list pages and their live updates print up to 50 rows of 8 or 9 cells each. Through the
template engine those rows were the largest single cost of the page (about 4 ms of
15); written here with one escaped f-string per row they cost a tenth of that. Measured
again with the rows and the filter inputs back in templates, the list view's own CPU
time doubled (`bench/RESULTS.md`, Console), so they stay here. Every value from the
database goes through `escape`; the rest is fixed markup. Apps above this one add a
line to a row's status through `list_notes` (the SLA timer of an open alert).
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django.utils.safestring import SafeString, mark_safe

from partner_portal.alerts.list_notes import RowNote, notes_for
from partner_portal.alerts.reads.alert_list import NO_VALUE, AlertRow
from partner_portal.alerts.reads.keyset import Row
from partner_portal.defender import in_words

LEGACY_MARK = (
    ' <span class="badge status-warn legacy-api" title="Read through the Defender for'
    ' Endpoint and XDR APIs: the admin must consent again for Microsoft Graph">legacy API,'
    " stops 1 Feb 2027</span>"
)


def _sub(value: str) -> str:
    """A second line in a cell, left out when there is nothing to show."""
    return f'<span class="sub">{escape(value)}</span>' if value else ""


def _hidden_badge(because: str) -> str:
    """The mark of an alert a suppression rule hid from the queue, naming the rule."""
    if not because:
        return ""
    return f' <span class="badge hidden-by-rule">Hidden from the queue · {escape(because)}</span>'


def _notes(notes: Iterable[RowNote]) -> str:
    """Notes other apps add to a row (`list_notes`), each a second line of its status."""
    return "".join(
        f'<span class="sub {escape(note.css_class)}"'
        + "".join(f' data-{escape(k)}="{escape(v)}"' for k, v in note.data.items())
        + f">{escape(note.text)}</span>"
        for note in notes
    )


def alert_row_html(
    row: AlertRow, *, list_url: str, fresh: bool = False, notes: Iterable[RowNote] = ()
) -> str:
    pk = int(row["pk"])
    label = escape(row["label"])
    category = f" · {escape(row['category'])}" if row["category"] else ""
    fresh_class = ' class="fresh"' if fresh else ""
    return (
        f'<tr data-alert-id="{pk}"{fresh_class}>\n'
        f'  <td class="pick"><input type="checkbox" name="alert" value="{pk}" form="bulk-form"'
        f' aria-label="Select “{label}”"></td>\n'
        f'  <td class="when"><time datetime="{escape(row["created_iso"])}">'
        f"{escape(row['created_display'])}</time></td>\n"
        f'  <td><span class="badge sev-{escape(row["severity"])}">{escape(row["severity"])}'
        "</span></td>\n"
        f'  <td class="title"><a class="alert-link" href="{escape(list_url)}{pk}/">{label}</a>'
        f"{_hidden_badge(row.get('hidden_because', ''))}\n"
        f'    <span class="sub">{escape(row["alert_id"])}{category}</span></td>\n'
        f"  <td>{escape(row['customer_name'])}</td>\n"
        f'  <td class="product">{escape(row["product"] or NO_VALUE)}</td>\n'
        f'  <td><span class="status status-{escape(row["status"])}">'
        f"{escape(row['status_label'])}</span>{_sub(in_words(row['classification']))}"
        f"{_notes(notes)}</td>\n"
        f'  <td class="where">{escape(row["computer"])}{_sub(row["related_user"])}</td>\n'
        f"  <td>{escape(row['assigned'])}</td>\n"
        "</tr>\n"
    )


def alert_rows_html(rows: Iterable[AlertRow], *, list_url: str, fresh: bool = False) -> SafeString:
    """The `<tr>` elements of `rows` (`reads.alert_list.list_rows`), in the order given,
    with the notes other apps add (`list_notes`, asked once for all the rows)."""
    rows = list(rows)
    notes = notes_for(rows)
    return mark_safe(  # noqa: S308 - every stored value is escaped in alert_row_html
        "".join(
            alert_row_html(row, list_url=list_url, fresh=fresh, notes=notes.get(int(row["pk"]), ()))
            for row in rows
        )
    )


def incident_row_html(row: Row, *, list_url: str, fresh: bool = False) -> str:
    pk = int(row["pk"])
    fresh_class = ' class="fresh"' if fresh else ""
    legacy = LEGACY_MARK if row["legacy_api"] else ""
    products = ", ".join(row["products"]) or NO_VALUE
    tags = " ".join(f'<span class="tag">{escape(tag)}</span>' for tag in row["all_tags"])
    tag_line = f'<span class="sub tags">{tags}</span>' if tags else ""
    alerts = int(row["alert_count"])
    return (
        f'<tr data-incident-id="{pk}" data-version="{escape(row["version"])}"{fresh_class}>\n'
        f'  <td class="pick"><input type="checkbox" name="ids" value="{pk}" form="bulk-form"'
        f' aria-label="Select “{escape(row["label"])}”"></td>\n'
        f'  <td class="when"><time datetime="{escape(row["created_iso"])}">'
        f"{escape(row['created_display'])}</time></td>\n"
        f'  <td><span class="badge sev-{escape(row["severity"])}">{escape(row["severity"])}'
        "</span></td>\n"
        f'  <td class="title"><a class="incident-link" href="{escape(list_url)}{pk}/">'
        f"{escape(row['label'])}</a>\n"
        f'    <span class="sub">#{int(row["incident_id"])} · {alerts} alert'
        f"{'' if alerts == 1 else 's'}</span>{tag_line}</td>\n"
        f"  <td>{escape(row['customer_name'])}{legacy}</td>\n"
        f'  <td class="product">{escape(products)}</td>\n'
        f'  <td><span class="status status-{escape(row["status"])}">'
        f"{escape(row['status_label'])}</span>{_sub(in_words(row['classification']))}</td>\n"
        f"  <td>{escape(row['assigned'])}</td>\n"
        "</tr>\n"
    )


def incident_rows_html(rows: Iterable[Row], *, list_url: str, fresh: bool = False) -> SafeString:
    """The `<tr>` elements of `rows` (`reads.incident_queue.queue_rows`), in order."""
    return mark_safe(  # noqa: S308 - every stored value is escaped in incident_row_html
        "".join(incident_row_html(row, list_url=list_url, fresh=fresh) for row in rows)
    )
