"""Incidents: the list of a user's visible incidents, and one incident with its alerts
(and its write-back form, `incident_writeback.py`)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from partner_portal.alerts.forms import IncidentFilterForm
from partner_portal.alerts.reads import incidents as incident_reads
from partner_portal.alerts.views.incident_writeback import render_incident
from partner_portal.core.access import Role, require_roles
from tenants.scoping import visible_customers

PAGE_SIZE = 50


@require_roles(Role.ANALYST)
@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    customers = visible_customers(user=request.user)
    form = IncidentFilterForm(request.GET or None, customers=customers)
    filters = form.cleaned_data if form.is_valid() else {}
    incidents = incident_reads.incident_list(
        user=request.user,
        customer_ids=[c.pk for c in filters.get("customer") or []],
        status=filters.get("status", ""),
        severity=filters.get("severity", ""),
        search=filters.get("q", ""),
    )
    page = Paginator(incidents, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "alerts/incidents.html", {"form": form, "page": page})


@require_roles(Role.ANALYST)
@require_GET
def incident_detail(request: HttpRequest, pk: int) -> HttpResponse:
    detail = incident_reads.incident_detail(user=request.user, pk=pk)
    if detail is None:
        raise Http404("No such incident.")
    return render_incident(request, detail)
