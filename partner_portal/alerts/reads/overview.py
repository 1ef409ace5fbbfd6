"""The overview: what needs an analyst's attention now, each figure a link to its items.

Every alert figure is defined by the query string of the alert list that shows exactly
its alerts: the figure is counted by passing that query string through the list's own
filter (`filters.AlertFilterForm` and `alert_list.filtered_alerts`), so following the
link shows as many rows as the figure says (at the same moment; the list's "last 24
hours" is counted from when it is opened). Incident figures likewise use the incident
queue's filter (`incident_filters.IncidentFilterForm`, `incident_queue.filtered_incidents`).
Everything starts from the user's scope (`visibility`), so an analyst's figures count
only their customers.

Customers needing attention come from tenant health (`health.tenant_health`), limited to
the customers the user may see as an analyst.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from django.db.models import Count, QuerySet
from django.http import QueryDict
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.filters import AlertFilterForm
from partner_portal.alerts.incident_filters import IncidentFilterForm
from partner_portal.alerts.models import Alert
from partner_portal.alerts.reads.alert_list import OPEN_STATUSES, filtered_alerts
from partner_portal.alerts.reads.health import tenant_health
from partner_portal.alerts.reads.incident_queue import (
    OPEN_INCIDENT_STATUSES,
    STATUS_LABELS,
    filtered_incidents,
)
from partner_portal.alerts.status_filter import ALL_STATUSES
from partner_portal.defender import AlertSeverity
from tenants.models import CustomerStatus
from tenants.scoping import visible_customers

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

# The filters the figures stand for, as the alert list reads them from its query string.
OPEN = [("status", status) for status in OPEN_STATUSES]
NEW_SERIOUS = [
    ("severity", AlertSeverity.HIGH.value),
    ("severity", AlertSeverity.MEDIUM.value),
    *OPEN,
    ("period", "24h"),
]
UNASSIGNED = [*OPEN, ("unassigned", "on")]
OLDEST_FIRST = [*OPEN, ("sort", "oldest")]
NO_CONSENT = (CustomerStatus.PENDING_CONSENT, CustomerStatus.VERIFYING)


@dataclass(frozen=True)
class Figure:
    """A number and the link to the list of exactly the items it counts."""

    label: str
    count: int
    url: str


@dataclass(frozen=True)
class CustomerProblem:
    """A customer whose data may be incomplete, and why in words."""

    name: str
    reason: str
    alerts_url: str


@dataclass
class Overview:
    new_serious: Figure
    new_serious_by_customer: list[Figure]
    open_alerts: Figure
    unassigned: Figure
    oldest_open: Alert | None
    open_incidents: list[Figure]
    # The incident queue as it opens: every open incident (the figures' sum).
    open_incidents_url: str
    problems: list[CustomerProblem]
    problems_url: str
    # None on a first visit: nothing to count from.
    since_last_visit: Figure | None = None
    last_visit_at: datetime | None = None
    extra: list[Figure] = field(default_factory=list)


def alert_list_url(params: list[tuple[str, str]]) -> str:
    query = QueryDict(mutable=True)
    for key, value in params:
        query.appendlist(key, value)
    return f"{reverse('alerts:list')}?{query.urlencode()}"


def matching_alerts(
    *, user: User | AnonymousUser, params: list[tuple[str, str]], now: datetime
) -> QuerySet[Alert]:
    """The alerts the alert list shows for query `params`, read through its own filter."""
    query = QueryDict(mutable=True)
    for key, value in params:
        query.appendlist(key, value)
    form = AlertFilterForm(query, user=user, now=now)
    if not form.is_valid():  # the figures' own filters; a failure here is a defect
        raise ValueError(f"Overview filter not valid: {form.errors.as_text()}")
    return filtered_alerts(user=user, query=form.to_query())


def alert_figure(
    *, user: User | AnonymousUser, label: str, params: list[tuple[str, str]], now: datetime
) -> Figure:
    count = matching_alerts(user=user, params=params, now=now).count()
    return Figure(label, count, alert_list_url(params))


def overview(
    *, user: User | AnonymousUser, last_visit_at: datetime | None, now: datetime | None = None
) -> Overview:
    """What needs `user`'s attention now, within their customers."""
    now = now or timezone.now()
    new_serious = matching_alerts(user=user, params=NEW_SERIOUS, now=now)
    names = dict(visible_customers(user=user).values_list("pk", "display_name"))
    by_customer = [
        Figure(
            names.get(row["customer_id"], "?"),
            row["n"],
            alert_list_url([("customer", str(row["customer_id"])), *NEW_SERIOUS]),
        )
        for row in new_serious.values("customer_id").annotate(n=Count("pk")).order_by("-n")
    ]
    open_alerts = matching_alerts(user=user, params=OPEN, now=now)
    oldest = open_alerts.select_related("customer").order_by("created_at", "pk").first()
    since = None
    if last_visit_at is not None:
        # To the second, in UTC as the list's "From (UTC)" reads it.
        mark = last_visit_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        # Every alert since then, resolved too (the list alone shows the open ones).
        params = [("status", ALL_STATUSES), ("period", "custom"), ("since", mark)]
        label = f"New since your last visit ({mark.replace('T', ' ')} UTC)"
        since = alert_figure(user=user, label=label, params=params, now=now)
    return Overview(
        new_serious=Figure(
            "New High and Medium, last 24 hours, still open",
            sum(f.count for f in by_customer),
            alert_list_url(NEW_SERIOUS),
        ),
        new_serious_by_customer=by_customer,
        open_alerts=Figure("Open alerts", open_alerts.count(), alert_list_url(OLDEST_FIRST)),
        unassigned=alert_figure(user=user, label="Open and unassigned", params=UNASSIGNED, now=now),
        oldest_open=oldest,
        open_incidents=_incident_figures(user=user, now=now),
        open_incidents_url=reverse("alerts:incidents"),
        problems=_customer_problems(user=user, names=names, now=now),
        problems_url=reverse("alerts:health"),
        since_last_visit=since,
        last_visit_at=last_visit_at,
    )


def _incident_figures(*, user: User | AnonymousUser, now: datetime) -> list[Figure]:
    """One figure per open status (the incident queue's own, `OPEN_INCIDENT_STATUSES`),
    each counted through the queue's filter; the queue without a status shows them all."""
    url = reverse("alerts:incidents")
    figures = []
    for status in OPEN_INCIDENT_STATUSES:
        query = QueryDict(mutable=True)
        query.appendlist("status", status)
        form = IncidentFilterForm(query, user=user, now=now)
        if not form.is_valid():  # the figures' own filters; a failure here is a defect
            raise ValueError(f"Overview filter not valid: {form.errors.as_text()}")
        count = filtered_incidents(user=user, query=form.to_query()).count()
        figures.append(Figure(STATUS_LABELS[status], count, f"{url}?{query.urlencode()}"))
    return figures


def _customer_problems(
    *, user: User | AnonymousUser, names: dict[int, str], now: datetime
) -> list[CustomerProblem]:
    """Customers in the analyst's scope without consent, or whose sync is failing."""
    problems = []
    for row in tenant_health(user=user, now=now):
        customer = row.customer
        if customer.pk not in names or row.is_healthy:
            continue
        if customer.status in NO_CONSENT:
            reason = f"No consent yet ({customer.get_status_display().lower()})"
        else:
            reason = row.last_error or customer.get_status_display()
        problems.append(
            CustomerProblem(
                customer.display_name,
                reason,
                alert_list_url([("customer", str(customer.pk)), ("status", ALL_STATUSES)]),
            )
        )
    return problems
