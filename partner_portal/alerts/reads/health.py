"""Tenant health: is each customer's data fresh, and if not, why and what to do.

For each customer a user may watch (`health_customers`: onboarding staff every customer,
since they mend consent; analysts their scope), and for each of its sources: when it last
synced successfully, how many passes failed in a row, and how many API calls it made in
the last hour against that API's hourly limit (those of the passes that left a row, plus
those idle passes counted on the source's `SyncState`). The customer's lag is its stalest source's;
its problem is a failing sync's error, else its own access problem (missing permissions,
revoked consent), in the words recorded when it happened.

Sources, their labels and their limits come from the sync's source registry
(`alerts.sync.sources`), where each source declares Microsoft's documented limits, so a
new source, or a change of limit, shows here without a change here. A source name the
registry does not know (a row left by a source since removed) is shown by its stored
name, without a limit. Write-back calls go to the alerts API and count against its budget.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from django.db.models import QuerySet, Sum
from django.utils import timezone

from partner_portal.alerts.models import Source, SyncRun, SyncState
from partner_portal.alerts.sync import sources
from partner_portal.core.access import Role, has_role
from tenants.models import AuditEvent, Customer, CustomerStatus
from tenants.scoping import visible_customers

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

HOUR = 3600.0
# Statuses in which the customer has not (yet) granted the partner app any access.
AWAITING_CONSENT = (CustomerStatus.PENDING_CONSENT, CustomerStatus.VERIFYING)
# Write-back PATCHes alerts through the same API the alerts source reads.
WRITEBACK_SOURCE = Source.ALERTS.value


def hourly_limit(limits: Sequence[tuple[int, float]]) -> int | None:
    """The most calls in one hour that `(calls, seconds)` limits allow (None: no limit).

    A window of an hour or less allows its calls once per window; a longer one allows at
    most its calls within any hour.
    """
    bounds = [
        int(calls * HOUR / seconds) if seconds <= HOUR else calls for calls, seconds in limits
    ]
    return min(bounds) if bounds else None


@dataclass(frozen=True)
class ApiBudget:
    """One source's API budget per customer and hour."""

    source: str
    label: str
    per_hour: int | None


def api_budgets() -> list[ApiBudget]:
    """Every registered source's hourly budget, in the registry's order."""
    return [
        ApiBudget(source.name, source.label, hourly_limit(source.limits))
        for source in sources.all_sources()
    ]


def shared_hourly_limit(budgets: list[ApiBudget]) -> int | None:
    """The hourly limit when every source has the same one (the page then says it once)."""
    limits = {budget.per_hour for budget in budgets}
    return limits.pop() if len(limits) == 1 else None


@dataclass
class SourceHealth:
    source: str
    last_success_at: datetime | None
    lag_seconds: float | None
    consecutive_failures: int
    api_calls_last_hour: int
    last_run_status: str = ""
    # The source's hourly limit; None for a source the registry does not know.
    api_limit: int | None = None


@dataclass
class CustomerHealth:
    customer: Customer
    sources: list[SourceHealth]
    last_success_at: datetime | None
    lag_seconds: float | None
    last_error: str
    last_error_code: str
    last_error_at: datetime | None
    # The calls and limit of the API nearest its hourly limit: the one to watch.
    api_calls_last_hour: int
    writeback_calls_last_hour: int
    api_limit: int | None
    missing_roles: list[str]

    @property
    def usage_percent(self) -> int:
        if not self.api_limit:
            return 0
        return min(100, round(100 * self.api_calls_last_hour / self.api_limit))

    # Where the page's usage meter turns amber and red: two thirds and 13/15 of the limit
    # (1,000 and 1,300 of Microsoft's 1,500).
    @property
    def usage_low(self) -> int | None:
        return self.api_limit * 2 // 3 if self.api_limit else None

    @property
    def usage_high(self) -> int | None:
        return self.api_limit * 13 // 15 if self.api_limit else None

    @property
    def is_healthy(self) -> bool:
        return self.customer.status == CustomerStatus.ACTIVE and not self.last_error

    @property
    def awaiting_consent(self) -> bool:
        """Not yet consented (or consent not yet verified): nothing is known about its
        permissions and nothing has been synced, so neither may read as fine."""
        return self.customer.status in AWAITING_CONSENT


def health_customers(*, user: User | AnonymousUser) -> QuerySet[Customer]:
    """Whose health `user` sees: onboarding staff see every customer (they mend consent);
    analysts see their scope."""
    if has_role(user, Role.ONBOARDING):
        customers = Customer.objects.order_by("display_name")
    else:
        customers = visible_customers(user=user)
    return customers.exclude(status=CustomerStatus.OFFBOARDED)


def _busiest(calls: dict[str, int], budgets: list[ApiBudget]) -> tuple[int, int | None]:
    """The calls and limit of the source that used the largest share of its budget."""
    limited = [b for b in budgets if b.per_hour]
    if not limited:
        return max(calls.values(), default=0), None
    top = max(limited, key=lambda b: calls.get(b.source, 0) / (b.per_hour or 1))
    return calls.get(top.source, 0), top.per_hour


def tenant_health(
    *, user: User | AnonymousUser, now: datetime | None = None
) -> list[CustomerHealth]:
    """Each visible customer's sync health: status, freshness, errors, API budget."""
    now = now or timezone.now()
    hour_ago = now - timedelta(hours=1)
    customers = list(health_customers(user=user))
    ids = [c.pk for c in customers]
    budgets = api_budgets()
    known = {budget.source: budget for budget in budgets}

    states: dict[int, list[SyncState]] = defaultdict(list)
    for state in SyncState.objects.filter(customer_id__in=ids).select_related("last_run"):
        states[state.customer_id].append(state)

    calls: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in (
        SyncRun.objects.filter(customer_id__in=ids, started_at__gte=hour_ago)
        .values("customer_id", "source")
        .annotate(total=Sum("api_calls"))
    ):
        calls[row["customer_id"]][row["source"]] += row["total"] or 0
    for customer_states in states.values():
        for state in customer_states:
            calls[state.customer_id][state.source] += state.idle_calls_last_hour(now)

    # Write-back calls are recorded on their audit events; an hour holds few of them.
    writeback: dict[int, int] = defaultdict(int)
    for customer_id, details in AuditEvent.objects.filter(
        customer_id__in=ids, action__startswith="alert.", created_at__gte=hour_ago
    ).values_list("customer_id", "details"):
        if isinstance(details, dict):
            writeback[customer_id] += int(details.get("api_calls") or 0)

    rows = []
    for customer in customers:
        used = dict(calls[customer.pk])
        used[WRITEBACK_SOURCE] = used.get(WRITEBACK_SOURCE, 0) + writeback[customer.pk]
        health = []
        for state in sorted(states.get(customer.pk, []), key=lambda s: s.source):
            success = state.last_success_at
            budget = known.get(state.source)
            health.append(
                SourceHealth(
                    source=budget.label if budget else state.source,
                    last_success_at=success,
                    lag_seconds=(now - success).total_seconds() if success else None,
                    consecutive_failures=state.consecutive_failures,
                    api_calls_last_hour=used.get(state.source, 0),
                    last_run_status=state.last_outcome,
                    api_limit=budget.per_hour if budget else None,
                )
            )
        successes = [s.last_success_at for s in health if s.last_success_at]
        # The stalest source is the customer's lag: that is what an analyst may be missing.
        last_success = min(successes) if successes and len(successes) == len(health) else None
        error, code, error_at = _last_error(customer, states.get(customer.pk, []))
        api_calls, api_limit = _busiest(used, budgets)
        rows.append(
            CustomerHealth(
                customer=customer,
                sources=health,
                last_success_at=last_success,
                lag_seconds=(now - last_success).total_seconds() if last_success else None,
                last_error=error,
                last_error_code=code,
                last_error_at=error_at,
                api_calls_last_hour=api_calls,
                writeback_calls_last_hour=writeback[customer.pk],
                api_limit=api_limit,
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
