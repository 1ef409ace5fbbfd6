"""How long the audit log is kept.

The audit log is the partner's record of who did what to which customer, and by default
it is kept for ever: it is small (one row per action a person or the portal took, not
per sync pass) and it is what a customer's auditor asks for. A partner whose contracts
say otherwise sets `RETAIN_AUDIT_DAYS`; the nightly retention task
(`partner_portal.alerts.retention`) then deletes `expired_audit_events` in small batches.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import QuerySet

from tenants.models import AuditEvent


def expired_audit_events(*, now: datetime, days: int) -> QuerySet[AuditEvent]:
    """The audit events older than `days` days; none when `days` is 0 (kept for ever)."""
    if days <= 0:
        return AuditEvent.objects.none()
    return AuditEvent.objects.filter(created_at__lt=now - timedelta(days=days))
