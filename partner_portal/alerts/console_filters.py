"""What the console's lists share in their filters: the form they grow from.

The alert list (`filters.AlertFilterForm`) and the incident queue
(`incident_filters.IncidentFilterForm`) keep their whole filter in the URL, so that a view
of the console can be bookmarked or shared, and read it with a form built on
`ConsoleFilterForm`: customers (limited to the user's scope), severity, assignee, text,
time range, sort order and page cursor, the checks of each, and the fast path that writes
the inputs (`controls`). Each list adds its own fields and turns the result into its query.

The list pages print the inputs this form writes (`controls`, `customer_options`) rather
than Django's widget templates: `bench/RESULTS.md` (Console) has the figures that keep it
so. The markup matches what the widgets would write (`tests/alerts/test_list_markup.py`).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from html import escape
from typing import Any, cast

from django import forms
from django.http import QueryDict
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from partner_portal.alerts.forms import SEVERITY_CHOICES
from partner_portal.alerts.reads.keyset import SORTS, InvalidCursor, decode_cursor
from tenants.scoping import visible_customers

PERIODS = {
    "24h": timedelta(hours=24),
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
}

# Query-string keys that are not part of the filter itself (paging, live mark).
NAVIGATION_KEYS = ("after", "before", "start", "since_id", "mark", "window")
# The most a page's position may claim to start at (`start`, carried by the page links).
MAX_START = 10**9
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


def _time_field(label: str) -> forms.DateTimeField:
    return forms.DateTimeField(
        label=label,
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
    )


class ConsoleFilterForm(forms.Form):
    """Customer, severity, assignee, text and time, plus the sort order and the page
    cursor: the filters every console list offers."""

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
    assigned_to = forms.CharField(label="Assigned to", max_length=255, required=False)
    mine = forms.BooleanField(label="Assigned to me", required=False)
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
    since = _time_field("From (UTC)")
    until = _time_field("Until (UTC)")
    sort = forms.ChoiceField(
        label="Sort by",
        choices=[(key, spec.label) for key, spec in SORTS.items()],
        required=False,
        # The page's script leaves the default order out of the URL, like an empty field.
        widget=forms.Select(attrs={"data-default": "newest"}),
    )
    after = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    before = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)
    # How many rows come before this page (the page links carry it; only for the
    # position "51-100 of 2,304", never for what the page reads).
    start = forms.IntegerField(
        required=False, min_value=0, max_value=MAX_START, widget=forms.HiddenInput
    )

    def __init__(self, data: QueryDict, *, user: Any, now: datetime | None = None) -> None:
        # An empty field is no filter: a form sent without the page's script (which
        # leaves empty fields out) reads exactly like the canonical link.
        data = without_empty(data)
        super().__init__(data)
        self.query = data
        self.now = now or datetime.now(UTC)
        zone = timezone.get_current_timezone_name()
        self.fields["since"].label = f"From ({zone})"
        self.fields["until"].label = f"Until ({zone})"
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
        """Each filter's input (with its error list) as HTML, by field name (the customer
        select aside, see `customer_options`, and the hidden cursors).

        The list pages print these instead of letting Django render each widget through
        its templates, which cost about 1.5 ms a page. The markup matches what the
        widgets would write: the same names, ids and attributes, the submitted value
        kept, `aria-invalid` and the error list's id on a field with errors.
        """
        html: dict[str, SafeString] = {}
        for name, field in self.fields.items():
            widget = field.widget
            if name == "customer" or isinstance(widget, forms.HiddenInput):
                continue
            if isinstance(widget, forms.CheckboxSelectMultiple):
                html[name] = self._checkboxes(name)
            elif isinstance(widget, forms.CheckboxInput):
                html[name] = self._checkbox(name)
            elif isinstance(widget, forms.SelectMultiple):
                html[name] = self._select(name, multiple=True)
            elif isinstance(widget, forms.Select):
                html[name] = self._select(name)
            else:
                html[name] = self._text_input(name)
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

    def _select(self, name: str, *, multiple: bool = False) -> SafeString:
        chosen = set(self.query.getlist(name)) if multiple else {self._raw(name)}
        options = "".join(
            f'<option value="{escape(str(value))}"'
            f"{' selected' if str(value) in chosen else ''}>{escape(str(label))}</option>"
            for value, label in self._choices(name)
        )
        aria, errors = self._described(name)
        extra = ""
        default = self.fields[name].widget.attrs.get("data-default")
        if default:
            extra += f' data-default="{escape(str(default))}"'
        if multiple:
            extra = " multiple"
            size = self.fields[name].widget.attrs.get("size")
            if size:
                extra += f' size="{int(size)}"'
        return mark_safe(  # noqa: S308 - every choice and message is escaped
            f'<select name="{name}"{aria} id="id_{name}"{extra}>{options}</select>{errors}'
        )

    def _checkbox(self, name: str) -> SafeString:
        checked = " checked" if getattr(self, "cleaned_data", {}).get(name) else ""
        return mark_safe(  # noqa: S308 - nothing here comes from the request
            f'<input type="checkbox" name="{name}" value="on" id="id_{name}"{checked}>'
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
        if data.get("mine") and (data.get("assigned_to") or "").strip():
            self.add_error(
                "assigned_to", "Choose either “Assigned to me” or an assignee, not both."
            )
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

    def common_query(self) -> dict[str, Any]:
        """The shared part of the validated filter, as keyword arguments of a list's
        query; call only after is_valid()."""
        data = self.cleaned_data
        since = until = None
        period = data.get("period") or ""
        if period in PERIODS:
            since = self.now - PERIODS[period]
        elif period == "custom":
            since, until = data.get("since"), data.get("until")
        customers = data.get("customer")
        return {
            "customers": tuple(customers) if customers is not None else None,
            "severities": tuple(data.get("severity") or ()),
            "assigned_to": (
                my_assignee(self.user) if data.get("mine") else (data.get("assigned_to") or "")
            ).strip(),
            "text": (data.get("q") or "").strip(),
            "since": since,
            "until": until,
            "sort": data.get("sort") or "newest",
        }

    def narrowed_querystring(self, name: str, value: str) -> str:
        """The filter with field `name` set to `value` alone (a count's link: the rows it
        counts), as a query string without the page cursor."""
        params = QueryDict(self.filter_querystring(), mutable=True)
        params.setlist(name, [value])
        return params.urlencode()

    def filter_querystring(self) -> str:
        """The filter alone as a query string (no page cursor), for exports, charts,
        counts, live updates and saved views: only the fields that hold a value, so
        every link the page writes is the canonical one."""
        return canonical_querystring(self.data)

    def link(self, list_url: str, **changes: str | None) -> str:
        """`list_url` with the filter and `changes` (None drops a key), canonical."""
        params = QueryDict(self.filter_querystring(), mutable=True)
        for key, value in changes.items():
            if value is None:
                params.pop(key, None)
            else:
                params.setlist(key, [value])
        query = params.urlencode()
        return f"{list_url}?{query}" if query else list_url


def without_empty(data: QueryDict) -> QueryDict:
    """`data` less its empty values (and the keys left with none)."""
    kept = QueryDict(mutable=True)
    for key in data:
        values = [v for v in data.getlist(key) if v.strip()]
        if values:
            kept.setlist(key, values)
    return kept


def canonical_querystring(data: Any) -> str:
    """`data`'s filter as a query string: navigation keys and empty values left out."""
    params = QueryDict(mutable=True)
    if isinstance(data, QueryDict):
        for key in data:
            if key in NAVIGATION_KEYS:
                continue
            values = [v for v in data.getlist(key) if v.strip()]
            if values:
                params.setlist(key, values)
    return params.urlencode()


def my_assignee(user: Any) -> str:
    """The signed-in analyst as Defender's assignedTo names them: the e-mail address
    the write-back form asks for (`forms.AlertUpdateForm`), else the sign-in name."""
    email = (getattr(user, "email", "") or "").strip()
    return email or (user.get_username() if hasattr(user, "get_username") else "")


def _as_utc(value: datetime | None) -> datetime | None:
    # The inputs name the reader's zone ("From (Europe/Amsterdam)"; UTC unless they chose
    # one): a time without a zone is read in it, whatever the server's.
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.get_current_timezone())
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # E.g. 0001-01-01T00:00+05:00: in UTC it falls before the year 1.
        raise forms.ValidationError("Enter a time between the years 1 and 9999.") from None
