"""The HTML of the alert list's rows, written in Python.

The list page and its live updates print up to 50 rows of 8 cells each. Through the
template engine those rows were the largest single cost of the page (about 4 ms of
15); written here with one escaped f-string per row they cost a tenth of that. Measured
again with the rows and the filter inputs back in templates, the list view's own CPU
time doubled (`bench/RESULTS.md`, Console), so they stay here. Every value from the
database goes through `escape`; the rest is fixed markup.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django.utils.safestring import SafeString, mark_safe

from partner_portal.alerts.reads.alert_list import AlertRow
from partner_portal.defender import in_words


def _sub(value: str) -> str:
    """A second line in a cell, left out when there is nothing to show."""
    return f'<span class="sub">{escape(value)}</span>' if value else ""


def alert_row_html(row: AlertRow, *, list_url: str, fresh: bool = False) -> str:
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
        f'  <td class="title"><a class="alert-link" href="{escape(list_url)}{pk}/">{label}</a>\n'
        f'    <span class="sub">{escape(row["alert_id"])}{category}</span></td>\n'
        f"  <td>{escape(row['customer_name'])}</td>\n"
        f'  <td><span class="status status-{escape(row["status"])}">'
        f"{escape(row['status_label'])}</span>{_sub(in_words(row['classification']))}</td>\n"
        f'  <td class="where">{escape(row["computer"])}{_sub(row["related_user"])}</td>\n'
        f"  <td>{escape(row['assigned'])}</td>\n"
        "</tr>\n"
    )


def alert_rows_html(rows: Iterable[AlertRow], *, list_url: str, fresh: bool = False) -> SafeString:
    """The `<tr>` elements of `rows` (`reads.alert_list.list_rows`), in the order given."""
    return mark_safe(  # noqa: S308 - every stored value is escaped in alert_row_html
        "".join(alert_row_html(row, list_url=list_url, fresh=fresh) for row in rows)
    )
