"""Template helpers of the list pages (see `templates/_filter_form.html`)."""

from __future__ import annotations

from django import forms, template

register = template.Library()


@register.filter
def fields(form: forms.Form, names: str) -> list[forms.BoundField]:
    """The form's fields named in `names` (separated by spaces), in that order."""
    return [form[name] for name in names.split()]
