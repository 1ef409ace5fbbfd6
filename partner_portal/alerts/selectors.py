"""The alert list's reads, under the names the list page's own modules import them by.

The console's reads live in `partner_portal.alerts.reads`, one module per page or
capability (`reads/__init__.py` lists them). The list page's view
(`views/alert_list.py`), its filter form (`filters.py`) and its row markup
(`list_html.py`) import these names from here; new code imports from `reads` directly,
and this module goes once those three do.
"""

from __future__ import annotations

from partner_portal.alerts.reads.alert_list import (
    SEVERITIES,
    UNCLASSIFIED,
    AlertQuery,
    AlertRow,
    alert_counts,
    alert_page,
    alerts_since,
)
from partner_portal.alerts.reads.charts import alert_chart_data
from partner_portal.alerts.reads.exports import EXPORT_COLUMNS, alert_export_rows
from partner_portal.alerts.reads.keyset import SORTS, InvalidCursor, decode_cursor

__all__ = [
    "EXPORT_COLUMNS",
    "SEVERITIES",
    "SORTS",
    "UNCLASSIFIED",
    "AlertQuery",
    "AlertRow",
    "InvalidCursor",
    "alert_chart_data",
    "alert_counts",
    "alert_export_rows",
    "alert_page",
    "alerts_since",
    "decode_cursor",
]
