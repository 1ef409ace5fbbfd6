"""The People pages: portal admins add staff, set their roles, teams and customer scopes,
and deactivate or reactivate them (the changes themselves are `tenants.people`'s and
`tenants.scoping`'s, each audited)."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from partner_portal.core import second_factor
from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles
from partner_portal.core.http import client_ip
from partner_portal.core.lists import list_page
from tenants import people, scoping
from tenants.models import AnalystScope, AuditEvent
from tenants.people_forms import PersonFilterForm, PersonForm, PersonScopeForm

admins_only = require_roles(Role.ADMIN)


def _person(pk: int) -> User:
    return get_object_or_404(get_user_model().objects.prefetch_related("groups"), pk=pk)


@admins_only
@require_GET
def people_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return list_page(
        request,
        "tenants/people/list.html",
        PersonFilterForm(request.GET or None),
        lambda filters: people.people_list(
            search=filters.get("q", ""),
            status=filters.get("status", ""),
            role=filters.get("role", ""),
        ),
        per_page=50,
        context={"role_names": people.ROLE_NAMES},
    )


def _invited(request: AuthenticatedHttpRequest, invitation: people.Invitation) -> HttpResponse:
    """The link is shown on this answer only (never kept in messages or the session)."""
    context = {
        "person": invitation.user,
        "invitation": invitation,
        "link_hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
    }
    return render(request, "tenants/people/link.html", context)


@admins_only
@never_cache
@require_http_methods(["GET", "POST"])
def person_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = PersonForm(request.POST or None, creating=True)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            invitation = people.person_create(
                username=data["username"],
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                roles=form.chosen_roles(),
                groups=data["teams"],
                password=data["password1"] if data["password_by"] == "set" else None,  # noqa: S105
                created_by=request.user,
                ip_address=client_ip(request),
            )
        except ValidationError as exc:
            # Django's password rules answer with a list, the model's checks by field.
            form.add_error(None if hasattr(exc, "error_dict") else "password1", exc)
        else:
            if invitation.set_password_url:
                return _invited(request, invitation)
            messages.success(request, f"Added {invitation.user.get_username()}.")
            return redirect("tenants:person_detail", invitation.user.pk)
    status = 400 if form.errors else 200
    return render(request, "tenants/people/form.html", {"form": form}, status=status)


@admins_only
@require_http_methods(["GET", "POST"])
def person_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = _person(pk)
    initial = {
        "first_name": person.first_name,
        "last_name": person.last_name,
        "email": person.email,
        "roles": people.roles_of(person),
        "teams": [g.pk for g in person.groups.all() if g.name not in people.ROLE_NAMES],
    }
    form = PersonForm(request.POST or None, initial=initial, creating=False)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            changed = people.person_update(
                person=person,
                first_name=data["first_name"],
                last_name=data["last_name"],
                email=data["email"],
                roles=form.chosen_roles(),
                groups=data["teams"],
                changed_by=request.user,
                ip_address=client_ip(request),
            )
        except (people.PersonRefused, ValidationError) as exc:
            form.add_error(None, exc if isinstance(exc, ValidationError) else str(exc))
        else:
            what = ", ".join(changed) or "nothing (no change)"
            messages.success(request, f"Saved {person.get_username()}: {what}.")
            return redirect("tenants:person_detail", person.pk)
    context = {
        "person": person,
        "form": form,
        "scope_form": PersonScopeForm(),
        "second_factor": second_factor.has_second_factor(person),
        "microsoft": people.microsoft_account(person),
        "scopes": scoping.scope_list().filter(user=person),
        "team_scopes": scoping.scope_list().filter(group__in=person.groups.all()),
        "events": AuditEvent.objects.filter(details__user_id=person.pk).order_by("-created_at")[
            :20
        ],
    }
    status = 400 if form.errors else 200
    return render(request, "tenants/people/detail.html", context, status=status)


def _act(request: AuthenticatedHttpRequest, pk: int, action: str) -> HttpResponse:
    person = _person(pk)
    try:
        if action == "deactivate":
            people.person_deactivate(person=person, by=request.user, ip_address=client_ip(request))
            messages.success(request, f"Deactivated {person.get_username()}.")
        else:
            people.person_reactivate(person=person, by=request.user, ip_address=client_ip(request))
            messages.success(request, f"Reactivated {person.get_username()}.")
    except people.PersonRefused as exc:
        messages.error(request, str(exc))
    return redirect("tenants:person_detail", person.pk)


@admins_only
@require_POST
def person_deactivate(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "deactivate")


@admins_only
@require_POST
def person_reactivate(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, "reactivate")


@admins_only
@never_cache
@require_POST
def person_password_link(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = _person(pk)
    try:
        invitation = people.person_password_link(
            person=person, by=request.user, ip_address=client_ip(request)
        )
    except people.PersonRefused as exc:
        messages.error(request, str(exc))
        return redirect("tenants:person_detail", person.pk)
    return _invited(request, invitation)


@admins_only
@require_POST
def person_second_factor_reset(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = _person(pk)
    try:
        done = people.person_second_factor_reset(
            person=person, by=request.user, ip_address=client_ip(request)
        )
    except people.PersonRefused as exc:
        messages.error(request, str(exc))
    else:
        name = person.get_username()
        messages.success(
            request,
            f"Reset {name}'s two-step sign-in." if done else f"{name} had no authenticator app.",
        )
    return redirect("tenants:person_detail", person.pk)


@admins_only
@require_POST
def person_scope_grant(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    person = _person(pk)
    form = PersonScopeForm(request.POST)
    if form.is_valid():
        try:
            scope = scoping.scope_grant(
                user=person,
                customer=form.cleaned_data["customer"],
                all_customers=form.cleaned_data["all_customers"],
                granted_by=request.user,
                ip_address=client_ip(request),
            )
        except (scoping.ScopeExists, ValidationError) as exc:
            messages.error(request, "; ".join(getattr(exc, "messages", [str(exc)])))
        else:
            messages.success(request, f"Granted: {scope}.")
    else:
        messages.error(request, " ".join(map(str, form.non_field_errors())) or "Choose a customer.")
    return redirect("tenants:person_detail", person.pk)


@admins_only
@require_POST
def person_scope_revoke(request: AuthenticatedHttpRequest, pk: int, scope_pk: int) -> HttpResponse:
    person = _person(pk)
    scope = get_object_or_404(AnalystScope, pk=scope_pk, user=person)
    label = str(scope)
    scoping.scope_revoke(scope=scope, revoked_by=request.user, ip_address=client_ip(request))
    messages.success(request, f"Revoked: {label}.")
    return redirect("tenants:person_detail", person.pk)
