"""Sign-in, password change, one's own settings, the home page, health and error pages."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse_lazy
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from partner_portal.core.access import AuthenticatedHttpRequest, public, signed_in, user_roles
from partner_portal.core.account_events import password_changed
from partner_portal.core.forms import PAUSED, PreferenceForm, SignInForm
from partner_portal.core.health import run_checks
from partner_portal.core.home_panels import render_home_panels
from partner_portal.core.http import client_ip
from partner_portal.core.preferences import set_time_zone, zone_of


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "core/home.html",
        {"roles": user_roles(request.user), "panels": render_home_panels(request=request)},
    )


@signed_in
def preferences(request: AuthenticatedHttpRequest) -> HttpResponse:
    """The signed-in person's own settings: their time zone."""
    if request.method == "POST":
        form = PreferenceForm(request.POST)
        if form.is_valid():
            set_time_zone(
                user=request.user, time_zone=form.cleaned_data["time_zone"], request=request
            )
            messages.success(request, "Your settings are saved: times now show in your zone.")
            return redirect("preferences")
    else:
        form = PreferenceForm(initial={"time_zone": zone_of(request.user)})
    return render(request, "registration/preferences.html", {"form": form})


@public
@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    report = run_checks()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503)


@method_decorator(public, name="dispatch")
class PortalLoginView(auth_views.LoginView):
    """Sign-in; after too many failures it answers 429 and says until when it is paused."""

    template_name = "registration/login.html"
    redirect_authenticated_user = True
    authentication_form = SignInForm

    def form_invalid(self, form: Any) -> HttpResponse:
        response = super().form_invalid(form)
        if form.has_error(NON_FIELD_ERRORS, PAUSED):
            response.status_code = 429
        return response


PortalLoginView.access_policy = "public"  # type: ignore[attr-defined]


@method_decorator(public, name="dispatch")
class PortalLogoutView(auth_views.LogoutView):
    """Signs out on POST only (a link cannot sign someone out behind their back)."""


PortalLogoutView.access_policy = "public"  # type: ignore[attr-defined]


@method_decorator(signed_in, name="dispatch")
class PortalPasswordChangeView(auth_views.PasswordChangeView):
    """A signed-in user changes their own password (the current one is asked first).

    The session stays signed in; other sessions of the account end (Django rotates the
    session hash). Accounts without a local password are told so instead of a form.
    """

    template_name = "registration/password_change.html"
    success_url = reverse_lazy("home")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        password_changed.send(
            sender=type(self), user=self.request.user, address=client_ip(self.request)
        )
        messages.success(self.request, "Your password has been changed.")
        return response


PortalPasswordChangeView.access_policy = "signed-in"  # type: ignore[attr-defined]


@method_decorator(public, name="dispatch")
class PortalPasswordSetView(auth_views.PasswordResetConfirmView):
    """A new person (or one given a fresh link by a portal admin) chooses a password.

    The link's token is Django's password-reset token: it works once (it changes with the
    password), expires after PASSWORD_RESET_TIMEOUT and is taken out of the address at the
    first visit. A used or expired link says so in words.
    """

    template_name = "registration/password_set.html"
    success_url = reverse_lazy("login")

    def form_valid(self, form: Any) -> HttpResponse:
        response = super().form_valid(form)
        password_changed.send(sender=type(self), user=form.user, address=client_ip(self.request))
        messages.success(self.request, "Your password is set: sign in with it.")
        return response


PortalPasswordSetView.access_policy = "public"  # type: ignore[attr-defined]


def _error_page(request: HttpRequest, status: int, title: str, text: str) -> HttpResponse:
    context: dict[str, Any] = {"status": status, "title": title, "text": text}
    return render(request, "core/error.html", context, status=status)


def _bare_error_page(status: int, title: str, text: str) -> HttpResponse:
    """The error page without the request: its host may be forged (400) or the database
    gone (500), so nothing is read from the request or the session to draw it."""
    context: dict[str, Any] = {"status": status, "title": title, "text": text}
    return HttpResponse(render_to_string("core/error.html", context), status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _bare_error_page(
        400,
        "Bad request",
        "The portal could not accept this request: the address names a host it does not "
        "serve, or the request was malformed.",
    )


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request,
        403,
        "You don't have access to this page",
        "Your account lacks the role this page needs. A portal admin can grant it.",
    )


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error_page(
        request, 404, "Page not found", "The page does not exist, or you may not see it."
    )


def server_error(request: HttpRequest) -> HttpResponse:
    return _bare_error_page(
        500,
        "Something went wrong",
        "The error has been logged. Try again in a moment; if it persists, tell a portal admin.",
    )
