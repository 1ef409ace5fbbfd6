"""The campaigns pages: shared indicators across the analyst's customers."""

from __future__ import annotations

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from partner_portal.alerts.forms import CLASSIFICATION_CHOICES, DETERMINATION_CHOICES
from partner_portal.alerts.writeback import BULK_LIMIT
from partner_portal.core.access import Role, require_roles
from partner_portal.correlation import reads
from partner_portal.correlation.campaign_panels import render_campaign_panels


class WindowForm(forms.Form):
    days = forms.TypedChoiceField(
        label="Seen in", choices=reads.WINDOWS, coerce=int, required=False, initial=7
    )


def _days(request: HttpRequest) -> tuple[WindowForm, int]:
    form = WindowForm(request.GET or None)
    return form, ((form.cleaned_data["days"] if form.is_valid() else None) or 7)


@require_roles(Role.ANALYST)
@require_GET
def campaign_list(request: HttpRequest) -> HttpResponse:
    form, days = _days(request)
    found = reads.campaigns(user=request.user, days=days)
    return render(
        request, "correlation/campaigns.html", {"form": form, "campaigns": found, "days": days}
    )


@require_roles(Role.ANALYST)
@require_GET
def campaign_detail(request: HttpRequest, key: int) -> HttpResponse:
    form, days = _days(request)
    found = reads.campaign(user=request.user, key=key, days=days)
    if found is None:
        raise Http404("No such campaign among your customers in this window.")
    open_alerts = [a for a in found.alerts if a.status in reads.OPEN_STATUSES]
    context = {
        "form": form,
        "campaign": found,
        "days": days,
        "actionable": open_alerts[:BULK_LIMIT],
        "bulk_limit": BULK_LIMIT,
        "more_open": max(0, len(open_alerts) - BULK_LIMIT),
        "classifications": CLASSIFICATION_CHOICES,
        "determinations": DETERMINATION_CHOICES,
        "campaign_panels": render_campaign_panels(campaign=found, days=days, request=request),
    }
    return render(request, "correlation/campaign.html", context)
