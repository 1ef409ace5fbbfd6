"""The status filter the console's lists share: open by default, "all" on request.

The alert list and the incident queue open on the work still to do (the open alerts:
New and In progress; the open incidents: Active, In progress and Awaiting action). A
list's status field (`StatusField`) takes statuses each on its own or several in one
comma-separated value, plus `ALL_STATUSES` ("all") for every status, resolved too;
`chosen_statuses` turns what was given into the statuses to read, the list's open ones
when none was given. The compact bar's select (`status_select`) names what the list
shows: "Open (…)", one status, "All statuses", or the combination a link chose.

A list's form declares the field with `status_choices` and passes its own vocabulary and
open statuses; `ConsoleFilterForm` (console_filters) stays the base of the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.safestring import SafeString, mark_safe

# The status filter's value for "every status, resolved too"; without any status a list
# shows its open ones.
ALL_STATUSES = "all"
ALL_LABEL = "All statuses"


class StatusField(forms.MultipleChoiceField):
    """Statuses, each given on its own or several in one value, comma-separated (the
    compact bar's single select names a combination that way)."""

    def to_python(self, value: Any) -> list[str]:
        return [part.strip() for item in super().to_python(value) for part in item.split(",")]


def status_choices(choices: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """A list's statuses and "All statuses", as its `StatusField` offers them."""
    return [*choices, (ALL_STATUSES, ALL_LABEL)]


def open_label(choices: Iterable[tuple[str, str]], open_statuses: Sequence[str]) -> str:
    """ "Open (New, In progress)": the default's words, from the list's own labels."""
    labels = dict(choices)
    return f"Open ({', '.join(str(labels.get(s, s)) for s in open_statuses)})"


def chosen_statuses(given: Iterable[str], open_statuses: Sequence[str]) -> tuple[str, ...]:
    """The statuses to read for a valid status field: those given, every one (an empty
    tuple) when "all" is among them, the open ones when none is given."""
    statuses = tuple(given)
    if ALL_STATUSES in statuses:
        return ()
    return statuses or tuple(open_statuses)


def status_select(
    form: forms.Form, choices: list[tuple[str, str]], *, open_statuses: Sequence[str]
) -> SafeString:
    """The compact bar's status select: open by default, each status, all statuses, and
    the combination a link chose when it named several."""
    data = form.data
    given = data.getlist("status") if isinstance(data, QueryDict) else []
    chosen = [v.strip() for item in given for v in item.split(",")]
    chosen = [v for v in chosen if v]
    current = ",".join(chosen)
    if set(chosen) == set(open_statuses):
        current = ""
    options = [("", open_label(choices, open_statuses)), *choices, (ALL_STATUSES, ALL_LABEL)]
    if current and current not in {value for value, _ in options}:
        labels = dict(choices)
        options.append((current, ", ".join(str(labels.get(v, v)) for v in chosen)))
    html = "".join(
        f'<option value="{escape(value)}"{" selected" if value == current else ""}>'
        f"{escape(str(label))}</option>"
        for value, label in options
    )
    errors = form.errors.get("status")
    invalid = ' aria-invalid="true" aria-describedby="id_status_error"' if errors else ""
    error_list = ""
    if errors:
        items = "".join(f"<li>{escape(str(e))}</li>" for e in errors)
        error_list = f'<ul class="errorlist" id="id_status_error">{items}</ul>'
    return mark_safe(  # noqa: S308 - every value and label is escaped
        f'<select name="status" id="id_status"{invalid}>{html}</select>{error_list}'
    )
