"""A customer's sync from its page: live health and backfill progress (JSON), and the
staff's request to import older history."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from partner_portal.alerts.history_import import request_history_import
from partner_portal.alerts.sync.progress import customer_sync_overview
from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles
from partner_portal.core.http import client_ip
from tenants.models import Customer


@require_roles(Role.ONBOARDING)
@require_GET
def sync_progress(request: HttpRequest, pk: int) -> JsonResponse:
    # The same people as the customer page that polls it.
    customer = get_object_or_404(Customer, pk=pk)
    response = JsonResponse(customer_sync_overview(customer=customer))
    response["Cache-Control"] = "no-store"
    return response


class HistoryImportForm(forms.Form):
    since = forms.DateField(
        label="Import history since",
        error_messages={"invalid": "Enter a day as YYYY-MM-DD.", "required": "Choose a day."},
    )


@require_roles(Role.ONBOARDING)
@require_POST
def import_history(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    """Staff ask for the customer's alerts and incidents since a day (the sync card)."""
    customer = get_object_or_404(Customer, pk=pk)
    form = HistoryImportForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError(list(form.errors["since"]))
        since = form.cleaned_data["since"]
        marked = request_history_import(
            customer=customer, since=since, actor=request.user, ip_address=client_ip(request)
        )
    except ValidationError as exc:
        messages.error(request, "The history was not imported: " + " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"The {' and '.join(marked)} since {since:%Y-%m-%d} are being imported; the sync "
            "card shows the pass while it runs.",
        )
    return redirect("tenants:customer_detail", pk=customer.pk)
