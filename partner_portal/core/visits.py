"""The last visit of a page per person: what "new since your last visit" counts from.

A visit is a run of views of the page no more than `VISIT_GAP` apart. Each view moves
`last_seen_at`; a view after a longer gap starts a new visit, and the previous visit's
last view becomes the mark things are "new" since. The first visit has no mark.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db import transaction

from partner_portal.core.models import PageVisit

if TYPE_CHECKING:
    from django.contrib.auth.models import User

VISIT_GAP = timedelta(minutes=30)


@transaction.atomic
def visit_record(*, user: User, page: str, now: datetime) -> datetime | None:
    """Note that `user` views `page` at `now`; returns the end of their previous visit
    (None on a first visit)."""
    visit, created = PageVisit.objects.select_for_update().get_or_create(
        user=user, page=page, defaults={"last_seen_at": now}
    )
    if created:
        return None
    if now - visit.last_seen_at > VISIT_GAP:
        visit.previous_visit_at = visit.last_seen_at
    visit.last_seen_at = max(now, visit.last_seen_at)
    visit.save(update_fields=["last_seen_at", "previous_visit_at"])
    return visit.previous_visit_at
