"""Live sync health and first-backfill progress of one customer, as JSON for its page."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.shortcuts import get_object_or_404
from django.views.decorators.http import require_GET

from partner_portal.alerts.sync.progress import customer_sync_overview
from partner_portal.core.access import Role, require_roles
from tenants.models import Customer


@require_roles(Role.ONBOARDING)
@require_GET
def sync_progress(request: HttpRequest, pk: int) -> JsonResponse:
    # The same people as the customer page that polls it.
    customer = get_object_or_404(Customer, pk=pk)
    response = JsonResponse(customer_sync_overview(customer=customer))
    response["Cache-Control"] = "no-store"
    return response
