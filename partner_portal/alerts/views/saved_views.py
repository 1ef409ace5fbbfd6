"""Saving the alert list's current filter as a view, and deleting one's own views.

Both answer with a redirect to the list (the saved view opened, or the list as it was),
with the outcome in a message; the list itself offers the views (`saved_views`).
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpResponse, QueryDict
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from partner_portal.alerts import saved_views
from partner_portal.alerts.console_filters import canonical_querystring
from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles
from partner_portal.core.http import client_ip

analysts_only = require_roles(Role.ANALYST)


class SaveViewForm(forms.Form):
    name = forms.CharField(label="View name", max_length=80)
    query = forms.CharField(max_length=2000, required=False, widget=forms.HiddenInput)
    shared = forms.BooleanField(label="Share with every analyst", required=False)

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Give the view a name.")
        return name


def _list_with(query: str) -> str:
    url = reverse("alerts:list")
    return f"{url}?{query}" if query else url


@analysts_only
@require_POST
def saved_view_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = SaveViewForm(request.POST)
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, f"The view was not saved: {error}")
        query = (request.POST.get("query") or "")[:2000]
        return redirect(_list_with(canonical_querystring(QueryDict(query))))
    data = form.cleaned_data
    try:
        view = saved_views.save_view(
            owner=request.user,
            name=data["name"],
            query=data["query"],
            shared=data["shared"],
            ip_address=client_ip(request),
        )
    except saved_views.SavedViewRefused as refusal:
        messages.error(request, str(refusal))
        return redirect(reverse("alerts:list"))
    kind = "shared view" if view.shared else "view"
    messages.success(request, f"Saved the {kind} “{view.name}”.")
    return redirect(_list_with(view.query))


@analysts_only
@require_POST
def saved_view_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    try:
        view = saved_views.delete_view(owner=request.user, pk=pk, ip_address=client_ip(request))
    except saved_views.SavedViewRefused as refusal:
        messages.error(request, str(refusal))
    else:
        messages.success(request, f"Deleted the view “{view.name}”.")
    return redirect(reverse("alerts:list"))
