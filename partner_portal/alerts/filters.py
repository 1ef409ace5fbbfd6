"""The alert list's filters: parsed and validated from the query string.

The whole filter lives in the URL so that a view of the console can be bookmarked or
shared; this form turns it into a `reads.alert_list.AlertQuery`. The same form serves the
list, its counts, live updates, exports and charts, so they always agree on what "the
current filter" means.

The choices of status, classification and severity are the protocol core's vocabularies,
as `forms` lists them once for every form of the console. The list page prints the
inputs this form writes (`controls`, `customer_options`) rather than Django's widget
templates: `bench/RESULTS.md` (Console) has the figures that keep it so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from html import escape
from typing import Any, cast

from django import forms
from django.http import QueryDict
from django.utils.safestring import SafeString, mark_safe

from partner_portal.alerts.forms import (
    ANY,
    CLASSIFICATION_CHOICES,
    SEVERITY_CHOICES,
    STATUS_CHOICES,
)
from partner_portal.alerts.reads.alert_list import UNCLASSIFIED, AlertQuery
from partner_portal.alerts.reads.keyset import SORTS, InvalidCursor, decode_cursor
from partner_portal.core.bounds import IdField
from tenants.scoping import visible_customers

# Values Defender is known to send; offered as suggestions, any other value is accepted.
KNOWN_CATEGORIES = (
    "Collection", "CommandAndControl", "CredentialAccess", "DefenseEvasion", "Discovery",
    "Execution", "Exfiltration", "Exploit", "Impact", "InitialAccess", "LateralMovement",
    "Malware", "Persistence", "PrivilegeEscalation", "Ransomware", "SuspiciousActivity",
    "UnwantedSoftware",
)  # fmt: skip
KNOWN_DETECTION_SOURCES = (
    "AutomatedInvestigation", "CustomDetection", "CustomerTI", "WindowsDefenderAtp",
    "WindowsDefenderAv", "WindowsDefenderSmartScreen",
)  # fmt: skip

PERIODS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}


def _datalist_options(values: Iterable[str]) -> SafeString:
    return mark_safe("".join(f'<option value="{escape(value)}">' for value in values))  # noqa: S308


# The suggestions never change: written once, not on every page.
KNOWN_CATEGORY_OPTIONS = _datalist_options(KNOWN_CATEGORIES)
KNOWN_DETECTION_SOURCE_OPTIONS = _datalist_options(KNOWN_DETECTION_SOURCES)

# Query-string keys that are not part of the filter itself (paging, live mark).
NAVIGATION_KEYS = ("after", "before", "since_id", "window")
BAD_PAGE_LINK = "This page link is not valid; start from the first page."


class ScopedCustomerField(forms.TypedMultipleChoiceField):
    """Customer pks, limited to the customers in the user's scope.

    A pk outside the scope (or not a number) is dropped rather than refused: a shared
    link may name a customer this analyst cannot see, and the page must neither widen
    the result nor confirm that the customer exists.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(coerce=int, empty_value=None, required=False, **kwargs)
        self.ignored = 0
        self.visible: list[tuple[int, str]] = []

    def limit_to(self, customers: list[tuple[int, str]]) -> None:
        """Offer (and accept) only these (pk, name) pairs."""
        self.visible = customers
        # Handed over as a callable, so the choices are only normalised if the widget is
        # ever rendered (the list writes its options with `customer_options`).
        self.choices = lambda: customers

    def clean(self, value: Any) -> list[int] | None:
        if not value:
            return None
        allowed = {str(pk) for pk, _ in self.visible}
        kept: list[int] = []
        self.ignored = 0
        for item in value if isinstance(value, list | tuple) else [value]:
            text = str(item).strip()
            if text in allowed:
                if int(text) not in kept:
                    kept.append(int(text))
            else:
                self.ignored += 1
        return kept


class AlertFilterForm(forms.Form):
    """Customer, severity, status, classification, category, detection source, assignee,
    time and text, plus the sort order and the page cursor."""

    customer = ScopedCustomerField(
        label="Customers",
        widget=forms.SelectMultiple(attrs={"size": 6}),
        help_text="Hold Ctrl (⌘ on a Mac) to pick several.",
    )
    severity = forms.MultipleChoiceField(
        choices=SEVERITY_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    status = forms.MultipleChoiceField(
        choices=STATUS_CHOICES,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    classification = forms.ChoiceField(
        choices=[ANY, *CLASSIFICATION_CHOICES, (UNCLASSIFIED, "Not classified")],
        required=False,
    )
    category = forms.CharField(
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"list": "known-categories", "autocomplete": "off"}),
    )
    detection_source = forms.CharField(
        label="Detection source",
        max_length=64,
        required=False,
        widget=forms.TextInput(attrs={"list": "known-detection-sources", "autocomplete": "off"}),
    )
    assigned_to = forms.CharField(label="Assigned to", max_length=255, required=False)
    unassigned = forms.BooleanField(label="Unassigned only", required=False)
    q = forms.CharField(
        label="Search",
        max_length=200,
        required=False,
        help_text="Title, description, computer, user or alert ID.",
        widget=forms.TextInput(attrs={"type": "search", "aria-describedby": "q-help"}),
    )
    period = forms.ChoiceField(
        label="Time",
        choices=[
            ("", "Any time"),
            ("24h", "Last 24 hours"),
            ("7d", "Last 7 days"),
            ("30d", "Last 30 days"),
            ("custom", "Custom range"),
        ],
        required=False,
    )
    since = forms.DateTimeField(
        label="From (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    until = forms.DateTimeField(
        label="Until (UTC)",
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )
    sort = forms.ChoiceField(
        label="Sort by",
        choices=[(key, spec.label) for key, spec in SORTS.items()],
        required=False,
    )
    after = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def __init__(self, data: QueryDict, *, user: Any, now: datetime | None = None) -> None:
        super().__init__(data)
        self.query = data
        self.now = now or datetime.now(UTC)
        customer_field = self.fields["customer"]
        assert isinstance(customer_field, ScopedCustomerField)
        customer_field.limit_to(
            list(visible_customers(user=user).values_list("pk", "display_name"))
        )
        self.user = user

    def customer_options(self) -> SafeString:
        """The customer select's <option> elements, the chosen ones selected.

        Written here rather than by the widget's or a template's loop: for the 500
        customers of a large partner those cost milliseconds on every page.
        """
        field = self.fields["customer"]
        assert isinstance(field, ScopedCustomerField)
        chosen = set(getattr(self, "cleaned_data", {}).get("customer") or ())
        return mark_safe(  # noqa: S308 - every value below is escaped
            "".join(
                f'<option value="{pk}"{" selected" if pk in chosen else ""}>{escape(name)}</option>'
                for pk, name in field.visible
            )
        )

    @cached_property
    def controls(self) -> dict[str, SafeString]:
        """Each filter's input (with its error list) as HTML, by field name.

        The list page prints these instead of letting Django render each widget through
        its templates, which cost about 1.5 ms a page. The markup matches what the
        widgets would write: the same names, ids and attributes, the submitted value
        kept, `aria-invalid` and the error list's id on a field with errors.
        """
        html: dict[str, SafeString] = {}
        for name in ("q", "category", "detection_source", "assigned_to", "since", "until"):
            html[name] = self._text_input(name)
        for name in ("classification", "period", "sort"):
            html[name] = self._select(name)
        for name in ("severity", "status"):
            html[name] = self._checkboxes(name)
        html["unassigned"] = self._checkbox("unassigned")
        return html

    def _described(self, name: str, help_id: str = "") -> tuple[str, str]:
        """(the aria attributes, the error list) of field `name`."""
        errors = self.errors.get(name)
        if not errors:
            return (f' aria-describedby="{escape(help_id)}"' if help_id else ""), ""
        error_id = f"id_{name}_error"
        items = "".join(f"<li>{escape(str(message))}</li>" for message in errors)
        described = f"{help_id} {error_id}".strip()
        return (
            f' aria-invalid="true" aria-describedby="{escape(described)}"',
            f'<ul class="errorlist" id="{error_id}">{items}</ul>',
        )

    def _raw(self, name: str) -> str:
        value = self.query.get(name)
        return value if isinstance(value, str) else ""

    def _text_input(self, name: str) -> SafeString:
        # Type and attributes come from the field's widget (which also carries the
        # field's maxlength), so the declarations above stay the one source.
        widget = self.fields[name].widget
        attrs = dict(widget.attrs)
        kind = attrs.pop("type", getattr(widget, "input_type", "text"))
        help_id = attrs.pop("aria-describedby", "")
        fixed = "".join(f' {key}="{escape(str(value))}"' for key, value in attrs.items())
        value = self._raw(name)
        shown = f' value="{escape(value)}"' if value else ""
        aria, errors = self._described(name, help_id)
        return mark_safe(  # noqa: S308 - the only variable parts are escaped
            f'<input type="{escape(kind)}" name="{name}"{shown}{fixed}{aria} id="id_{name}">'
            + errors
        )

    def _choices(self, name: str) -> list[tuple[Any, Any]]:
        # Django keeps a field's choices normalised to a list of (value, label) pairs.
        return cast(list[tuple[Any, Any]], self.fields[name].choices)  # type: ignore[attr-defined]

    def _select(self, name: str) -> SafeString:
        chosen = self._raw(name)
        options = "".join(
            f'<option value="{escape(str(value))}"'
            f"{' selected' if str(value) == chosen else ''}>{escape(str(label))}</option>"
            for value, label in self._choices(name)
        )
        aria, errors = self._described(name)
        return mark_safe(  # noqa: S308 - every choice and message is escaped
            f'<select name="{name}"{aria} id="id_{name}">{options}</select>{errors}'
        )

    def _checkboxes(self, name: str) -> SafeString:
        chosen = set(self.query.getlist(name))
        invalid = ' aria-invalid="true"' if self.errors.get(name) else ""
        boxes = []
        for index, (value, label) in enumerate(self._choices(name)):
            text = escape(str(label))
            if name == "severity":
                text = f'<span class="badge sev-{escape(str(value))}">{text}</span>'
            boxes.append(
                f'<label class="check" for="id_{name}_{index}"><input type="checkbox"'
                f' name="{name}" value="{escape(str(value))}" id="id_{name}_{index}"{invalid}'
                f"{' checked' if str(value) in chosen else ''}> {text}</label>"
            )
        _, errors = self._described(name)
        return mark_safe("".join(boxes) + errors)  # noqa: S308 - labels and values escaped

    def _checkbox(self, name: str) -> SafeString:
        checked = " checked" if getattr(self, "cleaned_data", {}).get(name) else ""
        return mark_safe(  # noqa: S308 - nothing here comes from the request
            f'<input type="checkbox" name="{name}" value="on" id="id_{name}"{checked}>'
        )

    @property
    def ignored_customers(self) -> int:
        field = self.fields["customer"]
        return field.ignored if isinstance(field, ScopedCustomerField) else 0

    def clean_since(self) -> datetime | None:
        return _as_utc(self.cleaned_data.get("since"))

    def clean_until(self) -> datetime | None:
        return _as_utc(self.cleaned_data.get("until"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        sort = data.get("sort") or "newest"
        data["sort"] = sort
        if data.get("period") == "custom":
            since, until = data.get("since"), data.get("until")
            if since and until and since >= until:
                self.add_error("until", "The end of the range must come after its start.")
        if data.get("after") and data.get("before"):
            self.add_error(None, "A page link carries either “after” or “before”, not both.")
        for key in ("after", "before"):
            # The cursor is a hidden field: report it where the analyst sees it.
            if self.has_error(key):
                self.add_error(None, BAD_PAGE_LINK)
                break
            if data.get(key):
                try:
                    decode_cursor(data[key], sort)
                except InvalidCursor:
                    self.add_error(None, BAD_PAGE_LINK)
                    data.pop(key, None)
                    break
        return data

    def to_query(self) -> AlertQuery:
        """The validated filter; call only after is_valid()."""
        data = self.cleaned_data
        since = until = None
        period = data.get("period") or ""
        if period in PERIODS:
            since = self.now - PERIODS[period]
        elif period == "custom":
            since, until = data.get("since"), data.get("until")
        customers = data.get("customer")
        return AlertQuery(
            customers=tuple(customers) if customers is not None else None,
            severities=tuple(data.get("severity") or ()),
            statuses=tuple(data.get("status") or ()),
            classification=data.get("classification") or "",
            category=(data.get("category") or "").strip(),
            detection_source=(data.get("detection_source") or "").strip(),
            assigned_to=(data.get("assigned_to") or "").strip(),
            text=(data.get("q") or "").strip(),
            since=since,
            until=until,
            sort=data.get("sort") or "newest",
            unassigned=bool(data.get("unassigned")),
        )

    def filter_querystring(self) -> str:
        """The filter alone as a query string (no page cursor), for exports, charts,
        counts and live updates."""
        params = self.data.copy() if isinstance(self.data, QueryDict) else QueryDict(mutable=True)
        for key in NAVIGATION_KEYS:
            params.pop(key, None)
        return params.urlencode()


class LiveForm(forms.Form):
    """The live-update poll: the pk mark the page already holds."""

    since_id = IdField(min_value=0)


class ChartWindowForm(forms.Form):
    window = forms.ChoiceField(
        choices=[("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days")],
        required=False,
    )

    def clean_window(self) -> str:
        return self.cleaned_data.get("window") or "7d"


def _as_utc(value: datetime | None) -> datetime | None:
    # The inputs say "(UTC)": a time without a zone is read as UTC, whatever the server's.
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # E.g. 0001-01-01T00:00+05:00: in UTC it falls before the year 1.
        raise forms.ValidationError("Enter a time between the years 1 and 9999.") from None
