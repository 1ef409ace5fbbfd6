"""How long the audit log is kept.

The audit log is the partner's record of who did what to which customer, and by default
it is kept for ever: it is small (one row per action a person or the portal took, not
per sync pass) and it is what a customer's auditor asks for. A partner whose contracts
say otherwise sets `RETAIN_AUDIT_DAYS`; the nightly retention task
(`partner_portal.alerts.retention`) then calls `prune_audit`, which deletes the events
older than that in small batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from partner_portal.core.pruning import delete_in_batches
from tenants.models import AuditEvent


def audit_cutoff(*, now: datetime, days: int) -> datetime | None:
    """The instant before which audit events go, or None when they are kept for ever."""
    return now - timedelta(days=days) if days > 0 else None


def prune_audit(*, now: datetime, days: int, batch_size: int) -> int:
    """Delete the audit events older than `days` days (none when `days` is 0)."""
    cutoff = audit_cutoff(now=now, days=days)
    if cutoff is None:
        return 0
    return delete_in_batches(
        AuditEvent.objects.filter(created_at__lt=cutoff), batch_size=batch_size
    )
