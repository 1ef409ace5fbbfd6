"""Analyst scopes: portal admins decide which customers each analyst or group sees."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from partner_portal.alerts.forms import ScopeGrantForm
from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles
from partner_portal.core.http import client_ip
from tenants import scoping
from tenants.models import AnalystScope


@require_roles(Role.ADMIN)
@require_http_methods(["GET", "POST"])
def scope_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = ScopeGrantForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            scope = scoping.scope_grant(
                user=data["user"],
                group=data["group"],
                customer=data["customer"],
                all_customers=data["all_customers"],
                granted_by=request.user,
                ip_address=client_ip(request),
            )
        except scoping.ScopeExists as exc:
            form.add_error(None, str(exc))
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Granted: {scope}.")
            return redirect("alerts:scopes")
    context = {"form": form, "scopes": scoping.scope_list()}
    return render(request, "alerts/scopes.html", context, status=400 if form.errors else 200)


@require_roles(Role.ADMIN)
@require_POST
def scope_revoke(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    scope = get_object_or_404(AnalystScope, pk=pk)
    label = str(scope)
    scoping.scope_revoke(scope=scope, revoked_by=request.user, ip_address=client_ip(request))
    messages.success(request, f"Revoked: {label}.")
    return redirect("alerts:scopes")
