"""Forms of the console's detail, write-back and scope pages, and the vocabularies' choices
every form of the console offers; they validate, services write."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Count

from partner_portal.alerts.reads.alert_list import SEVERITIES
from partner_portal.alerts.writeback import BULK_LIMIT, CALLS_PER_MINUTE, AlertChanges
from partner_portal.core.access import Role
from partner_portal.core.bounds import parse_whole_number
from partner_portal.defender import (
    SETTABLE_ALERT_DETERMINATIONS,
    SETTABLE_ALERT_STATUSES,
    AlertClassification,
    AlertSeverity,
    Vocabulary,
)
from tenants import people
from tenants.models import Customer

KEEP = ("", "— keep as it is —")
ANY = ("", "Any")


def vocabulary_choices(members: Iterable[Vocabulary]) -> list[tuple[str, str]]:
    """`(value, label)` of each of the protocol core's vocabulary `members`, in order."""
    return [(member.value, member.label) for member in members]


# What an analyst may set on an alert (`PATCH /api/alerts/{id}`), as the core lists them;
# "Unknown" is a classification Defender reports, never one to set.
STATUS_CHOICES = vocabulary_choices(SETTABLE_ALERT_STATUSES)
CLASSIFICATION_CHOICES = vocabulary_choices(
    c for c in AlertClassification if c is not AlertClassification.UNKNOWN
)
DETERMINATION_CHOICES = vocabulary_choices(SETTABLE_ALERT_DETERMINATIONS)
# The severities the console filters alerts and incidents by, highest first.
SEVERITY_CHOICES = vocabulary_choices(AlertSeverity(s) for s in SEVERITIES)


class AlertIdsField(forms.Field):
    """Alert primary keys chosen by checkboxes; which of them the user may touch is the
    selector's business, not the form's."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        if not value:
            return []
        values = value if isinstance(value, list | tuple) else [value]
        pks = [parse_whole_number(v) for v in values]
        if None in pks:
            raise forms.ValidationError("The selection is not valid; reload the list.")
        return list(dict.fromkeys(pk for pk in pks if pk is not None))


def seen_last_update(value: str) -> datetime | None:
    """The last-update time a write-back page was rendered from (its hidden field), for
    the conflict check; None if the page sent none."""
    value = value.strip()
    if not value:
        return None
    try:
        seen = datetime.fromisoformat(value)
    except ValueError:
        raise forms.ValidationError("The page is out of date; reload it.") from None
    if seen.tzinfo is None:
        raise forms.ValidationError("The page is out of date; reload it.")
    return seen


def changes_of(data: dict[str, Any]) -> AlertChanges:
    """What a write-back form asks for, each empty field left as it is in Defender."""
    return AlertChanges(
        status=data["status"] or None,
        assigned_to=data["assigned_to"] or None,
        classification=data["classification"] or None,
        determination=data["determination"] or None,
        comment=data["comment"] or None,
    )


class AlertUpdateForm(forms.Form):
    """One alert's status, assignee, classification, determination and a comment."""

    status = forms.ChoiceField(choices=[KEEP, *STATUS_CHOICES], required=False)
    assigned_to = forms.CharField(
        label="Assigned to",
        max_length=255,
        required=False,
        help_text="The analyst's e-mail address as Defender knows it.",
    )
    classification = forms.ChoiceField(choices=[KEEP, *CLASSIFICATION_CHOICES], required=False)
    determination = forms.ChoiceField(choices=[KEEP, *DETERMINATION_CHOICES], required=False)
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        required=False,
        help_text="Added to the alert's comments in Defender.",
    )
    # The alert's lastUpdateTime the page was rendered from: the conflict check.
    seen_last_update = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_seen_last_update(self) -> datetime | None:
        return seen_last_update(self.cleaned_data["seen_last_update"])

    def clean_comment(self) -> str:
        return self.cleaned_data["comment"].strip()

    def clean_assigned_to(self) -> str:
        return self.cleaned_data["assigned_to"].strip()

    def changes(self) -> AlertChanges:
        return changes_of(self.cleaned_data)


class BulkUpdateForm(forms.Form):
    """Status and/or assignee for a selection of alerts (posted by the list page), and
    classification, determination and a comment (posted by a campaign's page)."""

    alert = AlertIdsField(error_messages={"required": "Select at least one alert."})
    status = forms.ChoiceField(choices=[KEEP, *STATUS_CHOICES], required=False)
    assigned_to = forms.CharField(max_length=255, required=False)
    classification = forms.ChoiceField(choices=[KEEP, *CLASSIFICATION_CHOICES], required=False)
    determination = forms.ChoiceField(choices=[KEEP, *DETERMINATION_CHOICES], required=False)
    comment = forms.CharField(max_length=4000, required=False)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_alert(self) -> list[int]:
        chosen: list[int] = self.cleaned_data["alert"]
        if len(chosen) > BULK_LIMIT:
            raise forms.ValidationError(
                f"Select at most {BULK_LIMIT} alerts at a time "
                f"(Microsoft allows {CALLS_PER_MINUTE} calls a minute per customer)."
            )
        return chosen

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["assigned_to"] = (data.get("assigned_to") or "").strip()
        data["comment"] = (data.get("comment") or "").strip()
        wanted = ("status", "assigned_to", "classification", "determination", "comment")
        if not any(data.get(name) for name in wanted):
            raise forms.ValidationError(
                "Choose a status, an assignee, a classification, a determination or a comment "
                "to apply."
            )
        return data

    def changes(self) -> AlertChanges:
        return changes_of(self.cleaned_data)


class _PersonChoice(forms.ModelChoiceField):
    """A person by user name, with their roles (a grant only matters to an analyst)."""

    def label_from_instance(self, obj: Any) -> str:
        roles = people.roles_of(obj)
        if obj.is_superuser or Role.ADMIN.value in roles:
            return f"{obj.get_username()} — portal admin, sees every customer anyway"
        if Role.ANALYST.value not in roles:
            return f"{obj.get_username()} — not an analyst yet"
        return obj.get_username()


class _GroupChoice(forms.ModelChoiceField):
    """A group with its number of members; role groups say they are one."""

    def label_from_instance(self, obj: Any) -> str:
        members = f"{obj.members} member{'s' if obj.members != 1 else ''}"
        kind = "role" if obj.name in people.ROLE_NAMES else "team"
        return f"{obj.name} ({kind}, {members})"


class ScopeGrantForm(forms.Form):
    """Grant one person or one group either one customer or every customer."""

    user = _PersonChoice(
        label="Person",
        queryset=get_user_model().objects.none(),
        required=False,
        empty_label="— no person: grant to the group below —",
    )
    group = _GroupChoice(
        label="or group",
        queryset=Group.objects.none(),
        required=False,
        empty_label="— no group: grant to the person above —",
    )
    customer = forms.ModelChoiceField(
        queryset=Customer.objects.none(), required=False, empty_label="— choose a customer —"
    )
    all_customers = forms.BooleanField(
        label="All customers (an explicit grant of everything)", required=False
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        user_field: Any = self.fields["user"]
        # Every active person: analysts first in mind, but a grant may precede the role.
        user_field.queryset = (
            get_user_model()
            .objects.filter(is_active=True)
            .prefetch_related("groups")
            .order_by("username")
        )
        group_field: Any = self.fields["group"]
        group_field.queryset = Group.objects.annotate(members=Count("user")).order_by("name")
        customer_field: Any = self.fields["customer"]
        customer_field.queryset = Customer.objects.order_by("display_name")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("user")) == bool(data.get("group")):
            raise forms.ValidationError("Choose either a user or a group.")
        if bool(data.get("customer")) == bool(data.get("all_customers")):
            raise forms.ValidationError("Choose either one customer or “All customers”.")
        return data
