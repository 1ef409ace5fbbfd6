"""The alert list's filters: parsed and validated from the query string.

`AlertFilterForm` is the console's shared filter form (`console_filters`) with the alert
list's own fields (status, classification, category, detection source, product) and turns
the query string into a `reads.alert_list.AlertQuery`. The same form serves the list, its
counts, live updates, exports and charts, so they always agree on what "the current
filter" means.

The choices of status, classification and severity are the protocol core's vocabularies,
as `forms` lists them once for every form of the console; the products are `products`'.
The status filter (open by default, "all" for every status) is `status_filter`'s, shared
with the incident queue.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from django import forms
from django.utils.safestring import SafeString, mark_safe

from partner_portal.alerts.console_filters import ConsoleFilterForm
from partner_portal.alerts.forms import ANY, CLASSIFICATION_CHOICES, STATUS_CHOICES
from partner_portal.alerts.products import PRODUCT_CHOICES
from partner_portal.alerts.reads.alert_list import OPEN_STATUSES, UNCLASSIFIED, AlertQuery
from partner_portal.alerts.status_filter import (
    StatusField,
    chosen_statuses,
    status_choices,
    status_select,
)
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
        choices=status_choices(STATUS_CHOICES),
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
        return status_select(self, list(STATUS_CHOICES), open_statuses=OPEN_STATUSES)

    def to_query(self) -> AlertQuery:
        """The validated filter; call only after is_valid(). Without a status the open
        alerts; "all" every status."""
        data = self.cleaned_data
        return AlertQuery(
            **self.common_query(),
            statuses=chosen_statuses(data.get("status") or (), OPEN_STATUSES),
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
