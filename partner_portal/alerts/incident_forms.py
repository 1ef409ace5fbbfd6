"""Forms of the incident write-back: one incident's changes, and a selection's.

Values are offered as the portal spells them; the choices are those Microsoft Graph
takes on `PATCH /security/incidents/{id}` (redirected and awaiting action are Microsoft's
to give; the legacy API's determinations "not available" and "insufficient data" have no
Graph member of that name and are left out).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import forms

from partner_portal.alerts.forms import (
    CLASSIFICATION_CHOICES,
    KEEP,
    AlertIdsField,
    seen_last_update,
    vocabulary_choices,
)
from partner_portal.alerts.incident_writeback import INCIDENT_BULK_LIMIT, IncidentChanges
from partner_portal.alerts.models import Incident
from partner_portal.defender import (
    SETTABLE_ALERT_DETERMINATIONS,
    AlertDetermination,
    IncidentStatus,
)

INCIDENT_STATUS_CHOICES = vocabulary_choices(
    (IncidentStatus.ACTIVE, IncidentStatus.IN_PROGRESS, IncidentStatus.RESOLVED)
)
GRAPH_DETERMINATION_CHOICES = vocabulary_choices(
    d
    for d in SETTABLE_ALERT_DETERMINATIONS
    if d not in (AlertDetermination.NOT_AVAILABLE, AlertDetermination.INSUFFICIENT_DATA)
)
TAG_LIMIT = 50


def incident_initial(incident: Incident) -> dict[str, str]:
    """The form as the incident's row has it (what Defender had at the last read)."""
    settable = dict(INCIDENT_STATUS_CHOICES)
    return {
        "status": incident.status if incident.status in settable else "",
        "assigned_to": incident.assigned_to,
        "classification": incident.classification,
        "determination": incident.determination,
        "custom_tags": ", ".join(incident.custom_tags or incident.tags or []),
        "seen_last_update": (
            incident.last_updated_at.isoformat() if incident.last_updated_at else ""
        ),
    }


class IncidentUpdateForm(forms.Form):
    """One incident's status, assignee, classification, determination, tags, comment."""

    status = forms.ChoiceField(choices=[KEEP, *INCIDENT_STATUS_CHOICES], required=False)
    assigned_to = forms.CharField(
        label="Assigned to",
        max_length=255,
        required=False,
        help_text="The analyst's e-mail address as Defender knows it.",
    )
    classification = forms.ChoiceField(choices=[KEEP, *CLASSIFICATION_CHOICES], required=False)
    determination = forms.ChoiceField(choices=[KEEP, *GRAPH_DETERMINATION_CHOICES], required=False)
    custom_tags = forms.CharField(
        label="Tags",
        max_length=2000,
        required=False,
        help_text="Separated by commas; they replace the incident's tags in Defender.",
    )
    comment = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=4000,
        required=False,
        help_text="Added to the incident's comments in Defender, with your name.",
    )
    # The incident's lastUpdateDateTime the page was rendered from: the conflict check.
    seen_last_update = forms.CharField(widget=forms.HiddenInput, required=False)

    def clean_seen_last_update(self) -> datetime | None:
        return seen_last_update(self.cleaned_data["seen_last_update"])

    def clean_custom_tags(self) -> tuple[str, ...]:
        tags = [t.strip() for t in self.cleaned_data["custom_tags"].split(",")]
        kept = tuple(dict.fromkeys(t for t in tags if t))
        if len(kept) > TAG_LIMIT:
            raise forms.ValidationError(f"At most {TAG_LIMIT} tags.")
        if any(len(t) > 200 for t in kept):
            raise forms.ValidationError("A tag may have at most 200 characters.")
        return kept

    def clean_assigned_to(self) -> str:
        return self.cleaned_data["assigned_to"].strip()

    def clean_comment(self) -> str:
        return self.cleaned_data["comment"].strip()

    def changes(self, incident: Incident) -> IncidentChanges:
        """What to change; tags only when they differ from the incident's row."""
        data: dict[str, Any] = self.cleaned_data
        tags: tuple[str, ...] = data["custom_tags"]
        known = incident.custom_tags or incident.tags or []
        return IncidentChanges(
            status=data["status"] or None,
            assigned_to=data["assigned_to"] or None,
            classification=data["classification"] or None,
            determination=data["determination"] or None,
            custom_tags=None if sorted(tags) == sorted(known) else tags,
            comment=data["comment"] or None,
        )


class IncidentBulkForm(forms.Form):
    """Status, classification, determination and/or assignee for chosen incidents."""

    ids = AlertIdsField(error_messages={"required": "Select at least one incident."})
    status = forms.ChoiceField(choices=[KEEP, *INCIDENT_STATUS_CHOICES], required=False)
    classification = forms.ChoiceField(choices=[KEEP, *CLASSIFICATION_CHOICES], required=False)
    determination = forms.ChoiceField(choices=[KEEP, *GRAPH_DETERMINATION_CHOICES], required=False)
    assigned_to = forms.CharField(max_length=255, required=False)
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean_ids(self) -> list[int]:
        chosen: list[int] = self.cleaned_data["ids"]
        if not chosen:
            raise forms.ValidationError("Select at least one incident.")
        if len(chosen) > INCIDENT_BULK_LIMIT:
            raise forms.ValidationError(
                f"Select at most {INCIDENT_BULK_LIMIT} incidents at a time "
                "(Microsoft limits the calls a minute per customer)."
            )
        return chosen

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        data["assigned_to"] = (data.get("assigned_to") or "").strip()
        if (
            not any(data.get(k) for k in ("status", "classification", "determination"))
            and not (data["assigned_to"])
        ):
            raise forms.ValidationError(
                "Choose a status, classification, determination or assignee to apply."
            )
        return data
