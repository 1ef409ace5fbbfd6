"""Importing a customer's older history: "import what changed since <date>".

A new customer's first pass reads SYNC_BACKFILL_DAYS back; what is older never arrives.
Staff may ask for more: `request_history_import` marks each source the customer collects
with the moment to read from (`SyncState.history_since`) and makes it due now, with an
audit event in the same transaction. The dispatcher queues that pass on the backfill
queue, the pass reads from the earlier of its watermark and that moment, stores through
the idempotent upsert (alerts already here are left as they are unless Defender changed
them), and clears the mark once it succeeded; a failed pass keeps it for the next one.

Microsoft keeps Defender's alerts for 180 days, so a date further back than
SYNC_HISTORY_MAX_DAYS is refused in words, as is a date to come.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from partner_portal.alerts.models import SyncState
from partner_portal.alerts.sync import sources
from tenants.audit import audit_record
from tenants.models import Customer

if TYPE_CHECKING:
    from django.contrib.auth.models import User


def earliest_date(today: date | None = None) -> date:
    """The oldest day a history import may start from."""
    return (today or timezone.now().date()) - timedelta(days=settings.SYNC_HISTORY_MAX_DAYS)


def request_history_import(
    *, customer: Customer, since: date, actor: User, ip_address: str | None = None
) -> list[str]:
    """Ask the next pass of each collected source of `customer` to read from `since`
    (00:00 UTC); returns the sources marked. Raises ValidationError, in words, for a
    date to come, one too far back, or a customer that collects nothing."""
    today = timezone.now().date()
    if since >= today:
        raise ValidationError("Choose a day in the past: a history import reads what is older.")
    if since < earliest_date(today):
        raise ValidationError(
            f"Microsoft keeps Defender's alerts for {settings.SYNC_HISTORY_MAX_DAYS} days: "
            f"choose {earliest_date(today):%Y-%m-%d} or later."
        )
    wanted = [source.name for source in sources.all_sources() if source.enabled_for(customer)]
    if not wanted:
        raise ValidationError(
            "This customer collects nothing now (it is not active, or collects neither "
            "alerts nor incidents): there is nothing to import."
        )
    moment = datetime.combine(since, time.min, tzinfo=UTC)
    with transaction.atomic():
        for name in wanted:
            SyncState.objects.get_or_create(customer=customer, source=name)
        SyncState.objects.filter(customer=customer, source__in=wanted).update(
            history_since=moment, next_due_at=timezone.now()
        )
        audit_record(
            action="customer.history_import_requested",
            customer=customer,
            actor=actor,
            ip_address=ip_address,
            summary=f"History import since {since:%Y-%m-%d} requested ({', '.join(wanted)})",
            details={"since": since.isoformat(), "sources": wanted},
        )
    return wanted
