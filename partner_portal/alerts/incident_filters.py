"""The incident queue's filters: the console's shared filter form with the queue's own
fields (status, product, tag), turned into a `reads.incident_queue.IncidentQuery`.

The same form serves the queue, its counts, live updates and exports. Statuses are the
protocol core's incident vocabulary, less "Redirected" (merged incidents leave the queue);
products are `products`' (the same field as the alert list's).
"""

from __future__ import annotations

from django import forms

from partner_portal.alerts.console_filters import ConsoleFilterForm
from partner_portal.alerts.filters import product_field
from partner_portal.alerts.forms import vocabulary_choices
from partner_portal.alerts.reads.incident_queue import LATEST_MARK, QUEUE_STATUSES, IncidentQuery
from partner_portal.core.bounds import IdField


class IncidentFilterForm(ConsoleFilterForm):
    """Customer, product, severity, status, assignee, tag, time and text, plus the sort
    order and the page cursor."""

    status = forms.MultipleChoiceField(
        choices=vocabulary_choices(QUEUE_STATUSES),
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

    def to_query(self) -> IncidentQuery:
        """The validated filter; call only after is_valid()."""
        data = self.cleaned_data
        return IncidentQuery(
            **self.common_query(),
            statuses=tuple(data.get("status") or ()),
            products=tuple(data.get("product") or ()),
            tag=(data.get("tag") or "").strip(),
        )


class IncidentLiveForm(forms.Form):
    """The queue's live poll: the change mark the page holds (microseconds)."""

    mark = IdField(min_value=0, max_value=LATEST_MARK)
