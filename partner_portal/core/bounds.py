"""Numbers typed into a URL (IDs, marks, cursors), checked before they reach a query.

Every table's key is a 64-bit integer (DEFAULT_AUTO_FIELD is BigAutoField). A larger
number makes SQLite's driver raise OverflowError (a 500), and PostgreSQL compares it as a
`numeric` that can never match (an empty or unfiltered page with no word of why). Forms
refuse such values here, with a message, instead.
"""

from __future__ import annotations

from typing import Any

from django import forms

BIGINT_MAX = 2**63 - 1


def range_message(low: int, high: int) -> str:
    return f"Enter a whole number from {low} to {high}."


def parse_whole_number(value: Any, *, low: int = 1, high: int = BIGINT_MAX) -> int | None:
    """`value` as an int if it is written in ASCII digits and lies in `low` … `high`
    (`low` >= 0), else None."""
    text = str(value).strip()
    if not (text.isascii() and text.isdigit()) or len(text) > len(str(high)):
        return None
    number = int(text)
    return number if low <= number <= high else None


class IdField(forms.IntegerField):
    """A row ID (or a mark compared with one): a whole number the database can hold."""

    def __init__(self, *, min_value: int = 1, max_value: int = BIGINT_MAX, **kwargs: Any) -> None:
        message = range_message(min_value, max_value)
        errors = {"invalid": message, "min_value": message, "max_value": message}
        errors.update(kwargs.pop("error_messages", None) or {})
        super().__init__(min_value=min_value, max_value=max_value, error_messages=errors, **kwargs)


class IdsChoiceField(forms.ModelMultipleChoiceField):
    """Rows of the queryset chosen by ID; a value that cannot be an ID is refused before
    the database is asked about it."""

    def clean(self, value: Any) -> Any:
        if isinstance(value, list | tuple) and any(parse_whole_number(v) is None for v in value):
            raise forms.ValidationError(range_message(1, BIGINT_MAX), code="invalid_pk_value")
        return super().clean(value)
