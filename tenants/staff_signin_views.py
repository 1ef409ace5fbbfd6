"""The two pages of staff sign-in with Microsoft: the start and Microsoft's answer.

Both are public (nobody is signed in yet). Where the browser goes is the portal's
choice: Microsoft's sign-in, built from the configuration; afterwards a path of this
site kept from the start (``safe_next``), never a URL from Microsoft's answer.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from partner_portal.core.access import public
from tenants import staff_signin
from tenants.microsoft import PartnerAppNotConfigured


def _answer(request: HttpRequest, outcome: staff_signin.StaffOutcome) -> HttpResponse:
    if outcome.redirect_to:
        return HttpResponseRedirect(outcome.redirect_to)
    context = {"status": outcome.status, "words": outcome.words, "reason": outcome.reason}
    return render(request, "tenants/staff_signin_refused.html", context, status=outcome.status)


@public
@never_cache
@require_GET
def staff_signin_start(request: HttpRequest) -> HttpResponse:
    try:
        outcome = staff_signin.staff_signin_begin(request=request, next_url=request.GET.get("next"))
    except PartnerAppNotConfigured:
        outcome = staff_signin.StaffOutcome(503, reason="unavailable")
    return _answer(request, outcome)


@public
@never_cache
@require_GET
def staff_signin_callback(request: HttpRequest) -> HttpResponse:
    query = {key: request.GET.get(key, "") for key in request.GET}
    try:
        outcome = staff_signin.staff_signin_finish(request=request, query=query)
    except PartnerAppNotConfigured:
        outcome = staff_signin.StaffOutcome(503, reason="unavailable")
    return _answer(request, outcome)
