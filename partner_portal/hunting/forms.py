"""The hunting page's forms."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from partner_portal.core.bounds import IdsChoiceField
from partner_portal.hunting.models import Timespan
from partner_portal.hunting.services import MAX_QUERY_LENGTH
from tenants.models import Customer


class HuntForm(forms.Form):
    query = forms.CharField(
        label="KQL query",
        max_length=MAX_QUERY_LENGTH,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text='Advanced hunting KQL, e.g. AlertEvidence | where SHA1 == "…" | take 100',
    )
    timespan = forms.ChoiceField(choices=Timespan.choices, initial=Timespan.WEEK)
    customer = IdsChoiceField(
        queryset=Customer.objects.none(),
        required=False,
        label="Customers",
        help_text="None chosen: every customer you may see.",
    )

    def __init__(self, *args: Any, customers: QuerySet[Customer], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["customer"].queryset = customers  # type: ignore[attr-defined]


class SaveQueryForm(forms.Form):
    name = forms.CharField(max_length=100)
    query = forms.CharField(max_length=MAX_QUERY_LENGTH)
    timespan = forms.ChoiceField(choices=Timespan.choices)
    shared = forms.BooleanField(required=False, label="Share with every analyst")
