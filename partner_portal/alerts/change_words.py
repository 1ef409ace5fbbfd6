"""What a change to an alert did, said as a sentence for the audit log and the alert's
history: "status set to Resolved, assigned to sam@contoso.com and a comment added", never
``status='Resolved', assigned_to='…'``. Codes are put in words by the protocol core's
vocabularies (`partner_portal.defender.in_words`)."""

from __future__ import annotations

from collections.abc import Mapping

from partner_portal.defender import in_words


def _one(name: str, value: str) -> str:
    if name == "comment":
        return "a comment added"
    if name == "assigned_to":
        return f"assigned to {value}" if value else "unassigned"
    if name == "status":
        return f"status set to {in_words(value)}"
    if name == "classification":
        return f"classified as {in_words(value)}" if value else "classification cleared"
    if name == "determination":
        return f"determination set to {in_words(value)}" if value else "determination cleared"
    label = name.replace("_", " ")
    return f"{label} set to {value}" if value else f"{label} cleared"


def describe_alert_changes(changes: Mapping[str, str]) -> str:
    """The changes in words, joined as a sentence ('a, b and c'); 'nothing' if none."""
    parts = [_one(name, value) for name, value in changes.items()]
    if not parts:
        return "nothing"
    if len(parts) == 1:
        return parts[0]
    return f"{', '.join(parts[:-1])} and {parts[-1]}"
