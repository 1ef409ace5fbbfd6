"""Words for Defender's values in the console's templates: `{% load vocabularies %}`.

The words come from the protocol core's vocabularies (`partner_portal.defender`), the
same ones the forms offer, so a template never spells a label by hand. A value the core
does not know (Microsoft adds values now and then) is cut into words
("UnsupportedAlertType" reads "Unsupported alert type").
"""

from __future__ import annotations

from django import template

from partner_portal.defender import in_words

register = template.Library()


@register.filter
def words(value: str | None) -> str:
    """A status, classification, determination or state in words (the label the core
    gives InProgress, say, or InformationalExpectedActivity)."""
    return in_words(value)


@register.filter
def alert_status_label(value: str) -> str:
    """An alert status in words (InProgress, say, as its label in the core)."""
    return in_words(value)
