"""`when` and `age`: the template side of `partner_portal.core.times`.

`{{ value|when }}` is a `<time>` element showing the exact moment; `{{ value|age }}` shows
"12 min ago" with the exact moment as its title (read on hover). Both give '' for an empty
value, so `|default:"never"` works after them.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString

from partner_portal.core.times import as_moment, format_age, format_moment

register = template.Library()


@register.filter
def when(value: datetime | str | None) -> SafeString | str:
    moment = as_moment(value)
    if moment is None:
        return ""
    return format_html('<time datetime="{}">{}</time>', moment.isoformat(), format_moment(moment))


@register.filter
def moment(value: datetime | str | None) -> str:
    """The moment as `when` words it, text alone (for a `<time>` the template writes)."""
    return format_moment(value)


@register.filter
def age(value: datetime | str | None) -> SafeString | str:
    moment = as_moment(value)
    if moment is None:
        return ""
    return format_html(
        '<time datetime="{}" title="{}">{}</time>',
        moment.isoformat(),
        format_moment(moment),
        format_age(moment),
    )


@register.simple_tag
def now_moment() -> SafeString | str:
    """The present moment as `when` shows it (in the reader's zone)."""
    return when(timezone.now())
