"""Two-step sign-in pages: set up or remove an authenticator app, and type its code after
the password (the rules are in `second_factor`)."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from partner_portal.core import second_factor
from partner_portal.core.access import AuthenticatedHttpRequest, signed_in
from partner_portal.core.http import client_ip


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from the app",
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next(request: AuthenticatedHttpRequest) -> str:
    """Where to go after the code: the page asked for, on this portal only."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    allowed = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if allowed else reverse("home")


@signed_in
@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def second_factor_setup(request: AuthenticatedHttpRequest) -> HttpResponse:
    user = request.user
    form = CodeForm(request.POST or None)
    enrolled = second_factor.has_second_factor(user)
    if request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        try:
            if enrolled:
                second_factor.remove(user=user, code=code, address=client_ip(request))
                second_factor.settle(request)
                messages.success(request, "Two-step sign-in is off.")
            else:
                device = second_factor.enrol_confirm(
                    user=user, code=code, address=client_ip(request)
                )
                second_factor.mark_verified(request, device)
                messages.success(request, "Two-step sign-in is on: the app's code is asked "
                                          "after your password from now on.")  # fmt: skip
        except second_factor.CodeRefused as exc:
            form.add_error("code", str(exc))
        else:
            return redirect("second_factor")
    context: dict[str, object] = {
        "form": form,
        "enrolled": enrolled,
        "required": settings.REQUIRE_SECOND_FACTOR,
    }
    if not enrolled:
        device = second_factor.enrolment_device(user)
        context["secret"] = second_factor.secret_text(device)
        context["otpauth_uri"] = device.config_url
    status = 400 if form.errors else 200
    return render(request, "registration/second_factor.html", context, status=status)


@signed_in
@never_cache
@sensitive_post_parameters("code")
@require_http_methods(["GET", "POST"])
def second_factor_verify(request: AuthenticatedHttpRequest) -> HttpResponse:
    if request.user.is_verified():  # type: ignore[attr-defined]
        return HttpResponseRedirect(_next(request))
    if not second_factor.has_second_factor(request.user):
        second_factor.settle(request)  # reset by an admin, or turned off elsewhere
        return HttpResponseRedirect(_next(request))
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            second_factor.verify(request=request, code=form.cleaned_data["code"])
        except second_factor.CodeRefused as exc:
            form.add_error("code", str(exc))
        else:
            return HttpResponseRedirect(_next(request))
    context = {"form": form, "next": _next(request)}
    status = 400 if form.errors else 200
    return render(request, "registration/second_factor_verify.html", context, status=status)
