"""Suppression rule pages: the list with hit counts, a rule with the alerts it caught, the
form (blank, or prefilled from an alert: "suppress alerts like this"), and ending a rule.
Analysts read, cut to their customers; portal admins change, and SOC leads within their
scope (`leads`)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from partner_portal.alerts.visibility import visible_alerts
from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles
from partner_portal.core.bounds import parse_whole_number
from partner_portal.correlation.reads import WINDOWS
from partner_portal.correlation.reads import campaign as find_campaign
from partner_portal.notifications import leads, suppression_rules
from partner_portal.notifications.campaign_actions import initial_from_campaign
from partner_portal.notifications.forms import SuppressionRuleForm
from partner_portal.notifications.models import SuppressionRule
from partner_portal.notifications.preview import rule_preview

READERS = (Role.ANALYST, Role.ADMIN)


@require_roles(*READERS)
@require_GET
def rule_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    rows = suppression_rules.rule_list(user=request.user)
    return render(request, "notifications/suppressions.html", {"rows": rows})


@require_roles(*READERS)
@require_GET
def rule_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    row = suppression_rules.visible_rule(pk=pk, user=request.user)
    if row is None:
        raise Http404("No such suppression rule.")
    hits = suppression_rules.rule_hits(rule=row.rule, user=request.user)
    preview = rule_preview(rule=row.rule, user=request.user)
    return render(
        request,
        "notifications/suppression_detail.html",
        {"row": row, "rule": row.rule, "hits": hits, "preview": preview},
    )


@require_roles(*leads.CHANGERS)
@require_http_methods(["GET", "POST"])
def rule_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    initial: dict[str, object] = {}
    choices: dict[str, list[str]] = {}
    alert = None
    if "alert" in request.GET:
        pk = parse_whole_number(request.GET.get("alert", ""))
        alert = visible_alerts(user=request.user).filter(pk=pk).first() if pk else None
        if alert is None:
            messages.error(request, "That alert was not found; the form starts empty.")
        else:
            initial = suppression_rules.initial_from_alert(alert)
            choices = suppression_rules.evidence_choices(alert)
    campaign = None
    if "campaign" in request.GET:
        key = parse_whole_number(request.GET.get("campaign", ""))
        days = parse_whole_number(request.GET.get("days", "")) or 7
        if key and days in dict(WINDOWS):
            campaign = find_campaign(user=request.user, key=key, days=days)
        if campaign is None:
            messages.error(request, "That campaign was not found; the form starts empty.")
        else:
            initial = initial_from_campaign(campaign)
    return _rule_form(
        request, SuppressionRule(), initial=initial, alert=alert, choices=choices, campaign=campaign
    )


@require_roles(*leads.CHANGERS)
@require_http_methods(["GET", "POST"])
def rule_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    row = suppression_rules.visible_rule(pk=pk, user=request.user)
    if row is None:
        raise Http404("No such suppression rule.")
    return _rule_form(request, row.rule, initial={}, alert=None, campaign=None)


def _rule_form(
    request: AuthenticatedHttpRequest,
    rule: SuppressionRule,
    *,
    initial: dict[str, object],
    alert: object,
    choices: dict[str, list[str]] | None = None,
    campaign: object = None,
) -> HttpResponse:
    refused = leads.refusal_of(user=request.user, item=rule)
    if refused:
        raise PermissionDenied(refused)
    form = SuppressionRuleForm(
        request.POST or None, instance=rule, initial=initial, evidence_choices=choices
    )
    leads.limit_choices(form, user=request.user)
    if request.method == "POST" and form.is_valid():
        plain, relations, days = form.apply()
        try:
            refused = leads.refusal_of_relations(user=request.user, relations=relations)
            if refused:
                raise ValidationError(refused)
            saved = suppression_rules.rule_save(
                rule=plain, relations=relations, days=days, actor=request.user
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request,
                f"Saved suppression rule #{saved.pk}; "
                f"it ends {saved.expires_at:%Y-%m-%d %H:%M} UTC.",
            )
            return redirect("notifications:suppression_detail", pk=saved.pk)
    edited = rule if rule.pk else None
    context = {
        "form": form,
        "kind": "suppression rule",
        "edited": edited,
        "alert": alert,
        "campaign": campaign,
    }
    return render(
        request, "notifications/suppression_form.html", context, status=400 if form.errors else 200
    )


@require_roles(*leads.CHANGERS)
@require_POST
def rule_end(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    row = suppression_rules.visible_rule(pk=pk, user=request.user)
    if row is None:
        raise Http404("No such suppression rule.")
    refused = leads.refusal_of(user=request.user, item=row.rule)
    if refused:
        raise PermissionDenied(refused)
    suppression_rules.rule_end(rule=row.rule, actor=request.user)
    messages.success(request, f"Ended suppression rule #{pk}: its alerts notify again.")
    return redirect("notifications:suppression_detail", pk=pk)
