"""Write-back: analysts change alerts in Defender, and the portal's rows follow.

Every change goes to Microsoft first (`PATCH /api/alerts/{id}` through the protocol
core's rate-limited client); only Defender's answer updates the portal's row, so the
portal never shows a change Defender did not take. Before writing, the alert is read
back from Defender: if it changed since the analyst's page was rendered, nothing is
written and the analyst sees the conflict. Each attempt, whatever its outcome, leaves
an audit event naming who, which alert, what and how it ended.

Before anything is sent, `writeback_access` decides whether the alert can be changed at
all and hands out the customer's client; a refusal is recorded like any other outcome.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from django.db import transaction

from partner_portal.alerts.change_words import describe_alert_changes
from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.alerts.writeback_access import client_for, unwritable
from partner_portal.core.failures import describe_failure
from partner_portal.defender import (
    ALERT_READWRITE,
    AlertRecord,
    DefenderError,
    Forbidden,
    MdeClient,
    NotFound,
    parse_alert,
)
from tenants import verification
from tenants.audit import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

# Microsoft's per-minute limit of the alerts API per customer, as its client keeps to it.
CALLS_PER_MINUTE = min(calls for calls, seconds in MdeClient.limits if seconds == 60)
# A selection larger than this would keep the request waiting on that limit for longer
# than a web request may last.
BULK_LIMIT = 50

FORBIDDEN_MESSAGE = (
    "Defender refused the change: the customer has not granted the portal the "
    f"permission {ALERT_READWRITE}, which changing alerts needs. Nothing was changed. "
    "Ask onboarding staff to send the customer's admin a new consent link."
)


class Outcome(StrEnum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    FAILED = "failed"


@dataclass(frozen=True)
class AlertChanges:
    """What the analyst asked for; None leaves a field as Defender has it."""

    status: str | None = None
    assigned_to: str | None = None
    classification: str | None = None
    determination: str | None = None
    comment: str | None = None

    def wanted(self) -> dict[str, str]:
        return {
            name: value
            for name, value in (
                ("status", self.status),
                ("assigned_to", self.assigned_to),
                ("classification", self.classification),
                ("determination", self.determination),
                ("comment", self.comment),
            )
            if value is not None and value != ""
        }


@dataclass
class WriteResult:
    """How one alert's change ended, in words an analyst can act on."""

    alert: Alert
    outcome: Outcome
    message: str
    changes: dict[str, str] = field(default_factory=dict)
    # Defender's version of the alert when it differed from the page (a conflict).
    current: AlertRecord | None = None

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.UPDATED, Outcome.UNCHANGED)


# --- services ---------------------------------------------------------------------------------
def alert_update(
    *,
    alert: Alert,
    actor: User,
    changes: AlertChanges,
    seen_last_update: datetime | None,
    ip_address: str | None = None,
) -> WriteResult:
    """Apply one analyst's changes to one alert in Defender, then to the portal's row.

    `seen_last_update` is the alert's lastUpdateTime the analyst's page showed; if
    Defender's differs, nothing is written and the result is a conflict.
    """
    client, problem = client_for(alert.customer)
    problem = problem or unwritable(alert)
    if client is None or problem:
        return _record(alert, actor, Outcome.FAILED, problem, changes.wanted(), ip_address, 0)
    return _apply(
        client,
        alert,
        actor,
        changes,
        seen_last_update=seen_last_update,
        current=None,
        ip_address=ip_address,
        bulk=False,
    )


def alerts_bulk_update(
    *,
    alerts: Iterable[Alert],
    actor: User,
    status: str | None = None,
    assigned_to: str | None = None,
    ip_address: str | None = None,
) -> list[WriteResult]:
    """Set status and/or assignee on many alerts; one result per alert.

    Alerts are read back from Defender a batch at a time (one call per 20) and then
    patched one by one through each customer's rate-limited client. An alert whose
    Defender version is newer than the portal's row is reported as a conflict and left
    alone: the analyst chose it from a list that did not show that change.
    """
    changes = AlertChanges(status=status, assigned_to=assigned_to)
    by_customer: dict[int, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_customer[alert.customer_id].append(alert)
    results: list[WriteResult] = []
    for group in by_customer.values():
        client, problem = client_for(group[0].customer)
        refused = [(a, problem or unwritable(a)) for a in group]
        results += [
            _record(a, actor, Outcome.FAILED, why, changes.wanted(), ip_address, 0, True)
            for a, why in refused
            if client is None or why
        ]
        group = [a for a, why in refused if not why]
        if client is None or not group:
            continue
        current, failure, calls = _read_back(client, group)
        for index, alert in enumerate(group):
            if failure is not None:
                results.append(
                    _failure_result(alert, actor, failure, changes, ip_address, calls, True)
                )
                # The read cost is booked once, on the first alert of the batch.
                calls = 0
                continue
            record = current.get(alert.alert_id)
            if record is None:
                results.append(
                    _record(
                        alert, actor, Outcome.NOT_FOUND, NotFound.explanation,
                        changes.wanted(), ip_address, calls if index == 0 else 0, True,
                    )
                )  # fmt: skip
                continue
            results.append(
                _apply(
                    client,
                    alert,
                    actor,
                    changes,
                    seen_last_update=alert.last_updated_at,
                    current=record,
                    ip_address=ip_address,
                    bulk=True,
                    extra_calls=calls if index == 0 else 0,
                )
            )
    return results


def _read_back(
    client: MdeClient, alerts: list[Alert]
) -> tuple[dict[str, AlertRecord], DefenderError | None, int]:
    """Defender's current version of each alert, fetched in batches."""
    before = client.stats.api_calls
    try:
        found = {
            record.id: record
            for record in client.iter_alerts_by_id(
                [a.alert_id for a in alerts], expand_evidence=False
            )
        }
    except DefenderError as exc:
        return {}, exc, client.stats.api_calls - before
    return found, None, client.stats.api_calls - before


def _apply(
    client: MdeClient,
    alert: Alert,
    actor: User,
    changes: AlertChanges,
    *,
    seen_last_update: datetime | None,
    current: AlertRecord | None,
    ip_address: str | None,
    bulk: bool,
    extra_calls: int = 0,
) -> WriteResult:
    before = client.stats.api_calls
    wanted = changes.wanted()
    to_store: AlertRecord | None = None
    try:
        if current is None:
            current = client.get_alert(alert.alert_id)
        if seen_last_update is not None and current.last_update_time != seen_last_update:
            # The row catches up with Defender, so the page shows what changed.
            to_store = current
            result = WriteResult(
                alert,
                Outcome.CONFLICT,
                "This alert changed in Defender after your page was loaded, so your change "
                "was not sent. Review Defender's version below and try again.",
                wanted,
                current,
            )
        else:
            body = _difference(changes, current)
            if not body:
                result = WriteResult(
                    alert, Outcome.UNCHANGED, "Defender already had these values.", wanted
                )
            else:
                to_store = client.update_alert(alert.alert_id, **body)
                result = WriteResult(alert, Outcome.UPDATED, "Saved in Defender.", body)
        if to_store is not None:
            to_store = _with_known_evidence(alert, to_store)
    except DefenderError as exc:
        calls = client.stats.api_calls - before + extra_calls
        return _failure_result(alert, actor, exc, changes, ip_address, calls, bulk)
    calls = client.stats.api_calls - before + extra_calls
    with transaction.atomic():
        if to_store is not None:
            alerts_upsert(customer_id=alert.customer_id, records=[to_store])
        _audit(result, actor, ip_address, calls, bulk)
    if to_store is not None:
        alert.refresh_from_db()
    return result


def _difference(changes: AlertChanges, current: AlertRecord) -> dict[str, str]:
    """Only what differs from Defender's version (a comment is always new)."""
    now = {
        "status": current.status,
        "assigned_to": current.assigned_to or "",
        "classification": current.classification or "",
        "determination": current.determination or "",
    }
    return {
        name: value
        for name, value in changes.wanted().items()
        if name == "comment" or now.get(name) != value
    }


def _with_known_evidence(alert: Alert, record: AlertRecord) -> AlertRecord:
    """Defender's answer, with the evidence the row already had.

    Defender answers a PATCH (and a single GET) without evidence; the row's evidence
    came from an expanded read and is still true, so it is carried over.
    """
    old = alert.raw.get("evidence") if isinstance(alert.raw, dict) else None
    if old and not record.evidence:
        return parse_alert({**record.raw, "evidence": old})
    return record


def _failure_result(
    alert: Alert,
    actor: User,
    exc: DefenderError,
    changes: AlertChanges,
    ip_address: str | None,
    calls: int,
    bulk: bool,
) -> WriteResult:
    wanted = changes.wanted()
    if isinstance(exc, Forbidden):
        # Recorded on the customer so that the health page offers the re-consent link.
        verification.customer_record_access_problem(
            customer_id=alert.customer_id, exc=exc, missing_permission=ALERT_READWRITE
        )
        return _record(
            alert, actor, Outcome.FORBIDDEN, FORBIDDEN_MESSAGE, wanted, ip_address, calls, bulk
        )
    if isinstance(exc, NotFound):
        message = "Defender no longer knows this alert (it may have been deleted)."
        return _record(alert, actor, Outcome.NOT_FOUND, message, wanted, ip_address, calls, bulk)
    logger.warning("Write-back to alert %s failed: %s", alert.pk, type(exc).__name__)
    message = f"Defender did not take the change: {describe_failure(exc).words}"
    return _record(alert, actor, Outcome.FAILED, message, wanted, ip_address, calls, bulk)


def _record(
    alert: Alert,
    actor: User,
    outcome: Outcome,
    message: str,
    changes: dict[str, str],
    ip_address: str | None,
    calls: int,
    bulk: bool = False,
) -> WriteResult:
    result = WriteResult(alert, outcome, message, changes)
    _audit(result, actor, ip_address, calls, bulk)
    return result


SUMMARY = {
    Outcome.UPDATED: "Changed alert {title} in Defender: {what}",
    Outcome.UNCHANGED: "No change needed on alert {title}: {what}",
    Outcome.CONFLICT: "Change to alert {title} not sent: it changed in Defender meanwhile",
    Outcome.FORBIDDEN: f"Defender refused a change to alert {{title}}: {ALERT_READWRITE} missing",
    Outcome.NOT_FOUND: "Alert {title} not found in Defender",
    Outcome.FAILED: "Change to alert {title} failed",
}


def _audit(
    result: WriteResult, actor: User, ip_address: str | None, calls: int, bulk: bool
) -> None:
    alert = result.alert
    what = describe_alert_changes(result.changes)
    audit_record(
        action=f"alert.{result.outcome}",
        customer=alert.customer,
        actor=actor,
        ip_address=ip_address,
        summary=SUMMARY[result.outcome].format(title=alert.title or alert.alert_id, what=what),
        details={
            "alert_id": alert.alert_id,
            "alert_pk": alert.pk,
            "outcome": str(result.outcome),
            "changes": result.changes,
            "message": result.message,
            "api_calls": calls,
            "bulk": bulk,
        },
    )
