"""Write-back of alerts through Microsoft Graph, for customers that consented to it.

Graph changes the alerts of every Defender product (Endpoint, Office 365, Identity,
Cloud Apps, …) with `PATCH /security/alerts_v2/{id}` and takes comments with
`POST …/comments`. The story is the one `writeback.py` tells for the Defender for
Endpoint API: the alert is read back first, and if Graph's `lastUpdateDateTime` is not
the one the analyst's page showed, nothing is written and the analyst sees the conflict;
only Graph's answer updates the row (stored through the same upsert as the sync's Graph
pages); every attempt leaves an audit event.

Graph's answer to a comment is the comment list only, so after commenting the alert is
read once more and that version is stored. A comment names the analyst
(`comment_credit.py`), since Graph credits it to the partner's app.

The portal spells values as the legacy API did (`TruePositive`); Graph takes them in any
case. Two determinations of the legacy API have no member of that name in Graph and are
sent as Graph's equivalent.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

from partner_portal.alerts.comment_credit import credited_comment
from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.alerts.writeback_outcomes import (
    CONFLICT_MESSAGE,
    SAVED_MESSAGE,
    UNCHANGED_MESSAGE,
    AlertChanges,
    DefenderVersion,
    Outcome,
    WriteResult,
    failed_message,
    forbidden_message,
    record_outcome,
    refused_permission,
)
from partner_portal.defender import (
    GRAPH_ALERT_READWRITE,
    DefenderError,
    Forbidden,
    GraphAlert,
    GraphClient,
    NotFound,
    parse_graph_alert,
)
from tenants import verification

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

API = "graph"
# The legacy API's determinations that Graph names otherwise ("unknown" is Graph's "not set").
GRAPH_DETERMINATIONS = {"notavailable": "unknown", "insufficientdata": "notEnoughDataToValidate"}
# What Graph sends for "not set".
_UNSET = "unknown"


def graph_value(name: str, value: str) -> str:
    """A value of the portal's form as Graph is sent it."""
    if name == "determination":
        return GRAPH_DETERMINATIONS.get(value.lower(), value)
    return value


def graph_difference(wanted: dict[str, str], current: dict[str, str | None]) -> dict[str, str]:
    """Only what differs from Graph's version, values compared without regard to case
    (a comment is always new). `current` maps the same names to Graph's values."""
    different = {}
    for name, value in wanted.items():
        sent = graph_value(name, value)
        now = current.get(name)
        if name in ("classification", "determination"):
            now = now or _UNSET
        if name == "comment" or (now or "").lower() != sent.lower():
            different[name] = sent
    return different


def graph_alert_apply(
    client: GraphClient,
    alert: Alert,
    actor: User,
    changes: AlertChanges,
    *,
    seen_last_update: datetime | None,
    ip_address: str | None,
    bulk: bool,
) -> WriteResult:
    """Read the alert back from Graph, then change it there unless it moved on."""
    before = client.stats.api_calls
    wanted = changes.wanted()
    to_store: GraphAlert | None = None
    try:
        current = client.get_alert(alert.alert_id)
        if seen_last_update is not None and current.last_update_date_time != seen_last_update:
            # The row catches up with Graph, so the page shows what changed.
            to_store = current
            message = CONFLICT_MESSAGE.format(what="alert")
            version = DefenderVersion.of(current)
            result = WriteResult(alert, Outcome.CONFLICT, message, wanted, version, api=API)
        else:
            body = graph_difference(wanted, _fields(current))
            if not body:
                result = WriteResult(alert, Outcome.UNCHANGED, UNCHANGED_MESSAGE, wanted, api=API)
            else:
                to_store = _write(client, alert, actor, body)
                result = WriteResult(alert, Outcome.UPDATED, SAVED_MESSAGE, body, api=API)
    except ValueError as exc:
        # A value Graph has no member for: nothing was sent.
        calls = client.stats.api_calls - before
        message = f"Microsoft Graph does not take this value ({exc}). Nothing was changed."
        result = WriteResult(alert, Outcome.FAILED, message, wanted, api=API)
        return record_outcome(result, actor, ip_address, calls, bulk)
    except DefenderError as exc:
        calls = client.stats.api_calls - before
        return graph_alert_failure(alert, actor, exc, wanted, ip_address, calls, bulk)
    calls = client.stats.api_calls - before
    with transaction.atomic():
        if to_store is not None:
            stored = _with_known_evidence(alert, to_store)
            alerts_upsert(customer_id=alert.customer_id, records=[stored])
        record_outcome(result, actor, ip_address, calls, bulk)
    if to_store is not None:
        alert.refresh_from_db()
    return result


def _fields(current: GraphAlert) -> dict[str, str | None]:
    return {
        "status": current.status,
        "assigned_to": current.assigned_to or "",
        "classification": current.classification,
        "determination": current.determination,
    }


def _write(client: GraphClient, alert: Alert, actor: User, body: dict[str, str]) -> GraphAlert:
    """PATCH what changed, then the comment; Graph's last answer about the alert."""
    fields = {name: value for name, value in body.items() if name != "comment"}
    answer: GraphAlert | None = None
    if fields:
        answer = client.update_alert(alert.alert_id, **fields)
    if "comment" in body:
        client.add_alert_comment(
            alert.alert_id, credited_comment(actor=actor, text=body["comment"])
        )
        # The comment answer is the list only; the alert as Graph now has it is read.
        answer = client.get_alert(alert.alert_id)
    assert answer is not None  # `body` is never empty here
    return answer


def _with_known_evidence(alert: Alert, record: GraphAlert) -> GraphAlert:
    """Graph's answer, with the evidence the row already had if the answer has none."""
    old = alert.raw.get("evidence") if isinstance(alert.raw, dict) else None
    if old and not record.evidence:
        return parse_graph_alert({**record.raw, "evidence": old})
    return record


def graph_alert_failure(
    alert: Alert,
    actor: User,
    exc: DefenderError,
    wanted: dict[str, str],
    ip_address: str | None,
    calls: int,
    bulk: bool,
) -> WriteResult:
    """Graph refused or failed: the outcome in words, recorded."""
    if isinstance(exc, Forbidden):
        # Recorded on the customer so that the health page offers the re-consent link.
        permission = refused_permission(exc, GRAPH_ALERT_READWRITE)
        verification.customer_record_access_problem(
            customer_id=alert.customer_id, exc=exc, missing_permission=permission
        )
        message = forbidden_message(permission)
        result = WriteResult(
            alert, Outcome.FORBIDDEN, message, wanted, permission=permission, api=API
        )
    elif isinstance(exc, NotFound):
        message = "Microsoft Graph no longer knows this alert (it may have been deleted)."
        result = WriteResult(alert, Outcome.NOT_FOUND, message, wanted, api=API)
    else:
        logger.warning("Graph write-back to alert %s failed: %s", alert.pk, type(exc).__name__)
        result = WriteResult(alert, Outcome.FAILED, failed_message(exc), wanted, api=API)
    return record_outcome(result, actor, ip_address, calls, bulk)
