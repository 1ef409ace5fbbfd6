"""What the portal keeps, and the nightly task that lets the rest go.

An idle sync pass (nothing new, no failure) writes no `SyncRun` row, only counters on
its `SyncState`; but the passes that store something, backfills and failures still add up
over months, and are read by nobody after the first few. Retention keeps, for each
customer's source:

* its last `RETAIN_SYNC_RUNS` passes (the customer page's history and the progress
  figures read only the newest few; the pass a `SyncState` points at is always one of
  them), and every pass still running;
* every failed pass of the last `RETAIN_SYNC_FAILURES_DAYS` days, however many
  successes came after it, so "it failed on Tuesday" can still be looked into.

Alerts and incidents are kept for ever unless `RETAIN_ALERTS_DAYS` is set: then those
Microsoft has not changed for that many days go (an alert that changes again later is
fetched again with its next change). The audit log follows `RETAIN_AUDIT_DAYS`
(`tenants.retention`). Apps above this one register what they let go (`core.pruning`'s
`Prunable`: notifications' delivery log, `RETAIN_DELIVERIES_DAYS`), counted by name.

`apply_retention` runs nightly from beat (`RETENTION_HOUR_UTC`), customer by customer,
each deletion in batches of `RETENTION_BATCH_SIZE` rows in transactions of their own
(`core.pruning`), so the sync runs on beside it. What it deleted is one audit event
(`retention.applied`) and a log line; a night that deleted nothing writes neither.
`manage.py apply_retention --dry-run` counts what would go.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from partner_portal.alerts.models import Alert, Incident, SyncRun, SyncState, SyncStatus
from partner_portal.core.pruning import delete_in_batches, registered_prunables
from tenants.audit import audit_record
from tenants.models import Customer
from tenants.retention import expired_audit_events

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetentionPolicy:
    """How much is kept; 0 days means for ever."""

    sync_runs: int
    sync_failure_days: int
    alert_days: int
    audit_days: int
    batch_size: int

    @classmethod
    def from_settings(cls) -> RetentionPolicy:
        return cls(
            sync_runs=settings.RETAIN_SYNC_RUNS,
            sync_failure_days=settings.RETAIN_SYNC_FAILURES_DAYS,
            alert_days=settings.RETAIN_ALERTS_DAYS,
            audit_days=settings.RETAIN_AUDIT_DAYS,
            batch_size=settings.RETENTION_BATCH_SIZE,
        )


@dataclass(frozen=True)
class RetentionReport:
    """Rows deleted (or, for a dry run, that would be) per kind."""

    sync_runs: int = 0
    alerts: int = 0
    incidents: int = 0
    audit_events: int = 0
    # What registered prunables deleted: (name, words, rows), in registration order.
    others: tuple[tuple[str, str, int], ...] = ()

    @property
    def total(self) -> int:
        extra = sum(rows for _, _, rows in self.others)
        return self.sync_runs + self.alerts + self.incidents + self.audit_events + extra

    def sentence(self, verb: str) -> str:
        """'Retention deleted 3 sync passes, ... and 4 audit events' and the others."""
        parts = [
            f"{self.sync_runs} sync passes",
            f"{self.alerts} alerts",
            f"{self.incidents} incidents",
            f"{self.audit_events} audit events",
            *(f"{rows} {words}" for _, words, rows in self.others),
        ]
        return f"Retention {verb} {', '.join(parts[:-1])} and {parts[-1]}."


def expired_sync_runs(
    state: SyncState, *, policy: RetentionPolicy, now: datetime
) -> QuerySet[SyncRun]:
    """The passes of one customer's source that retention lets go."""
    runs = SyncRun.objects.filter(customer_id=state.customer_id, source=state.source)
    # The newest kept pass, found through the (customer, source, -started_at) index.
    boundary = (
        runs.order_by("-started_at", "-id")
        .values_list("started_at", "id")[policy.sync_runs - 1 : policy.sync_runs]
        .first()
    )
    if boundary is None:
        return runs.none()
    started_at, run_id = boundary
    older = runs.filter(Q(started_at__lt=started_at) | Q(started_at=started_at, id__lt=run_id))
    keep_failures_since = now - timedelta(days=policy.sync_failure_days)
    return (
        older.exclude(status=SyncStatus.RUNNING)
        .exclude(status=SyncStatus.FAILED, started_at__gte=keep_failures_since)
        .exclude(pk=state.last_run_id or 0)
    )


def _aged(
    model: type[Alert] | type[Incident], cutoff: datetime
) -> QuerySet[Alert] | QuerySet[Incident]:
    """Alerts or incidents Microsoft last changed before `cutoff`."""
    changed_before = Q(last_updated_at__lt=cutoff) | Q(
        last_updated_at__isnull=True, created_at__lt=cutoff
    )
    return model.objects.filter(changed_before)


def apply_retention(
    *, now: datetime | None = None, policy: RetentionPolicy | None = None, dry_run: bool = False
) -> RetentionReport:
    """Delete what `policy` (the settings by default) no longer keeps; what went, counted.

    With `dry_run` nothing is deleted and the counts say what would be."""
    now = now or timezone.now()
    policy = policy or RetentionPolicy.from_settings()

    def remove(queryset: QuerySet[Any]) -> int:
        if dry_run:
            return queryset.count()
        return delete_in_batches(queryset, batch_size=policy.batch_size)

    sync_runs = sum(
        remove(expired_sync_runs(state, policy=policy, now=now))
        for state in SyncState.objects.only("customer_id", "source", "last_run_id").iterator()
    )
    alerts = incidents = 0
    if policy.alert_days > 0:
        cutoff = now - timedelta(days=policy.alert_days)
        # Customer by customer, so each batch is found through the customer's index.
        for customer_id in Customer.objects.values_list("id", flat=True).iterator():
            alerts += remove(_aged(Alert, cutoff).filter(customer_id=customer_id))
            incidents += remove(_aged(Incident, cutoff).filter(customer_id=customer_id))
    audit = remove(expired_audit_events(now=now, days=policy.audit_days))
    others = []
    for prunable in registered_prunables():
        expired = prunable.expired(now)
        rows = remove(expired) if expired is not None else 0
        others.append((prunable.name, prunable.words, rows))
    report = RetentionReport(
        sync_runs=sync_runs,
        alerts=alerts,
        incidents=incidents,
        audit_events=audit,
        others=tuple(others),
    )
    if report.total and not dry_run:
        _record(report, policy)
    return report


def _record(report: RetentionReport, policy: RetentionPolicy) -> None:
    counts: dict[str, Any] = {
        "sync_runs": report.sync_runs,
        "alerts": report.alerts,
        "incidents": report.incidents,
        "audit_events": report.audit_events,
        **{name: rows for name, _, rows in report.others},
    }
    logger.info("retention deleted %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    audit_record(
        action="retention.applied",
        customer=None,
        summary=report.sentence("deleted"),
        details={**counts, "policy": asdict(policy)},
    )
