"""Graph's alerts and incidents as the portal's rows: the same columns the Defender for
Endpoint and XDR APIs fill, so that one table, one upsert and one console serve both.

Graph spells its enums in camelCase (``inProgress``, ``truePositive``) where the retiring
APIs, and so the portal's vocabularies and the rows already stored, use PascalCase
(``InProgress``, ``TruePositive``). A Graph value is stored in the portal's spelling of
the same member, found without regard to case; Graph's ``unknown`` severity is the
portal's ``UnSpecified``, and an ``unknown`` classification or determination means "not
set", as a null did before. A value the portal's vocabulary lacks is stored as sent.
An endpoint alert therefore looks the same whichever API last wrote it, which is what
lets a customer move to Graph without its alerts changing under the analysts.

What the old alert carried in named fields and Graph keeps in its evidence (the device
and the user) is taken from the first evidence that names it. `raw` is Graph's object
as sent, evidence included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import Any

from partner_portal.alerts.models import SEVERITY_RANK, Incident
from partner_portal.defender import (
    AlertClassification,
    AlertDetermination,
    AlertEvidence,
    AlertSeverity,
    AlertStatus,
    GraphAlert,
    GraphIncident,
    IncidentStatus,
    Vocabulary,
)

#: Graph's values that mean "not set" for classification and determination.
_UNSET = frozenset({"unknown"})


def _spellings(vocabulary: type[Vocabulary], **extra: str) -> dict[str, str]:
    table = {member.value.lower(): member.value for member in vocabulary}
    table.update({key.lower(): value for key, value in extra.items()})
    return table


_SEVERITIES = _spellings(AlertSeverity, unknown=AlertSeverity.UNSPECIFIED.value)
_ALERT_STATUSES = _spellings(AlertStatus)
_CLASSIFICATIONS = _spellings(AlertClassification)
_DETERMINATIONS = _spellings(AlertDetermination)
_INCIDENT_STATUSES = _spellings(IncidentStatus)
# The same tables for the write-back, which compares Graph's answers with the portal's values.
ALERT_STATUS_SPELLINGS, INCIDENT_STATUS_SPELLINGS = _ALERT_STATUSES, _INCIDENT_STATUSES
CLASSIFICATION_SPELLINGS, DETERMINATION_SPELLINGS = _CLASSIFICATIONS, _DETERMINATIONS


def portal_value(table: dict[str, str], value: str | None, *, unset: bool = False) -> str:
    """`value` in the portal's spelling (see the module's story); "" for none."""
    if not value or (unset and value.lower() in _UNSET):
        return ""
    return table.get(value.lower(), value)


def numeric_id(value: str | None) -> int | None:
    """Graph sends incident IDs as text; the portal keys incidents by number."""
    return int(value) if value and value.isdigit() else None


def _first(evidence: Iterable[AlertEvidence], name: str) -> Any:
    for item in evidence:
        found = getattr(item, name, None)
        if found:
            return found
    return None


def _user(evidence: tuple[AlertEvidence, ...]) -> str:
    account = _first(evidence, "user_account")
    if account is None or not account.account_name:
        return ""
    name: str = account.account_name
    return f"{account.domain_name}\\{name}" if account.domain_name else name


def as_is(value: Any) -> Any:
    """The JSON columns' value unchanged: what the ORM writer takes (COPY takes text)."""
    return value


def graph_alert_row(
    customer_id: int,
    record: GraphAlert,
    now: datetime,
    json_value: Callable[[Any], Any] = as_is,
) -> tuple[Any, ...]:
    """The columns of one alert row from Graph, in `upsert.ROW_NAMES` order."""
    raw = record.raw
    evidence = record.evidence
    severity = portal_value(_SEVERITIES, record.severity) or AlertSeverity.UNSPECIFIED.value
    return (
        customer_id,
        record.id,
        numeric_id(record.incident_id),
        None,  # Graph has no automated investigation ID
        (record.title or "")[:500],
        record.description or "",
        severity[:16],
        SEVERITY_RANK.get(severity, 0),
        (portal_value(_ALERT_STATUSES, record.status) or AlertStatus.UNKNOWN.value)[:16],
        portal_value(_CLASSIFICATIONS, record.classification, unset=True)[:48],
        portal_value(_DETERMINATIONS, record.determination, unset=True)[:64],
        "",  # nor an investigation state
        (record.category or "")[:64],
        (record.detection_source or "")[:64],
        (record.threat_family_name or "")[:200],
        (record.assigned_to or "")[:255],
        (_first(evidence, "mde_device_id") or "")[:64],
        (_first(evidence, "device_dns_name") or "")[:255],
        _user(evidence)[:255],
        json_value(list(record.mitre_techniques)),
        record.created_date_time,
        record.first_activity_date_time,
        record.last_activity_date_time,
        record.last_update_date_time,
        record.resolved_date_time,
        bool(evidence),
        json_value(raw if type(raw) is dict else dict(raw)),
        now,
        (record.service_source or "")[:64],
        (record.alert_web_url or "")[:1000],
        (record.incident_web_url or "")[:1000],
        json_value(list(record.system_tags)),
        True,
    )


def graph_incident(
    customer_id: int, incident_id: int, record: GraphIncident, now: datetime
) -> Incident:
    """One incident row from Graph. Its alerts are kept by ID only: the alerts source
    stores them, so `raw` is the incident without its expanded `alerts`."""
    severity = portal_value(_SEVERITIES, record.severity) or AlertSeverity.UNSPECIFIED.value
    alerts = record.alerts or ()
    raw = {key: value for key, value in record.raw.items() if key != "alerts"}
    return Incident(
        customer_id=customer_id,
        incident_id=incident_id,  # `numeric_id(record.id)`, checked by the caller
        name=(record.display_name or "")[:500],
        status=portal_value(_INCIDENT_STATUSES, record.status)[:16],
        severity=severity[:16],
        severity_rank=SEVERITY_RANK.get(severity, 0),
        classification=portal_value(_CLASSIFICATIONS, record.classification, unset=True)[:48],
        determination=portal_value(_DETERMINATIONS, record.determination, unset=True)[:64],
        assigned_to=(record.assigned_to or "")[:255],
        tags=list(record.custom_tags),
        alert_ids=[alert.id for alert in alerts],
        created_at=record.created_date_time,
        last_updated_at=record.last_update_date_time,
        raw=raw,
        synced_at=now,
        custom_tags=list(record.custom_tags),
        system_tags=list(record.system_tags),
        redirect_incident_id=numeric_id(record.redirect_incident_id),
        incident_web_url=(record.incident_web_url or "")[:1000],
        from_graph=True,
    )
