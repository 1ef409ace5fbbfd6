"""Onboarding pages for staff, and the public pages a customer's admin sees."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from partner_portal.core.access import AuthenticatedHttpRequest, Role, public, require_roles
from partner_portal.core.csp import csp_allow
from partner_portal.core.http import client_ip
from partner_portal.core.lists import list_page
from tenants import consent as consent_flow
from tenants import (
    consent_links,
    microsoft,
    offboarding,
    panels,
    reconsent,
    registration,
    roles,
    selectors,
    verification,
)
from tenants.consent_answers import SIGN_IN_SECONDS
from tenants.forms import (
    AuditFilterForm,
    CustomerFilterForm,
    CustomerForm,
    DeleteForm,
    EmailLinkForm,
    NewLinkForm,
    RegisterForm,
)
from tenants.models import Customer, CustomerStatus

staff_only = require_roles(Role.ONBOARDING)


# --- staff -----------------------------------------------------------------------------------
@staff_only
@require_GET
def customer_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return list_page(
        request,
        "tenants/customer_list.html",
        CustomerFilterForm(request.GET or None),
        lambda filters: selectors.customer_list(
            search=filters.get("q", ""),
            status=filters.get("status", ""),
            cloud=filters.get("cloud", ""),
        ),
        per_page=50,
    )


@staff_only
@require_http_methods(["GET", "POST"])
def customer_register(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = dict(form.cleaned_data)
        try:
            customer, _ = registration.customer_register(created_by=request.user, **data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(
                request, f"{customer.display_name} is registered. Send its admin the link below."
            )
            return redirect("tenants:customer_detail", pk=customer.pk)
    return render(request, "tenants/customer_form.html", {"form": form, "registering": True})


@staff_only
@require_http_methods(["GET", "POST"])
def customer_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    initial = {name: getattr(customer, name) for name in registration.EDITABLE_FIELDS}
    form = CustomerForm(request.POST or None, initial=initial, instance=customer)
    if request.method == "POST" and form.is_valid():
        try:
            registration.customer_update(customer=customer, actor=request.user, **form.cleaned_data)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("tenants:customer_detail", pk=customer.pk)
    return render(request, "tenants/customer_form.html", {"form": form, "customer": customer})


@staff_only
@require_GET
def customer_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    consent = selectors.current_consent(customer=customer)
    context = {
        "customer": customer,
        "consent": consent,
        "consent_url": consent_links.consent_landing_url(consent) if consent else "",
        "timeline": selectors.customer_timeline(customer=customer),
        "email_form": EmailLinkForm(initial={"to": customer.contact_email}),
        "link_form": NewLinkForm(initial={"flow": consent.flow if consent else "v2"}),
        "delete_form": DeleteForm(),
        "required_roles": list(roles.required_roles(customer)),
        "statuses": CustomerStatus,
        # Cards other apps add (the alerts app's sync card), in their order.
        "panels": panels.render_customer_panels(customer=customer, request=request),
    }
    return render(request, "tenants/customer_detail.html", context)


@staff_only
@require_POST
def customer_new_link(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    form = NewLinkForm(request.POST)
    if customer.status == CustomerStatus.OFFBOARDED:
        messages.error(request, "This customer is offboarded; no consent link can be made.")
    elif form.is_valid():
        consent_links.consent_link_create(
            customer=customer, flow=form.cleaned_data["flow"], created_by=request.user
        )
        messages.success(request, "New consent link created; earlier links no longer work.")
    return redirect("tenants:customer_detail", pk=pk)


@staff_only
@require_POST
def customer_email_link(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    consent = selectors.current_consent(customer=customer)
    form = EmailLinkForm(request.POST)
    if consent is None:
        messages.error(request, "There is no open consent link. Create a new link first.")
    elif not form.is_valid():
        messages.error(request, "Enter a valid e-mail address to send the link to.")
    else:
        consent_links.consent_link_email(
            consent=consent, to=form.cleaned_data["to"], actor=request.user
        )
        messages.success(request, f"Consent link sent to {form.cleaned_data['to']}.")
    return redirect("tenants:customer_detail", pk=pk)


@staff_only
@require_POST
def customers_reconsent_email(request: AuthenticatedHttpRequest) -> HttpResponse:
    """E-mail a new consent link to every customer still on the legacy API."""
    report = reconsent.reconsent_links_email(actor=request.user)
    if report.sent:
        messages.success(
            request, f"New consent link e-mailed to {len(report.sent)} customer(s): "
            + ", ".join(report.sent) + "."
        )  # fmt: skip
    if report.without_contact:
        messages.warning(
            request, "No contact e-mail address, so no mail (open the customer and copy its "
            "new link): " + ", ".join(report.without_contact) + "."
        )  # fmt: skip
    for name, reason in report.not_sent:
        messages.error(
            request, f"{name}: the link was made but not sent ({reason}); open the customer "
            "to copy it or send it again."
        )  # fmt: skip
    if not (report.sent or report.without_contact or report.not_sent):
        messages.info(request, "Every connected customer is on Microsoft Graph already.")
    return redirect("tenants:customer_list")


@staff_only
@require_POST
def customer_verify(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    try:
        verification.customer_request_verification(customer=customer, actor=request.user)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, "Verification started; the status updates in a few seconds.")
    return redirect("tenants:customer_detail", pk=pk)


@staff_only
@require_POST
def customer_offboard(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    offboarding.customer_offboard(customer=customer, actor=request.user)
    messages.success(
        request,
        f"{customer.display_name} is offboarded: collection stopped. Its data is kept until "
        "you delete it.",
    )
    return redirect("tenants:customer_detail", pk=pk)


@staff_only
@require_POST
def customer_delete(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    customer = get_object_or_404(Customer, pk=pk)
    form = DeleteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Type the customer's name to confirm.")
        return redirect("tenants:customer_detail", pk=pk)
    try:
        name = offboarding.customer_delete(
            customer=customer, actor=request.user, confirmation=form.cleaned_data["confirmation"]
        )
    except ValueError as exc:
        messages.error(request, str(exc))
        return redirect("tenants:customer_detail", pk=pk)
    messages.success(request, f"{name} and its collected data were deleted.")
    return redirect("tenants:customer_list")


@require_roles(Role.ADMIN)
@require_GET
def audit_log(request: AuthenticatedHttpRequest) -> HttpResponse:
    return list_page(
        request,
        "tenants/audit_log.html",
        AuditFilterForm(request.GET or None),
        lambda filters: selectors.audit_events(
            customer_id=filters.get("customer"),
            action=filters.get("action", ""),
            actor=filters.get("actor", ""),
            search=filters.get("q", ""),
        ),
        per_page=100,
    )


# --- the customer's admin ----------------------------------------------------------------
@public
@never_cache
@require_GET
def consent_landing(request: HttpRequest, public_id: str) -> HttpResponse:
    consent = selectors.consent_for_landing(public_id=public_id)
    if consent is None:
        return render(request, "tenants/consent/link_closed.html", status=404)
    context = {
        "consent": consent,
        "customer_name": consent.customer.display_name,
        "permissions": roles.GRAPH_PERMISSIONS_EXPLAINED,
    }
    response = render(request, "tenants/consent/landing.html", context)
    # Continue posts here and is redirected to the sign-in page: browsers hold that
    # redirect to the form policy too.
    origin = consent_links.sign_in_origin(consent) if consent.is_open else None
    if origin:
        csp_allow(response, "form-action", origin)
    return response


@public
@never_cache
@require_POST
def consent_start(request: HttpRequest, public_id: str) -> HttpResponse:
    try:
        started = consent_links.consent_start(public_id=public_id, ip_address=client_ip(request))
    except consent_links.ConsentLinkClosed:
        return render(request, "tenants/consent/link_closed.html", status=404)
    except microsoft.PartnerAppNotConfigured:
        return render(request, "tenants/consent/unavailable.html", status=503)
    # The target is built by the portal from its own configuration, never from the request.
    response = HttpResponseRedirect(started.url)
    _keep_in_browser(request, response, started.cookie, settings.CONSENT_STATE_MAX_AGE)
    return response


def _keep_in_browser(
    request: HttpRequest, response: HttpResponse, value: str, max_age: int
) -> None:
    """The consent's browser cookie: sent back to the callback only, never to scripts."""
    response.set_cookie(
        consent_links.BROWSER_COOKIE,
        value,
        max_age=max_age,
        path=reverse("tenants:consent_callback"),
        secure=settings.SESSION_COOKIE_SECURE or request.is_secure(),
        httponly=True,
        samesite="Lax",  # sent with the top-level redirect back from Microsoft
    )


@public
@never_cache
@require_GET
def consent_callback(request: HttpRequest) -> HttpResponse:
    query = {key: request.GET.get(key, "") for key in request.GET}
    try:
        outcome = consent_flow.consent_callback_handle(
            query=query,
            ip_address=client_ip(request),
            browser_cookie=request.COOKIES.get(consent_links.BROWSER_COOKIE),
        )
    except microsoft.PartnerAppNotConfigured:
        return render(request, "tenants/consent/unavailable.html", status=503)
    if outcome.redirect_to:
        # On to the sign-in at Microsoft: built by the portal from its configuration and
        # a tenant ID it checked, never taken from the request.
        response: HttpResponse = HttpResponseRedirect(outcome.redirect_to)
        _keep_in_browser(request, response, outcome.cookie, SIGN_IN_SECONDS)
        return response
    response = render(
        request,
        f"tenants/consent/result_{outcome.kind}.html",
        {"outcome": outcome, "refusal": outcome.refusal},
        status=outcome.status_code,
    )
    if consent_links.BROWSER_COOKIE in request.COOKIES and outcome.kind in ("granted", "denied"):
        # This click's state is used up: its secrets go. (After a refusal the same click
        # may still be answered correctly, e.g. signing in with the right account.)
        response.delete_cookie(
            consent_links.BROWSER_COOKIE,
            path=reverse("tenants:consent_callback"),
            samesite="Lax",
        )
    return response
