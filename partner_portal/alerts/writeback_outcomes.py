"""How a write-back ends, whatever API carried it: the outcome, the words an analyst
reads, Defender's version when it had moved on, and the audit event every attempt leaves.

Alerts are written through the Defender for Endpoint API (`writeback.py`) or Microsoft
Graph (`writeback_graph.py`); both end here, so that an analyst reads the same words and
the audit log holds the same rows whichever API a customer consented to. Incidents
(`incident_writeback.py`) share the outcomes and the failure words.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING

from partner_portal.alerts.change_words import describe_alert_changes
from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.graph_rows import (
    ALERT_STATUS_SPELLINGS,
    CLASSIFICATION_SPELLINGS,
    DETERMINATION_SPELLINGS,
    portal_value,
)
from partner_portal.core.failures import describe_failure
from partner_portal.defender import AlertRecord, DefenderError, Forbidden, GraphAlert
from tenants.audit import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


class Outcome(StrEnum):
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    CONFLICT = "conflict"
    FORBIDDEN = "forbidden"
    NOT_FOUND = "not_found"
    FAILED = "failed"


CONFLICT_MESSAGE = (
    "This {what} changed in Defender after your page was loaded, so your change was not "
    "sent. Review Defender's version below and try again."
)
UNCHANGED_MESSAGE = "Defender already had these values."
SAVED_MESSAGE = "Saved in Defender."


def forbidden_message(permission: str, what: str = "alerts") -> str:
    """Defender's 403 in words, naming the permission the customer did not grant."""
    return (
        "Defender refused the change: the customer has not granted the portal the "
        f"permission {permission}, which changing {what} needs. Nothing was changed. "
        "Ask onboarding staff to send the customer's admin a new consent link."
    )


def refused_permission(exc: Forbidden, default: str) -> str:
    """The permission Microsoft's 403 names (the protocol core names the call's own when
    Microsoft does not), else `default`."""
    return exc.missing_permissions[0] if exc.missing_permissions else default


def failed_message(exc: DefenderError) -> str:
    return f"Defender did not take the change: {describe_failure(exc).words}"


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


@dataclass(frozen=True)
class DefenderVersion:
    """The fields of Defender's current version that an analyst compares with theirs,
    in the portal's spelling whichever API answered."""

    status: str
    assigned_to: str
    classification: str
    determination: str
    last_update_time: datetime | None

    @classmethod
    def of(cls, record: AlertRecord | GraphAlert) -> DefenderVersion:
        if isinstance(record, GraphAlert):
            return cls(
                status=portal_value(ALERT_STATUS_SPELLINGS, record.status),
                assigned_to=record.assigned_to or "",
                classification=portal_value(
                    CLASSIFICATION_SPELLINGS, record.classification, unset=True
                ),
                determination=portal_value(
                    DETERMINATION_SPELLINGS, record.determination, unset=True
                ),
                last_update_time=record.last_update_date_time,
            )
        return cls(
            status=record.status or "",
            assigned_to=record.assigned_to or "",
            classification=record.classification or "",
            determination=record.determination or "",
            last_update_time=record.last_update_time,
        )


@dataclass
class WriteResult:
    """How one alert's change ended, in words an analyst can act on."""

    alert: Alert
    outcome: Outcome
    message: str
    changes: dict[str, str] = field(default_factory=dict)
    # Defender's version of the alert when it differed from the page (a conflict).
    current: DefenderVersion | None = None
    # The permission Defender asked for when it refused (a forbidden outcome).
    permission: str = ""
    # Which API carried the change ("mde" or "graph"; "" when nothing was sent).
    api: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.UPDATED, Outcome.UNCHANGED)


SUMMARY = {
    Outcome.UPDATED: "Changed alert {title} in Defender: {what}",
    Outcome.UNCHANGED: "No change needed on alert {title}: {what}",
    Outcome.CONFLICT: "Change to alert {title} not sent: it changed in Defender meanwhile",
    Outcome.FORBIDDEN: "Defender refused a change to alert {title}: {permission} missing",
    Outcome.NOT_FOUND: "Alert {title} not found in Defender",
    Outcome.FAILED: "Change to alert {title} failed",
}


def changes_in_words(changes: dict[str, object]) -> str:
    """ "status set to Resolved and a comment added" (a comment's text stays out)."""
    return describe_alert_changes(
        {
            name: ", ".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
            for name, value in changes.items()
        }
    )


def record_outcome(
    result: WriteResult,
    actor: User,
    ip_address: str | None,
    calls: int,
    bulk: bool = False,
) -> WriteResult:
    """Write the audit event of one attempt (inside the caller's transaction)."""
    alert = result.alert
    summary = SUMMARY[result.outcome].format(
        title=alert.title or alert.alert_id,
        what=changes_in_words(dict(result.changes)),
        permission=result.permission,
    )
    audit_record(
        action=f"alert.{result.outcome}",
        customer=alert.customer,
        actor=actor,
        ip_address=ip_address,
        summary=summary,
        details={
            "alert_id": alert.alert_id,
            "alert_pk": alert.pk,
            "outcome": str(result.outcome),
            "changes": result.changes,
            "message": result.message,
            "api_calls": calls,
            "bulk": bulk,
            "api": result.api,
        },
    )
    return result
