"""Reads behind the alert detail, incident and tenant health pages.

Every query of customer data starts from `visibility` (alerts, incidents) or from
`tenants.scoping` (customers), so an analyst never gets a row of a customer outside their
scope; a row they may not see is simply "not found".
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q, QuerySet, Sum
from django.utils import timezone

from partner_portal.alerts.models import Alert, Incident, Source, SyncRun, SyncState
from partner_portal.alerts.visibility import visible_alerts, visible_incidents
from partner_portal.core.access import Role, has_role
from partner_portal.core.bounds import parse_whole_number
from partner_portal.defender import Cloud
from tenants.models import AuditEvent, Customer, CustomerStatus
from tenants.scoping import visible_customers

# Microsoft's documented ceiling per app and tenant, for alerts and incidents alike.
API_CALLS_PER_HOUR = 1500
# Other alerts of the same device shown on a detail page; more are a search away.
SAME_DEVICE_LIMIT = 20

# Defender portal host per cloud, as Microsoft lists them for US Government customers
# ("Microsoft Defender XDR for US Government", Portal URLs): GCC keeps the commercial one.
DEFENDER_PORTAL = {
    "commercial": "https://security.microsoft.com",
    "gcc": "https://security.microsoft.com",
    "gcc_high": "https://security.microsoft.us",
    "dod": "https://security.apps.mil",
}

# Raw fields the detail page already shows in its own sections.
SHOWN_ELSEWHERE = frozenset({"evidence", "comments"})


def defender_alert_url(alert: Alert) -> str:
    """Deep link to the alert in the Defender portal of the customer's cloud (the
    commercial one for a cloud the protocol core does not know), in the customer's tenant."""
    try:
        cloud = Cloud(alert.customer.cloud)
    except ValueError:
        cloud = Cloud.COMMERCIAL
    return f"{cloud.portal_url}/alerts/{alert.alert_id}?tid={alert.customer.tenant_id or ''}"


def defender_incident_url(incident: Incident) -> str:
    base = DEFENDER_PORTAL.get(incident.customer.cloud, DEFENDER_PORTAL["commercial"])
    return f"{base}/incidents/{incident.incident_id}?tid={incident.customer.tenant_id or ''}"


# --- alerts ---------------------------------------------------------------------------------
def alert_get(*, user: Any, pk: int) -> Alert | None:
    """One alert if `user` may see it, else None (the view answers 404)."""
    return visible_alerts(user=user).select_related("customer").filter(pk=pk).first()


@dataclass
class AlertDetail:
    alert: Alert
    defender_url: str
    incident: Incident | None
    incident_alerts: list[Alert]
    same_device: list[Alert]
    comments: list[dict[str, Any]]
    evidence: list[list[tuple[str, str]]]
    raw_fields: list[tuple[str, str]]
    recent_actions: list[AuditEvent] = field(default_factory=list)


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _evidence_rows(raw: dict[str, Any]) -> list[list[tuple[str, str]]]:
    rows = []
    for item in raw.get("evidence") or []:
        if isinstance(item, dict):
            rows.append(
                [(key, _as_text(value)) for key, value in item.items() if value not in (None, "")]
            )
    return rows


def _comments(raw: dict[str, Any]) -> list[dict[str, Any]]:
    from partner_portal.defender import parse_timestamp
    from partner_portal.defender.errors import MalformedResponse

    found = []
    for item in raw.get("comments") or []:
        if not isinstance(item, dict):
            continue
        try:
            created = parse_timestamp(item.get("createdTime"))
        except MalformedResponse:
            created = None
        found.append(
            {
                "comment": _as_text(item.get("comment")),
                "created_by": _as_text(item.get("createdBy")),
                "created_at": created,
            }
        )
    # Newest first, like the rest of the console.
    epoch = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    return sorted(found, key=lambda c: c["created_at"] or epoch, reverse=True)


def alert_detail(*, user: Any, pk: int) -> AlertDetail | None:
    """Everything the detail page shows about one alert, or None if `user` may not see it."""
    alert = alert_get(user=user, pk=pk)
    if alert is None:
        return None
    incident = None
    incident_alerts: list[Alert] = []
    if alert.incident_id is not None:
        incident = Incident.objects.filter(
            customer_id=alert.customer_id, incident_id=alert.incident_id
        ).first()
        incident_alerts = list(
            Alert.objects.filter(customer_id=alert.customer_id, incident_id=alert.incident_id)
            .exclude(pk=alert.pk)
            .order_by("-created_at", "-id")[:50]
        )
    same_device: list[Alert] = []
    if alert.machine_id:
        same_device = list(
            Alert.objects.filter(customer_id=alert.customer_id, machine_id=alert.machine_id)
            .exclude(pk=alert.pk)
            .order_by("-created_at", "-id")[:SAME_DEVICE_LIMIT]
        )
    raw = alert.raw if isinstance(alert.raw, dict) else {}
    raw_fields = [
        (key, _as_text(value)) for key, value in sorted(raw.items()) if key not in SHOWN_ELSEWHERE
    ]
    recent = list(
        AuditEvent.objects.filter(
            customer_id=alert.customer_id,
            action__startswith="alert.",
            details__alert_id=alert.alert_id,
        ).order_by("-created_at", "-id")[:20]
    )
    return AlertDetail(
        alert=alert,
        defender_url=defender_alert_url(alert),
        incident=incident,
        incident_alerts=incident_alerts,
        same_device=same_device,
        comments=_comments(raw),
        evidence=_evidence_rows(raw),
        raw_fields=raw_fields,
        recent_actions=recent,
    )


def alerts_for_action(*, user: Any, pks: list[int]) -> list[Alert]:
    """The chosen alerts `user` may see (others are silently dropped, never acted on)."""
    chosen = visible_alerts(user=user).select_related("customer").filter(pk__in=pks)
    return list(chosen.order_by("customer_id", "id"))


# --- incidents ------------------------------------------------------------------------------
def incident_list(
    *,
    user: Any,
    customer_ids: list[int] | None = None,
    status: str = "",
    severity: str = "",
    search: str = "",
) -> QuerySet[Incident]:
    """Incidents `user` may see, newest first, filtered as the incident page asks."""
    incidents = visible_incidents(user=user).select_related("customer")
    if customer_ids:
        incidents = incidents.filter(customer_id__in=customer_ids)
    if status:
        incidents = incidents.filter(status=status)
    if severity:
        incidents = incidents.filter(severity=severity)
    if search:
        query = Q(name__icontains=search) | Q(assigned_to__icontains=search)
        number = parse_whole_number(search)
        if number is not None:
            query |= Q(incident_id=number)
        incidents = incidents.filter(query)
    return incidents.order_by("-created_at", "-id")


@dataclass
class IncidentDetail:
    incident: Incident
    alerts: list[Alert]
    missing_alert_ids: list[str]
    defender_url: str


def incident_detail(*, user: Any, pk: int) -> IncidentDetail | None:
    incident = visible_incidents(user=user).select_related("customer").filter(pk=pk).first()
    if incident is None:
        return None
    # An alert belongs to the incident when Defender says so on either side.
    alerts = list(
        Alert.objects.filter(customer_id=incident.customer_id)
        .filter(Q(incident_id=incident.incident_id) | Q(alert_id__in=list(incident.alert_ids)))
        .order_by("-severity_rank", "-created_at", "-id")
    )
    known = {a.alert_id for a in alerts}
    missing = [alert_id for alert_id in incident.alert_ids if alert_id not in known]
    return IncidentDetail(
        incident=incident,
        alerts=alerts,
        missing_alert_ids=missing,
        defender_url=defender_incident_url(incident),
    )


# --- tenant health --------------------------------------------------------------------------
@dataclass
class SourceHealth:
    source: str
    last_success_at: datetime | None
    lag_seconds: float | None
    consecutive_failures: int
    api_calls_last_hour: int
    last_run_status: str = ""


@dataclass
class CustomerHealth:
    customer: Customer
    sources: list[SourceHealth]
    last_success_at: datetime | None
    lag_seconds: float | None
    last_error: str
    last_error_code: str
    last_error_at: datetime | None
    api_calls_last_hour: int
    writeback_calls_last_hour: int
    api_limit: int
    missing_roles: list[str]

    @property
    def usage_percent(self) -> int:
        return min(100, round(100 * self.api_calls_last_hour / self.api_limit))

    @property
    def is_healthy(self) -> bool:
        return self.customer.status == CustomerStatus.ACTIVE and not self.last_error


def health_customers(*, user: Any) -> QuerySet[Customer]:
    """Whose health `user` sees: onboarding staff see every customer (they mend consent);
    analysts see their scope."""
    if has_role(user, Role.ONBOARDING):
        customers = Customer.objects.order_by("display_name")
    else:
        customers = visible_customers(user=user)
    return customers.exclude(status=CustomerStatus.OFFBOARDED)


def tenant_health(*, user: Any, now: datetime | None = None) -> list[CustomerHealth]:
    """Each visible customer's sync health: status, freshness, errors, API budget."""
    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    customers = list(health_customers(user=user))
    ids = [c.pk for c in customers]

    states: dict[int, list[SyncState]] = defaultdict(list)
    for state in SyncState.objects.filter(customer_id__in=ids).select_related("last_run"):
        states[state.customer_id].append(state)

    calls: dict[tuple[int, str], int] = {
        (row["customer_id"], row["source"]): row["total"] or 0
        for row in SyncRun.objects.filter(customer_id__in=ids, started_at__gte=hour_ago)
        .values("customer_id", "source")
        .annotate(total=Sum("api_calls"))
    }

    # Write-back calls are recorded on their audit events; an hour holds few of them.
    writeback: dict[int, int] = defaultdict(int)
    for customer_id, details in AuditEvent.objects.filter(
        customer_id__in=ids, action__startswith="alert.", created_at__gte=hour_ago
    ).values_list("customer_id", "details"):
        if isinstance(details, dict):
            writeback[customer_id] += int(details.get("api_calls") or 0)

    rows = []
    for customer in customers:
        sources = []
        for state in sorted(states.get(customer.pk, []), key=lambda s: s.source):
            success = state.last_success_at
            sources.append(
                SourceHealth(
                    source=Source(state.source).label,
                    last_success_at=success,
                    lag_seconds=(now - success).total_seconds() if success else None,
                    consecutive_failures=state.consecutive_failures,
                    api_calls_last_hour=calls.get((customer.pk, state.source), 0),
                    last_run_status=state.last_run.status if state.last_run else "",
                )
            )
        successes = [s.last_success_at for s in sources if s.last_success_at]
        # The stalest source is the customer's lag: that is what an analyst may be missing.
        last_success = min(successes) if successes and len(successes) == len(sources) else None
        error, code, error_at = _last_error(customer, states.get(customer.pk, []))
        alert_calls = calls.get((customer.pk, Source.ALERTS), 0) + writeback[customer.pk]
        incident_calls = calls.get((customer.pk, Source.INCIDENTS), 0)
        rows.append(
            CustomerHealth(
                customer=customer,
                sources=sources,
                last_success_at=last_success,
                lag_seconds=(now - last_success).total_seconds() if last_success else None,
                last_error=error,
                last_error_code=code,
                last_error_at=error_at,
                # Each API has its own hourly budget; the busier one is the one to watch.
                api_calls_last_hour=max(alert_calls, incident_calls),
                writeback_calls_last_hour=writeback[customer.pk],
                api_limit=API_CALLS_PER_HOUR,
                missing_roles=list(customer.missing_roles or []),
            )
        )
    return rows


def _last_error(customer: Customer, states: list[SyncState]) -> tuple[str, str, datetime | None]:
    """The problem to show now: a failing sync, else the customer's own access problem.

    A failure that a later successful pass has cleared is history, not a problem.
    """
    failing = [s for s in states if s.consecutive_failures and s.last_run is not None]
    if failing:
        run = max((s.last_run for s in failing if s.last_run), key=lambda r: r.started_at)
        return run.error_message or run.error_code, run.error_code, run.finished_at
    if customer.status in (
        CustomerStatus.MISSING_PERMISSIONS,
        CustomerStatus.CONSENT_REVOKED,
        CustomerStatus.ERROR,
    ):
        return (
            customer.last_error_message or customer.get_status_display(),
            customer.last_error_code,
            customer.updated_at,
        )
    return "", "", None
