"""The SLA page: goals (set by portal admins, and by SOC leads of every customer) and, per
customer the reader may see, the open alerts' timers and the last 30 days' breaches; and
the monthly report, as a page and as CSV."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_GET, require_POST

from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles, user_roles
from partner_portal.core.exports import export_response
from partner_portal.notifications import leads, sla_pages, sla_report
from partner_portal.notifications.models import SlaGoal
from partner_portal.notifications.sla_forms import SlaGoalForm, SlaReportForm
from tenants import scoping


@require_roles(Role.ANALYST, Role.ADMIN)
@require_GET
def sla_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _page(request, SlaGoalForm(), status=200)


def _page(request: AuthenticatedHttpRequest, form: SlaGoalForm, *, status: int) -> HttpResponse:
    context = {
        "form": form,
        "goals": sla_pages.goal_list(),
        "overview": sla_pages.sla_overview(user=request.user),
        "breach_days": sla_pages.BREACH_DAYS,
        "may_change_goals": scoping.sees_all_customers(request.user)
        and bool(user_roles(request.user) & set(leads.CHANGERS)),
    }
    return render(request, "notifications/sla.html", context, status=status)


def _refused(request: AuthenticatedHttpRequest) -> HttpResponse | None:
    """The SLA page with the reason, for a SOC lead scoped to some customers: a goal
    covers customers by tag or all at once, never only a lead's own."""
    if scoping.sees_all_customers(request.user):
        return None
    messages.error(
        request,
        "SLA goals cover customers by tag or all customers at once: only a SOC lead of "
        "every customer, or a portal admin, may change them.",
    )
    return _page(request, SlaGoalForm(), status=403)


@require_roles(*leads.CHANGERS)
@require_POST
def sla_goal_save(request: AuthenticatedHttpRequest) -> HttpResponse:
    if refused := _refused(request):
        return refused
    form = SlaGoalForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=400)
    data = form.cleaned_data
    sla_pages.sla_goal_save(
        tag=data["tag"],
        severity=data["severity"],
        acknowledge_minutes=data["acknowledge_minutes"],
        resolve_minutes=data["resolve_minutes"],
        business_days=data["business_days"],
        start_hour=data["start_hour"],
        end_hour=data["end_hour"],
        holidays=data["holidays"],
        warn_percent=data["warn_percent"],
        actor=request.user,
    )
    messages.success(request, "Saved the SLA goal.")
    return redirect("notifications:sla")


@require_roles(*leads.CHANGERS)
@require_POST
def sla_goal_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    if refused := _refused(request):
        return refused
    sla_pages.sla_goal_delete(goal=get_object_or_404(SlaGoal, pk=pk), actor=request.user)
    messages.success(request, "Removed the SLA goal.")
    return redirect("notifications:sla")


@require_roles(Role.ANALYST, Role.ADMIN)
@require_GET
def sla_report_page(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SlaReportForm(request.GET)
    if not form.is_valid():
        return render(request, "notifications/sla_report.html", {"form": form}, status=400)
    report = sla_report.month_report(user=request.user, month=form.cleaned_data["month"])
    return render(request, "notifications/sla_report.html", {"form": form, "report": report})


@require_roles(Role.ANALYST, Role.ADMIN)
@require_GET
def sla_report_csv(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SlaReportForm(request.GET)
    if not form.is_valid():
        return render(request, "notifications/sla_report.html", {"form": form}, status=400)
    month = form.cleaned_data["month"]
    report = sla_report.month_report(user=request.user, month=month)
    return export_response(
        sla_report.export_rows(report),
        names=sla_report.EXPORT_NAMES,
        kind="csv",
        basename=f"sla-report-{month:%Y-%m}",
    )
