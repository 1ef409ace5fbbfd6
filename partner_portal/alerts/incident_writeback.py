"""Incident write-back: analysts change incidents in Defender through Microsoft Graph.

An analyst sets an incident's status, assignee, classification and determination, its
custom tags, and adds a comment (`PATCH /security/incidents/{id}`, `POST …/comments`,
permission `SecurityIncident.ReadWrite.All`). As with alerts, the incident is read back
first: if Graph's `lastUpdateDateTime` is not the one the analyst's page showed, nothing
is written, the row catches up with Graph and the analyst sees both versions. Only
Graph's answer updates the row (`sync/incident_upsert.py`), and every attempt, whatever
its outcome, leaves an audit event (`incident.updated`, `incident.conflict`,
`incident.forbidden`, …) naming who, which incident and what.

Customers still on the legacy Defender XDR API are refused in words: that API's
incidents are read-only in this product. A merged incident (Defender redirected it into
another) is refused too: the change belongs on the incident it was merged into.

Graph answers a change without the incident's alerts, so the alert IDs read back first
are kept with it; after a comment the incident is read once more, since the answer to a
comment is the comment list only.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

from partner_portal.alerts.comment_credit import credited_comment
from partner_portal.alerts.models import Incident
from partner_portal.alerts.sync.graph_rows import (
    CLASSIFICATION_SPELLINGS,
    DETERMINATION_SPELLINGS,
    INCIDENT_STATUS_SPELLINGS,
    portal_value,
)
from partner_portal.alerts.sync.incident_upsert import incidents_upsert
from partner_portal.alerts.writeback_access import graph_client_for, incident_unwritable
from partner_portal.alerts.writeback_graph import graph_difference
from partner_portal.alerts.writeback_outcomes import (
    CONFLICT_MESSAGE,
    SAVED_MESSAGE,
    UNCHANGED_MESSAGE,
    Outcome,
    changes_in_words,
    failed_message,
    forbidden_message,
    refused_permission,
)
from partner_portal.defender import (
    GRAPH_INCIDENT_READWRITE,
    DefenderError,
    Forbidden,
    GraphClient,
    GraphIncident,
    IncidentStatus,
    NotFound,
    parse_graph_incident,
)
from tenants import verification
from tenants.audit import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

    from tenants.models import Customer

logger = logging.getLogger(__name__)

# As for alerts: a selection larger than this keeps a web request waiting on Graph's limit.
INCIDENT_BULK_LIMIT = 50


@dataclass(frozen=True)
class IncidentChanges:
    """What the analyst asked for; None leaves a field as Defender has it. Tags replace
    the incident's custom tags (an empty tuple removes them all)."""

    status: str | None = None
    assigned_to: str | None = None
    classification: str | None = None
    determination: str | None = None
    custom_tags: tuple[str, ...] | None = None
    comment: str | None = None

    def wanted(self) -> dict[str, str]:
        """The changes asked for, by name (tags joined with ", ")."""
        wanted = {
            name: value
            for name, value in (
                ("status", self.status),
                ("assigned_to", self.assigned_to),
                ("classification", self.classification),
                ("determination", self.determination),
                ("comment", self.comment),
            )
            if value
        }
        if self.custom_tags is not None:
            wanted["custom_tags"] = ", ".join(self.custom_tags)
        return wanted


@dataclass(frozen=True)
class IncidentVersion:
    """Graph's current version of an incident, in the portal's spelling."""

    status: str
    assigned_to: str
    classification: str
    determination: str
    custom_tags: tuple[str, ...]
    last_update_time: datetime | None

    @classmethod
    def of(cls, record: GraphIncident) -> IncidentVersion:
        return cls(
            status=portal_value(INCIDENT_STATUS_SPELLINGS, record.status),
            assigned_to=record.assigned_to or "",
            classification=portal_value(
                CLASSIFICATION_SPELLINGS, record.classification, unset=True
            ),
            determination=portal_value(DETERMINATION_SPELLINGS, record.determination, unset=True),
            custom_tags=record.custom_tags,
            last_update_time=record.last_update_date_time,
        )


@dataclass
class IncidentWriteResult:
    """How one incident's change ended, in words an analyst can act on."""

    incident: Incident
    outcome: Outcome
    message: str
    changes: dict[str, str] = field(default_factory=dict)
    # Graph's version of the incident when it differed from the page (a conflict).
    current: IncidentVersion | None = None
    permission: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in (Outcome.UPDATED, Outcome.UNCHANGED)


# --- services ---------------------------------------------------------------------------------
def incident_update(
    *,
    incident: Incident,
    actor: User,
    changes: IncidentChanges,
    seen_last_update: datetime | None,
    ip_address: str | None = None,
) -> IncidentWriteResult:
    """Apply one analyst's changes to one incident in Defender, then to the portal's row.

    `seen_last_update` is the incident's lastUpdateDateTime the analyst's page showed;
    if Graph's differs, nothing is written and the result is a conflict.
    """
    client, problem = _client(incident.customer)
    problem = problem or _merged(incident)
    if client is None or problem:
        return _recorded(incident, actor, Outcome.FAILED, problem, changes, ip_address, 0, False)
    return _apply(client, incident, actor, changes, seen_last_update, ip_address, bulk=False)


def incidents_bulk_update(
    *,
    incidents: Iterable[Incident],
    actor: User,
    status: str | None = None,
    classification: str | None = None,
    determination: str | None = None,
    assigned_to: str | None = None,
    ip_address: str | None = None,
) -> list[IncidentWriteResult]:
    """Set status, classification, determination and/or assignee on many incidents; one
    result per incident. Each is read back and changed in turn through its customer's
    rate-limited Graph client; one whose Graph version is newer than the portal's row is
    a conflict and left alone (the analyst chose it from a list that did not show it)."""
    changes = IncidentChanges(
        status=status,
        classification=classification,
        determination=determination,
        assigned_to=assigned_to,
    )
    by_customer: dict[int, list[Incident]] = defaultdict(list)
    for incident in incidents:
        by_customer[incident.customer_id].append(incident)
    results: list[IncidentWriteResult] = []
    for group in by_customer.values():
        client, problem = _client(group[0].customer)
        for incident in group:
            why = problem or _merged(incident)
            if client is None or why:
                results.append(
                    _recorded(incident, actor, Outcome.FAILED, why, changes, ip_address, 0, True)
                )
                continue
            seen = incident.last_updated_at
            results.append(_apply(client, incident, actor, changes, seen, ip_address, bulk=True))
    return results


# --- the steps --------------------------------------------------------------------------------
def _client(customer: Customer) -> tuple[GraphClient | None, str]:
    client, problem = graph_client_for(customer)
    problem = problem or incident_unwritable(customer)
    return (None, problem) if problem else (client, "")


def _merged(incident: Incident) -> str:
    if incident.redirect_incident_id or incident.status == IncidentStatus.REDIRECTED:
        target = f" #{incident.redirect_incident_id}" if incident.redirect_incident_id else ""
        return (
            f"Defender merged this incident into incident{target}; change that one instead. "
            "Nothing was changed."
        )
    return ""


def _apply(
    client: GraphClient,
    incident: Incident,
    actor: User,
    changes: IncidentChanges,
    seen_last_update: datetime | None,
    ip_address: str | None,
    *,
    bulk: bool,
) -> IncidentWriteResult:
    before = client.stats.api_calls
    graph_id = str(incident.incident_id)
    to_store: GraphIncident | None = None
    try:
        current = client.get_incident(graph_id, expand_alerts=True)
        if seen_last_update is not None and current.last_update_date_time != seen_last_update:
            to_store = current
            message = CONFLICT_MESSAGE.format(what="incident")
            result = IncidentWriteResult(
                incident, Outcome.CONFLICT, message, changes.wanted(), IncidentVersion.of(current)
            )
        else:
            body = _difference(changes, current)
            if not body:
                result = IncidentWriteResult(
                    incident, Outcome.UNCHANGED, UNCHANGED_MESSAGE, changes.wanted()
                )
            else:
                to_store = _write(client, graph_id, actor, body, changes, current)
                result = IncidentWriteResult(incident, Outcome.UPDATED, SAVED_MESSAGE, body)
    except ValueError as exc:
        message = f"Microsoft Graph does not take this value ({exc}). Nothing was changed."
        calls = client.stats.api_calls - before
        return _recorded(incident, actor, Outcome.FAILED, message, changes, ip_address, calls, bulk)
    except DefenderError as exc:
        calls = client.stats.api_calls - before
        return _failure(incident, actor, exc, changes, ip_address, calls, bulk)
    calls = client.stats.api_calls - before
    with transaction.atomic():
        if to_store is not None:
            incidents_upsert(customer_id=incident.customer_id, records=[to_store])
        _audit(result, actor, ip_address, calls, bulk)
    if to_store is not None:
        incident.refresh_from_db()
    return result


def _difference(changes: IncidentChanges, current: GraphIncident) -> dict[str, str]:
    fields = {k: v for k, v in changes.wanted().items() if k != "custom_tags"}
    now: dict[str, str | None] = {
        "status": current.status,
        "assigned_to": current.assigned_to or "",
        "classification": current.classification,
        "determination": current.determination,
    }
    body = graph_difference(fields, now)
    tags = changes.custom_tags
    if tags is not None and sorted(tags) != sorted(current.custom_tags):
        body["custom_tags"] = ", ".join(tags)
    return body


def _write(
    client: GraphClient,
    graph_id: str,
    actor: User,
    body: dict[str, str],
    changes: IncidentChanges,
    current: GraphIncident,
) -> GraphIncident:
    """PATCH what changed, then the comment; Graph's last answer, with the alerts read
    back first (Graph's answer to a change leaves them out)."""
    answer = current
    fields = {k: v for k, v in body.items() if k not in ("comment", "custom_tags")}
    tags = changes.custom_tags if "custom_tags" in body else None
    if fields or tags is not None:
        answer = client.update_incident(graph_id, **fields, custom_tags=tags)
    if "comment" in body:
        client.add_incident_comment(graph_id, credited_comment(actor=actor, text=body["comment"]))
        answer = client.get_incident(graph_id)
    if current.alerts is not None and answer.alerts is None:
        alerts = [alert.raw for alert in current.alerts]
        answer = parse_graph_incident({**answer.raw, "alerts": alerts})
    return answer


def _failure(
    incident: Incident,
    actor: User,
    exc: DefenderError,
    changes: IncidentChanges,
    ip_address: str | None,
    calls: int,
    bulk: bool,
) -> IncidentWriteResult:
    if isinstance(exc, Forbidden):
        # Recorded on the customer so that the health page offers the re-consent link.
        permission = refused_permission(exc, GRAPH_INCIDENT_READWRITE)
        verification.customer_record_access_problem(
            customer_id=incident.customer_id, exc=exc, missing_permission=permission
        )
        message = forbidden_message(permission, "incidents")
        result = IncidentWriteResult(
            incident, Outcome.FORBIDDEN, message, changes.wanted(), None, permission
        )
        _audit(result, actor, ip_address, calls, bulk)
        return result
    if isinstance(exc, NotFound):
        message = "Microsoft Graph no longer knows this incident (it may have been deleted)."
        return _recorded(
            incident, actor, Outcome.NOT_FOUND, message, changes, ip_address, calls, bulk
        )
    logger.warning("Write-back to incident %s failed: %s", incident.pk, type(exc).__name__)
    message = failed_message(exc)
    return _recorded(incident, actor, Outcome.FAILED, message, changes, ip_address, calls, bulk)


def _recorded(
    incident: Incident,
    actor: User,
    outcome: Outcome,
    message: str,
    changes: IncidentChanges,
    ip_address: str | None,
    calls: int,
    bulk: bool,
) -> IncidentWriteResult:
    result = IncidentWriteResult(incident, outcome, message, changes.wanted())
    _audit(result, actor, ip_address, calls, bulk)
    return result


SUMMARY = {
    Outcome.UPDATED: "Changed incident {name} in Defender: {what}",
    Outcome.UNCHANGED: "No change needed on incident {name}: {what}",
    Outcome.CONFLICT: "Change to incident {name} not sent: it changed in Defender meanwhile",
    Outcome.FORBIDDEN: "Defender refused a change to incident {name}: {permission} missing",
    Outcome.NOT_FOUND: "Incident {name} not found in Defender",
    Outcome.FAILED: "Change to incident {name} failed",
}


def _audit(
    result: IncidentWriteResult, actor: User, ip_address: str | None, calls: int, bulk: bool
) -> None:
    incident = result.incident
    name = f"#{incident.incident_id}" + (f" {incident.name}" if incident.name else "")
    summary = SUMMARY[result.outcome].format(
        name=name, what=changes_in_words(dict(result.changes)), permission=result.permission
    )
    audit_record(
        action=f"incident.{result.outcome}",
        customer=incident.customer,
        actor=actor,
        ip_address=ip_address,
        summary=summary,
        details={
            "incident_id": incident.incident_id,
            "incident_pk": incident.pk,
            "outcome": str(result.outcome),
            "changes": result.changes,
            "message": result.message,
            "api_calls": calls,
            "bulk": bulk,
        },
    )
