"""Forms of the SLA pages: a goal (its times, calendar and warning) and the month of
the report."""

from __future__ import annotations

from datetime import date
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from partner_portal.defender import AlertSeverity
from partner_portal.notifications.forms import _words
from partner_portal.notifications.models import CustomerTag

#: The longest SLA goal: 90 days.
MAX_MINUTES = 90 * 24 * 60
WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
MAX_HOLIDAYS = 200


class SlaGoalForm(forms.Form):
    """One SLA goal: a tag (or all customers), a severity and its two times, in minutes."""

    tag = forms.ModelChoiceField(
        queryset=CustomerTag.objects.all(), required=False, empty_label="All customers"
    )
    severity = forms.ChoiceField(choices=AlertSeverity.choices())
    acknowledge_minutes = forms.IntegerField(
        label="Acknowledge within (minutes)", required=False, min_value=1, max_value=MAX_MINUTES
    )
    resolve_minutes = forms.IntegerField(
        label="Resolve within (minutes)", required=False, min_value=1, max_value=MAX_MINUTES
    )
    business_days = forms.TypedMultipleChoiceField(
        label="Count business hours only, on",
        choices=WEEKDAYS,
        coerce=int,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="None ticked: the clocks run round the clock (24x7).",
    )
    start_hour = forms.IntegerField(
        label="Business hours from", min_value=0, max_value=23, initial=9, required=False
    )
    end_hour = forms.IntegerField(
        label="Business hours to", min_value=1, max_value=24, initial=17, required=False
    )
    holidays = forms.CharField(
        label="Holidays",
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Dates such as 2026-12-25, separated by commas or lines; the clocks stop "
        "on them.",
    )
    warn_percent = forms.IntegerField(
        label="Warn when this share of the time has passed (%)",
        required=False,
        min_value=1,
        max_value=99,
        help_text="Empty: no warning. Policies that ask for SLA events send the warning.",
    )

    def clean_holidays(self) -> list[str]:
        days = []
        for text in _words(self.cleaned_data.get("holidays") or ""):
            try:
                days.append(date.fromisoformat(text).isoformat())
            except ValueError:
                raise ValidationError(f"“{text}” is not a date like 2026-12-25.") from None
        if len(days) > MAX_HOLIDAYS:
            raise ValidationError(f"At most {MAX_HOLIDAYS} holidays.")
        return sorted(set(days))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("acknowledge_minutes") and not data.get("resolve_minutes"):
            raise ValidationError("Give a time to acknowledge, a time to resolve, or both.")
        start = data["start_hour"] = 9 if data.get("start_hour") is None else data["start_hour"]
        end = data["end_hour"] = 17 if data.get("end_hour") is None else data["end_hour"]
        if data.get("business_days") and end <= start:
            self.add_error("end_hour", "Business hours must end after they start.")
        return data


class SlaReportForm(forms.Form):
    """The month of the SLA report, as YYYY-MM (this month when not given)."""

    month = forms.CharField(required=False, max_length=20)

    def clean_month(self) -> date:
        text = (self.cleaned_data.get("month") or "").strip()
        if not text:
            return timezone.now().date().replace(day=1)  # a UTC month
        try:
            year, month = (int(part) for part in text.split("-"))
            chosen = date(year, month, 1)
        except ValueError:
            raise ValidationError(f"“{text}” is not a month like 2026-11.") from None
        if not 2000 <= chosen.year <= 2100:
            raise ValidationError("Choose a month between 2000 and 2100.")
        return chosen
