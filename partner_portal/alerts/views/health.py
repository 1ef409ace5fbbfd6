"""Tenant health: is each customer's data fresh, and if not, why and what to do."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from partner_portal.alerts.reads import health
from partner_portal.core.access import Role, has_role, require_roles


@require_roles(Role.ANALYST, Role.ONBOARDING)
@require_GET
def tenant_health(request: HttpRequest) -> HttpResponse:
    rows = health.tenant_health(user=request.user)
    budgets = health.api_budgets()
    context = {
        "rows": rows,
        # Staff mend consent themselves; analysts are pointed to them.
        "can_fix_consent": has_role(request.user, Role.ONBOARDING),
        "budgets": budgets,
        "api_limit": health.shared_hourly_limit(budgets),
    }
    return render(request, "alerts/health.html", context)
