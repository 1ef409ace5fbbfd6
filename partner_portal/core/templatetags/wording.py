"""Template helpers for the portal's wording in English."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter(is_safe=True)
def possessive(name: object) -> str:
    """`name` with its possessive ending: "Contoso's", but "Adventure Works Cycles'"."""
    text = str(name)
    if not text:
        return text
    return text + ("'" if text.endswith(("s", "S")) else "'s")
