"""The evidence conditions of the suppression rule form: one box per kind (file hashes,
devices, users, IP addresses, URLs or domains), values one per line or comma-separated,
checked and saved normalised (`evidence_values`); a bad value is named in the error.

On a form filled in from an alert ("suppress alerts like this"), the alert's own evidence
values of each kind are offered as ticks; the ticked ones join those typed in the box.
"""

from __future__ import annotations

import re
from typing import Any

from django import forms

from partner_portal.notifications.evidence_values import KINDS, normalised

HELP = {
    "file_hashes": "SHA-256, SHA-1 or MD5, one per line.",
    "devices": "Device name (as Defender names it) or Defender device ID.",
    "users": r"User principal name, account name or DOMAIN\name.",
    "ip_addresses": "IPv4 or IPv6 addresses.",
    "urls": "A URL (https://...) or a domain, which matches URLs on that host.",
}
PLURALS = {
    "file_hashes": "File hashes",
    "devices": "Devices",
    "users": "Users",
    "ip_addresses": "IP addresses",
    "urls": "URLs or domains",
}
MAX_VALUES = 100


def _split(text: str) -> list[str]:
    return [part for part in re.split(r"[\s,]+", text) if part]


def text_field(kind: str) -> str:
    return f"{kind}_text"


def pick_field(kind: str) -> str:
    return f"{kind}_pick"


class EvidenceConditionsForm(forms.Form):
    """Mixed into `SuppressionRuleForm`; `evidence_choices` are the prefilling alert's."""

    def __init__(
        self, *args: Any, evidence_choices: dict[str, list[str]] | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        rule = getattr(self, "instance", None)
        for kind in KINDS:
            field = forms.CharField(
                label=PLURALS[kind],
                required=False,
                max_length=20000,
                widget=forms.Textarea(attrs={"rows": 2, "cols": 70}),
                help_text=f"{HELP[kind]} Empty: any.",
            )
            if rule is not None and rule.pk:
                field.initial = "\n".join(getattr(rule, kind))
            self.fields[text_field(kind)] = field
            offered = (evidence_choices or {}).get(kind) or []
            if offered:
                self.fields[pick_field(kind)] = forms.MultipleChoiceField(
                    label=f"{PLURALS[kind]} of this alert",
                    choices=[(value, value) for value in offered],
                    required=False,
                    widget=forms.CheckboxSelectMultiple,
                )

    def evidence_fields(self) -> list[str]:
        """The names of the evidence fields, in the order shown (ticks before each box)."""
        names = (name for kind in KINDS for name in (pick_field(kind), text_field(kind)))
        return [name for name in names if name in self.fields]

    def evidence_cleaned(self) -> dict[str, list[str]]:
        """The normalised values of each kind; adds an error to the box of a bad one."""
        found: dict[str, list[str]] = {}
        for kind in KINDS:
            values = _split(self.cleaned_data.get(text_field(kind)) or "")
            values += list(self.cleaned_data.get(pick_field(kind)) or ())
            try:
                found[kind] = normalised(kind, values)
            except ValueError as exc:
                self.add_error(text_field(kind), str(exc))
                continue
            if len(found[kind]) > MAX_VALUES:
                self.add_error(text_field(kind), f"At most {MAX_VALUES} values of a kind.")
        return found
