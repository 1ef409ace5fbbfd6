"""One alert, its write-back form, its evidence fetched on demand, and bulk changes posted
from the alert list."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import NoReverseMatch, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from partner_portal.alerts import evidence_on_demand, writeback
from partner_portal.alerts.detail_panels import render_alert_panels
from partner_portal.alerts.forms import AlertUpdateForm, BulkUpdateForm
from partner_portal.alerts.models import Alert
from partner_portal.alerts.reads import alert_detail as detail_reads
from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles
from partner_portal.core.http import client_ip
from partner_portal.defender import SETTABLE_ALERT_STATUSES, AlertClassification

analysts = require_roles(Role.ANALYST)

# A conflict is the one refusal that is about the request itself; Defender refusing
# (permission, missing alert, outage) is reported on an ordinary page.
STATUS_CODES = {writeback.Outcome.CONFLICT: 409}


def _initial(alert: Alert) -> dict[str, str]:
    return {
        "status": alert.status if alert.status in SETTABLE_ALERT_STATUSES else "",
        "assigned_to": alert.assigned_to,
        "classification": (
            alert.classification if alert.classification != AlertClassification.UNKNOWN else ""
        ),
        "determination": alert.determination,
        "seen_last_update": alert.last_updated_at.isoformat() if alert.last_updated_at else "",
    }


def _render_detail(
    request: HttpRequest,
    detail: detail_reads.AlertDetail,
    form: AlertUpdateForm | None = None,
    result: writeback.WriteResult | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "d": detail,
        "alert": detail.alert,
        "form": form or AlertUpdateForm(initial=_initial(detail.alert)),
        "result": result,
        "panels": render_alert_panels(alert=detail.alert, request=request),
        "evidence_fetch": evidence_on_demand.request_evidence(alert=detail.alert),
    }
    return render(request, "alerts/detail.html", context, status=status)


@analysts
@require_GET
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    detail = detail_reads.alert_detail(user=request.user, pk=pk)
    if detail is None:
        raise Http404("No such alert.")
    return _render_detail(request, detail)


@analysts
@require_GET
def alert_evidence_state(request: HttpRequest, pk: int) -> JsonResponse:
    """Where the fetch of an alert's evidence stands, for the alert page's script."""
    alert = detail_reads.alert_get(user=request.user, pk=pk)
    if alert is None:
        raise Http404("No such alert.")
    state = evidence_on_demand.evidence_state(alert)
    return JsonResponse({"state": state.state, "words": state.words})


@analysts
@require_POST
def alert_update(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    alert = detail_reads.alert_get(user=request.user, pk=pk)
    if alert is None:
        raise Http404("No such alert.")
    form = AlertUpdateForm(request.POST)
    if not form.is_valid():
        detail = detail_reads.alert_detail(user=request.user, pk=pk)
        assert detail is not None
        return _render_detail(request, detail, form=form, status=400)
    result = writeback.alert_update(
        alert=alert,
        actor=request.user,
        changes=form.changes(),
        seen_last_update=form.cleaned_data["seen_last_update"],
        ip_address=client_ip(request),
    )
    if result.ok:
        messages.success(request, result.message)
        return redirect("alerts:detail", pk=pk)
    detail = detail_reads.alert_detail(user=request.user, pk=pk)
    if detail is None:
        raise Http404("No such alert.")
    if result.outcome == writeback.Outcome.CONFLICT:
        # A fresh form from Defender's version; the analyst's own entries stay visible.
        comment = form.data.get("comment", "")
        form = AlertUpdateForm(initial={**_initial(detail.alert), "comment": comment})
    return _render_detail(
        request, detail, form=form, result=result, status=STATUS_CODES.get(result.outcome, 200)
    )


def _back_to(request: HttpRequest, wanted: str) -> str:
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    try:
        return reverse("alerts:list")
    except NoReverseMatch:
        return reverse("home")


@analysts
@require_POST
def alert_bulk(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = BulkUpdateForm(request.POST)
    back = _back_to(request, request.POST.get("next", "") or request.headers.get("Referer", ""))
    if not form.is_valid():
        for error in [*form.errors.get("alert", []), *form.non_field_errors()]:
            messages.error(request, str(error))
        if any(form.errors.get(name) for name in ("status", "assigned_to", "comment")):
            messages.error(request, "Choose a valid status or assignee.")
        if form.errors.get("classification") or form.errors.get("determination"):
            messages.error(request, "Choose a classification and determination from the lists.")
        return redirect(back)
    alerts = detail_reads.alerts_for_action(user=request.user, pks=form.cleaned_data["alert"])
    if not alerts:
        raise Http404("None of the chosen alerts exists.")
    changes = form.changes()
    results = writeback.alerts_bulk_update(
        alerts=alerts,
        actor=request.user,
        status=changes.status,
        assigned_to=changes.assigned_to,
        classification=changes.classification,
        determination=changes.determination,
        comment=changes.comment,
        ip_address=client_ip(request),
    )
    context = {
        "results": results,
        "back": back,
        "succeeded": sum(1 for r in results if r.ok),
        "failed": sum(1 for r in results if not r.ok),
    }
    return render(request, "alerts/detail_bulk_result.html", context)
