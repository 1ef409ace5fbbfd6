"""The incident queue's filters: the console's shared filter form with the queue's own
fields (status, product, tag), turned into a `reads.incident_queue.IncidentQuery`.

The same form serves the queue, its counts, live updates and exports. Statuses are the
protocol core's incident vocabulary, less "Redirected" (merged incidents leave the queue).
Like the alert list, the queue opens on the work still to do: without a status it shows
the open incidents (`OPEN_INCIDENT_STATUSES`: Active, In progress, Awaiting action), and
"all" shows every status, resolved too; the status field and its compact select are the
alert list's (`status_filter`). Products are `products`' (the alert list's field too).
"""

from __future__ import annotations

from django import forms
from django.utils.safestring import SafeString

from partner_portal.alerts.console_filters import ConsoleFilterForm
from partner_portal.alerts.filters import product_field
from partner_portal.alerts.forms import vocabulary_choices
from partner_portal.alerts.reads.incident_queue import (
    LATEST_MARK,
    OPEN_INCIDENT_STATUSES,
    QUEUE_STATUSES,
    IncidentQuery,
)
from partner_portal.alerts.status_filter import (
    StatusField,
    chosen_statuses,
    status_choices,
    status_select,
)
from partner_portal.core.bounds import IdField

STATUS_CHOICES = vocabulary_choices(QUEUE_STATUSES)


class IncidentFilterForm(ConsoleFilterForm):
    """Customer, product, severity, status, assignee, tag, time and text, plus the sort
    order and the page cursor."""

    status = StatusField(
        choices=status_choices(STATUS_CHOICES),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    product = product_field()
    tag = forms.CharField(
        label="Tag",
        max_length=200,
        required=False,
        help_text="A tag set on the incident or one of Microsoft's, spelled exactly.",
        widget=forms.TextInput(attrs={"aria-describedby": "tag-help"}),
    )
    q = forms.CharField(
        label="Search",
        max_length=200,
        required=False,
        help_text="Incident name, incident ID or assignee.",
        widget=forms.TextInput(attrs={"type": "search", "aria-describedby": "q-help"}),
    )

    def status_select(self) -> SafeString:
        return status_select(self, STATUS_CHOICES, open_statuses=OPEN_INCIDENT_STATUSES)

    def to_query(self) -> IncidentQuery:
        """The validated filter; call only after is_valid(). Without a status the open
        incidents; "all" every status."""
        data = self.cleaned_data
        return IncidentQuery(
            **self.common_query(),
            statuses=chosen_statuses(data.get("status") or (), OPEN_INCIDENT_STATUSES),
            products=tuple(data.get("product") or ()),
            tag=(data.get("tag") or "").strip(),
        )


class IncidentLiveForm(forms.Form):
    """The queue's live poll: the change mark the page holds (microseconds)."""

    mark = IdField(min_value=0, max_value=LATEST_MARK)
