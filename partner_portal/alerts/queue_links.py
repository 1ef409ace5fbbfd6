"""The links a console list writes to itself, canonical, and where its page stands.

Every link of the alert list and the incident queue (page links, sort headers, counts)
is built from the filter form's canonical query string (`ConsoleFilterForm.link`): only
the fields that hold a value, in a stable order, so a bookmark or a shared link names
what the analyst chose and nothing else.

A keyset page does not know its own offset, so the page links carry it (`start`, the
number of rows before the page) and the page says "51-100 of 2,304" (with an en dash).
The total is the list's capped count (`reads.alert_list.capped_count`): exact up to
10,000, "10,000+" beyond. `start` only ever feeds that sentence; a link edited by hand
changes the words, never which rows are read.
"""

from __future__ import annotations

from dataclasses import dataclass

from partner_portal.alerts.console_filters import ConsoleFilterForm


@dataclass(frozen=True)
class PageLinks:
    """The page's links (each canonical; "" when there is no such page) and position."""

    first: str
    newer: str
    older: str
    position: str


def position_text(*, start: int, shown: int, matched: int | None, more: bool = False) -> str:
    """ "51-100 of 2,304", "1-50 of 10,000+" (an en dash between); without a total,
    just the range."""
    if shown == 0:
        return ""
    span = f"{start + 1:,}\u2013{start + shown:,}"
    if matched is None:
        return span
    total = max(matched, start + shown) if not more else matched
    return f"{span} of {total:,}{'+' if more else ''}"


def page_links(
    form: ConsoleFilterForm,
    *,
    list_url: str,
    shown: int,
    size: int,
    next_cursor: str | None,
    previous_cursor: str | None,
    matched: int | None = None,
    more: bool = False,
) -> PageLinks:
    """The links of a valid form's page of `shown` rows."""
    data = form.cleaned_data
    start = data.get("start") or 0
    if not data.get("after") and not data.get("before"):
        start = 0
    newer = ""
    if previous_cursor:
        back = max(start - size, 0)
        newer = form.link(list_url, before=previous_cursor, start=str(back) if back else None)
    older = ""
    if next_cursor:
        older = form.link(list_url, after=next_cursor, start=str(start + shown))
    return PageLinks(
        first=form.link(list_url) if previous_cursor else "",
        newer=newer,
        older=older,
        position=position_text(start=start, shown=shown, matched=matched, more=more),
    )


def sort_links(form: ConsoleFilterForm, *, list_url: str) -> dict[str, str]:
    """The column headers' links: the filter in each order, from the first page."""
    return {
        key: form.link(list_url, sort=None if key == "newest" else key)
        for key in ("newest", "oldest", "severity", "customer")
    }
