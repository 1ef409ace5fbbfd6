"""Write-back: analysts change alerts in Defender, and the portal's rows follow.

Every change goes to Microsoft first; only Defender's answer updates the portal's row,
so the portal never shows a change Defender did not take. Customers on Microsoft Graph
have their alerts, of any Defender product, changed through Graph (`writeback_graph.py`);
customers still on the legacy APIs through the Defender for Endpoint API
(`PATCH /api/alerts/{id}`, here). Both go through the protocol core's rate-limited
clients. Before writing, the alert is read back from Defender: if it changed since the
analyst's page was rendered, nothing is written and the analyst sees the conflict. Each
attempt, whatever its outcome, leaves an audit event naming who, which alert, what and
how it ended.

Before anything is sent, `writeback_access` decides whether the alert can be changed at
all, through which API, and hands out the customer's client; a refusal is recorded like
any other outcome (`writeback_outcomes.py`). A comment names the analyst who wrote it
(`comment_credit.py`).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from django.db import transaction

from partner_portal.alerts.comment_credit import credited_comment
from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.alerts.writeback_access import (
    client_for,
    graph_client_for,
    unwritable,
    uses_graph,
)
from partner_portal.alerts.writeback_graph import graph_alert_apply
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
)
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

if TYPE_CHECKING:
    from django.contrib.auth.models import User

__all__ = [
    "BULK_LIMIT",
    "CALLS_PER_MINUTE",
    "AlertChanges",
    "Outcome",
    "WriteResult",
    "alert_update",
    "alerts_bulk_update",
]

logger = logging.getLogger(__name__)

# Microsoft's per-minute limit of the alerts API per customer, as its client keeps to it.
CALLS_PER_MINUTE = min(calls for calls, seconds in MdeClient.limits if seconds == 60)
# A selection larger than this would keep the request waiting on that limit for longer
# than a web request may last.
BULK_LIMIT = 50
MDE = "mde"


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

    `seen_last_update` is the alert's last-update time the analyst's page showed; if
    Defender's differs, nothing is written and the result is a conflict.
    """
    if uses_graph(alert):
        graph, problem = graph_client_for(alert.customer)
        if graph is None:
            return _refused(alert, actor, problem, changes, ip_address)
        return graph_alert_apply(
            graph, alert, actor, changes,
            seen_last_update=seen_last_update, ip_address=ip_address, bulk=False,
        )  # fmt: skip
    client, problem = client_for(alert.customer)
    problem = problem or unwritable(alert)
    if client is None or problem:
        return _refused(alert, actor, problem, changes, ip_address)
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
    classification: str | None = None,
    determination: str | None = None,
    comment: str | None = None,
    ip_address: str | None = None,
) -> list[WriteResult]:
    """Set status, assignee, classification and determination on many alerts, and add
    one comment to each; one result per alert. Values are spelled as for one alert
    (`alert_update`): the legacy API takes them as they are, Graph as `writeback_graph`
    maps them.

    Through the Defender for Endpoint API, alerts are read back a batch at a time (one
    call per 20) and then patched one by one; through Graph, each is read back and
    patched in turn; both through each customer's rate-limited client. An alert whose
    Defender version is newer than the portal's row is reported as a conflict and left
    alone: the analyst chose it from a list that did not show that change.
    """
    changes = AlertChanges(
        status=status,
        assigned_to=assigned_to,
        classification=classification,
        determination=determination,
        comment=comment,
    )
    by_customer: dict[int, list[Alert]] = defaultdict(list)
    for alert in alerts:
        by_customer[alert.customer_id].append(alert)
    results: list[WriteResult] = []
    for group in by_customer.values():
        on_graph = [a for a in group if uses_graph(a)]
        if on_graph:
            results += _bulk_graph(on_graph, actor, changes, ip_address)
        legacy = [a for a in group if not uses_graph(a)]
        if legacy:
            results += _bulk_mde(legacy, actor, changes, ip_address)
    return results


def _bulk_graph(
    group: list[Alert], actor: User, changes: AlertChanges, ip_address: str | None
) -> list[WriteResult]:
    graph, problem = graph_client_for(group[0].customer)
    if graph is None:
        return [_refused(a, actor, problem, changes, ip_address, bulk=True) for a in group]
    results = []
    for alert in group:
        seen, ip = alert.last_updated_at, ip_address
        results.append(
            graph_alert_apply(
                graph, alert, actor, changes, seen_last_update=seen, ip_address=ip, bulk=True
            )
        )
    return results


def _bulk_mde(
    group: list[Alert], actor: User, changes: AlertChanges, ip_address: str | None
) -> list[WriteResult]:
    client, problem = client_for(group[0].customer)
    refused = [(a, problem or unwritable(a)) for a in group]
    results = [
        _refused(a, actor, why, changes, ip_address, bulk=True)
        for a, why in refused
        if client is None or why
    ]
    group = [a for a, why in refused if not why]
    if client is None or not group:
        return results
    current, failure, calls = _read_back(client, group)
    for index, alert in enumerate(group):
        if failure is not None:
            results.append(_failure_result(alert, actor, failure, changes, ip_address, calls, True))
            # The read cost is booked once, on the first alert of the batch.
            calls = 0
            continue
        record = current.get(alert.alert_id)
        if record is None:
            result = WriteResult(
                alert, Outcome.NOT_FOUND, NotFound.explanation, changes.wanted(), api=MDE
            )
            results.append(
                record_outcome(result, actor, ip_address, calls if index == 0 else 0, True)
            )
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


def _refused(
    alert: Alert,
    actor: User,
    why: str,
    changes: AlertChanges,
    ip_address: str | None,
    *,
    bulk: bool = False,
) -> WriteResult:
    """Nothing was sent: the refusal in words, recorded like any other outcome."""
    result = WriteResult(alert, Outcome.FAILED, why, changes.wanted())
    return record_outcome(result, actor, ip_address, 0, bulk)


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
            message = CONFLICT_MESSAGE.format(what="alert")
            version = DefenderVersion.of(current)
            result = WriteResult(alert, Outcome.CONFLICT, message, wanted, version, api=MDE)
        else:
            body = _difference(changes, current)
            if not body:
                result = WriteResult(alert, Outcome.UNCHANGED, UNCHANGED_MESSAGE, wanted, api=MDE)
            else:
                sent = dict(body)
                if "comment" in sent:
                    sent["comment"] = credited_comment(actor=actor, text=sent["comment"])
                to_store = client.update_alert(alert.alert_id, **sent)
                result = WriteResult(alert, Outcome.UPDATED, SAVED_MESSAGE, body, api=MDE)
        if to_store is not None:
            to_store = _with_known_evidence(alert, to_store)
    except DefenderError as exc:
        calls = client.stats.api_calls - before + extra_calls
        return _failure_result(alert, actor, exc, changes, ip_address, calls, bulk)
    calls = client.stats.api_calls - before + extra_calls
    with transaction.atomic():
        if to_store is not None:
            alerts_upsert(customer_id=alert.customer_id, records=[to_store])
        record_outcome(result, actor, ip_address, calls, bulk)
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
        message = forbidden_message(ALERT_READWRITE)
        result = WriteResult(
            alert, Outcome.FORBIDDEN, message, wanted, permission=ALERT_READWRITE, api=MDE
        )
    elif isinstance(exc, NotFound):
        message = "Defender no longer knows this alert (it may have been deleted)."
        result = WriteResult(alert, Outcome.NOT_FOUND, message, wanted, api=MDE)
    else:
        logger.warning("Write-back to alert %s failed: %s", alert.pk, type(exc).__name__)
        result = WriteResult(alert, Outcome.FAILED, failed_message(exc), wanted, api=MDE)
    return record_outcome(result, actor, ip_address, calls, bulk)
