"""One incident's write-back form and its posts, and bulk changes to chosen incidents.

The incident page (`incidents.incident_detail`) renders through `render_incident`, so
the page after a refused or conflicting change is the same page with the outcome on it.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from partner_portal.alerts import incident_writeback
from partner_portal.alerts.comment_credit import shown_comments
from partner_portal.alerts.detail_panels import render_incident_panels
from partner_portal.alerts.incident_forms import (
    IncidentBulkForm,
    IncidentUpdateForm,
    incident_initial,
)
from partner_portal.alerts.reads import incidents as incident_reads
from partner_portal.alerts.reads.incident_actions import (
    incident_for_action,
    incident_recent_actions,
    incidents_for_action,
)
from partner_portal.alerts.writeback_outcomes import Outcome
from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles
from partner_portal.core.http import client_ip

analysts = require_roles(Role.ANALYST)

# A conflict is the one refusal about the request itself (as for alerts).
STATUS_CODES = {Outcome.CONFLICT: 409}


def render_incident(
    request: HttpRequest,
    detail: incident_reads.IncidentDetail,
    form: IncidentUpdateForm | None = None,
    result: incident_writeback.IncidentWriteResult | None = None,
    status: int = 200,
) -> HttpResponse:
    """The incident page with its write-back form (and the outcome of a post)."""
    incident = detail.incident
    context = {
        "d": detail,
        "incident": incident,
        "form": form or IncidentUpdateForm(initial=incident_initial(incident)),
        "result": result,
        "comments": shown_comments(incident.raw),
        "actions": incident_recent_actions(incident=incident),
        "panels": render_incident_panels(incident=incident, request=request),
    }
    return render(request, "alerts/incident_detail.html", context, status=status)


@analysts
@require_POST
def incident_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    incident = incident_for_action(user=request.user, pk=pk)
    if incident is None:
        raise Http404("No such incident.")
    form = IncidentUpdateForm(request.POST)
    if not form.is_valid():
        return _page(request, pk, form=form, status=400)
    result = incident_writeback.incident_update(
        incident=incident,
        actor=request.user,
        changes=form.changes(incident),
        seen_last_update=form.cleaned_data["seen_last_update"],
        ip_address=client_ip(request),
    )
    if result.ok:
        messages.success(request, result.message)
        return redirect("alerts:incident", pk=pk)
    if result.outcome == Outcome.CONFLICT:
        # A fresh form from Graph's version; the analyst's comment stays.
        incident.refresh_from_db()
        comment = form.data.get("comment", "")
        form = IncidentUpdateForm(initial={**incident_initial(incident), "comment": comment})
    status = STATUS_CODES.get(result.outcome, 200)
    return _page(request, pk, form=form, result=result, status=status)


def _page(
    request: AuthenticatedHttpRequest,
    pk: int,
    *,
    form: IncidentUpdateForm,
    result: incident_writeback.IncidentWriteResult | None = None,
    status: int,
) -> HttpResponse:
    detail = incident_reads.incident_detail(user=request.user, pk=pk)
    if detail is None:
        raise Http404("No such incident.")
    return render_incident(request, detail, form=form, result=result, status=status)


def _back_to(request: HttpRequest, wanted: str) -> str:
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("alerts:incidents")


@analysts
@require_POST
def incident_bulk(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = IncidentBulkForm(request.POST)
    back = _back_to(request, request.POST.get("next", "") or request.headers.get("Referer", ""))
    if not form.is_valid():
        for error in [*form.errors.get("ids", []), *form.non_field_errors()]:
            messages.error(request, str(error))
        if any(form.errors.get(k) for k in ("status", "classification", "determination")):
            messages.error(request, "Choose a valid status, classification or determination.")
        return redirect(back)
    incidents = incidents_for_action(user=request.user, pks=form.cleaned_data["ids"])
    if not incidents:
        raise Http404("None of the chosen incidents exists.")
    data = form.cleaned_data
    results = incident_writeback.incidents_bulk_update(
        incidents=incidents,
        actor=request.user,
        status=data["status"] or None,
        classification=data["classification"] or None,
        determination=data["determination"] or None,
        assigned_to=data["assigned_to"] or None,
        ip_address=client_ip(request),
    )
    context = {
        "results": results,
        "back": back,
        "succeeded": sum(1 for r in results if r.ok),
        "failed": sum(1 for r in results if not r.ok),
    }
    return render(request, "alerts/incident_bulk_result.html", context)
