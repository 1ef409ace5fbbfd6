"""The alert list's filters: parsed and validated from the query string.

`AlertFilterForm` is the console's shared filter form (`console_filters`) with the alert
list's own fields (status, classification, category, detection source, product) and turns
the query string into a `reads.alert_list.AlertQuery`. The same form serves the list, its
counts, live updates, exports and charts, so they always agree on what "the current
filter" means.

The choices of status, classification and severity are the protocol core's vocabularies,
as `forms` lists them once for every form of the console; the products are `products`'.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape
from typing import Any

from django import forms
from django.http import QueryDict
from django.utils.safestring import SafeString, mark_safe

from partner_portal.alerts.console_filters import ConsoleFilterForm
from partner_portal.alerts.forms import ANY, CLASSIFICATION_CHOICES, STATUS_CHOICES
from partner_portal.alerts.products import PRODUCT_CHOICES
from partner_portal.alerts.reads.alert_list import OPEN_STATUSES, UNCLASSIFIED, AlertQuery
from partner_portal.core.bounds import IdField

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


def _datalist_options(values: Iterable[str]) -> SafeString:
    return mark_safe("".join(f'<option value="{escape(value)}">' for value in values))  # noqa: S308


# The suggestions never change: written once, not on every page.
KNOWN_CATEGORY_OPTIONS = _datalist_options(KNOWN_CATEGORIES)
KNOWN_DETECTION_SOURCE_OPTIONS = _datalist_options(KNOWN_DETECTION_SOURCES)


# The status filter's value for "every status, resolved too"; without any status the list
# shows the open alerts (New and In progress).
ALL_STATUSES = "all"
OPEN_LABEL = "Open (New, In progress)"


class StatusField(forms.MultipleChoiceField):
    """Statuses, each given on its own or several in one value, comma-separated (the
    compact bar's single select names a combination that way)."""

    def to_python(self, value: Any) -> list[str]:
        return [part.strip() for item in super().to_python(value) for part in item.split(",")]


def status_select(form: forms.Form, choices: list[tuple[str, str]]) -> SafeString:
    """The compact bar's status select: open by default, each status, all statuses, and
    the combination a link chose when it named several."""
    data = form.data
    given = data.getlist("status") if isinstance(data, QueryDict) else []
    chosen = [v.strip() for item in given for v in item.split(",")]
    chosen = [v for v in chosen if v]
    current = ",".join(chosen)
    if set(chosen) == set(OPEN_STATUSES):
        current = ""
    options = [("", OPEN_LABEL), *choices, (ALL_STATUSES, "All statuses")]
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


def product_field() -> forms.MultipleChoiceField:
    """The Product filter of the alert list and the incident queue."""
    return forms.MultipleChoiceField(
        label="Product",
        choices=PRODUCT_CHOICES,
        widget=forms.SelectMultiple(attrs={"size": 6}),
        required=False,
    )


class AlertFilterForm(ConsoleFilterForm):
    """Customer, severity, status, classification, category, detection source, product,
    MITRE technique, assignee, suppressed alerts, time and text, plus the sort order and
    the page cursor."""

    status = StatusField(
        choices=[*STATUS_CHOICES, (ALL_STATUSES, "All statuses")],
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
    product = product_field()
    technique = forms.RegexField(
        label="MITRE technique",
        regex=r"^[Tt]\d{4}(\.\d{3})?$",
        max_length=9,
        required=False,
        error_messages={"invalid": "Enter a technique ID such as T1059 or T1059.001."},
        widget=forms.TextInput(attrs={"placeholder": "T1059.001", "autocomplete": "off"}),
    )
    unassigned = forms.BooleanField(label="Unassigned only", required=False)
    # Alerts a suppression rule hid from the queue: left out unless shown.
    suppressed = forms.ChoiceField(
        label="Suppressed",
        choices=[("", "Hidden"), ("show", "Show")],
        required=False,
    )
    q = forms.CharField(
        label="Search",
        max_length=200,
        required=False,
        help_text="Title, description, computer, user or alert ID.",
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "aria-describedby": "q-help",
                "placeholder": "Search alerts (press /)",
            }
        ),
    )

    def status_select(self) -> SafeString:
        return status_select(self, list(STATUS_CHOICES))

    def to_query(self) -> AlertQuery:
        """The validated filter; call only after is_valid(). Without a status the open
        alerts; "all" every status."""
        data = self.cleaned_data
        statuses = tuple(data.get("status") or ())
        if ALL_STATUSES in statuses:
            statuses = ()
        elif not statuses:
            statuses = OPEN_STATUSES
        return AlertQuery(
            **self.common_query(),
            statuses=statuses,
            classification=data.get("classification") or "",
            category=(data.get("category") or "").strip(),
            detection_source=(data.get("detection_source") or "").strip(),
            products=tuple(data.get("product") or ()),
            technique=(data.get("technique") or "").upper(),
            unassigned=bool(data.get("unassigned")),
            show_hidden=data.get("suppressed") == "show",
        )


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
