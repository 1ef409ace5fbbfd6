"""Tenant health: is each customer's data fresh, and if not, why and what to do."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from partner_portal.alerts import detail_selectors
from partner_portal.core.access import Role, has_role, require_roles


@require_roles(Role.ANALYST, Role.ONBOARDING)
@require_GET
def tenant_health(request: HttpRequest) -> HttpResponse:
    rows = detail_selectors.tenant_health(user=request.user)
    context = {
        "rows": rows,
        # Staff mend consent themselves; analysts are pointed to them.
        "can_fix_consent": has_role(request.user, Role.ONBOARDING),
        "api_limit": detail_selectors.API_CALLS_PER_HOUR,
    }
    return render(request, "alerts/health.html", context)
