"""Notification pages: channels, policies and customer tags. Thin: a form, one service
or selector, a template. Analysts read (cut to their customers); portal admins change,
and SOC leads change policies within their scope (`leads`)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from partner_portal.core.access import AuthenticatedHttpRequest, Role, require_roles
from partner_portal.notifications import leads, selectors, services
from partner_portal.notifications.forms import ChannelForm, CustomerTagsForm, PolicyForm, TagForm
from partner_portal.notifications.models import Channel, NotificationStatus, Policy
from partner_portal.notifications.preview import policy_preview
from partner_portal.notifications.senders import host_of
from tenants import scoping

READERS = (Role.ANALYST, Role.ADMIN)


# --- channels ---------------------------------------------------------------------------------
@require_roles(*READERS)
@require_GET
def channel_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    channels = [(channel, host_of(channel.url)) for channel in selectors.channel_list()]
    return render(request, "notifications/channels.html", {"channels": channels})


@require_roles(Role.ADMIN)
@sensitive_post_parameters(*services.SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
def channel_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _channel_form(request, Channel())


@require_roles(Role.ADMIN)
@sensitive_post_parameters(*services.SECRET_FIELDS)
@require_http_methods(["GET", "POST"])
def channel_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    return _channel_form(request, get_object_or_404(Channel, pk=pk))


def _channel_form(request: AuthenticatedHttpRequest, channel: Channel) -> HttpResponse:
    form = ChannelForm(request.POST or None, instance=channel)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.channel_save(
                channel=form.save(commit=False), secrets=form.secrets(), actor=request.user
            )
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved channel {saved.name}.")
            return redirect("notifications:channel_detail", pk=saved.pk)
    edited = channel if channel.pk else None
    context = {
        "form": form,
        "kind": "channel",
        "edited": edited,
        "channel": edited,
        "url_saved": bool(channel.url),
        "secret_saved": bool(channel.signing_secret),
        "unopened": channel.unopened_secrets() if channel.pk else "",
    }
    return render(
        request, "notifications/channel_form.html", context, status=400 if form.errors else 200
    )


@require_roles(*READERS)
@require_GET
def channel_detail(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    context = {
        "channel": channel,
        "host": host_of(channel.url),
        "unopened": channel.unopened_secrets(),
        "deliveries": selectors.channel_deliveries(channel=channel, user=request.user),
    }
    return render(request, "notifications/channel_detail.html", context)


@require_roles(Role.ADMIN)
@require_POST
def channel_test(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    channel = get_object_or_404(Channel, pk=pk)
    notification = services.channel_send_test(channel=channel, actor=request.user)
    if notification.status == NotificationStatus.DELIVERED:
        messages.success(request, "The test message was delivered.")
    else:
        messages.error(request, f"The test message was not delivered: {notification.error_message}")
    return redirect("notifications:channel_detail", pk=channel.pk)


# --- policies ---------------------------------------------------------------------------------
@require_roles(*READERS)
@require_GET
def policy_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return render(
        request,
        "notifications/policies.html",
        {"policies": selectors.policy_list(user=request.user)},
    )


@require_roles(*leads.CHANGERS)
@require_http_methods(["GET", "POST"])
def policy_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _policy_form(request, Policy())


@require_roles(*leads.CHANGERS)
@require_http_methods(["GET", "POST"])
def policy_edit(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    policy = selectors.visible_policy(pk=pk, user=request.user)
    if policy is None:
        raise Http404("No such policy.")
    return _policy_form(request, policy)


def _policy_form(request: AuthenticatedHttpRequest, policy: Policy) -> HttpResponse:
    refused = leads.refusal_of(user=request.user, item=policy)
    if refused:
        raise PermissionDenied(refused)
    form = PolicyForm(request.POST or None, instance=policy)
    leads.limit_choices(form, user=request.user)
    if request.method == "POST" and form.is_valid():
        plain, relations = form.apply()
        try:
            refused = leads.refusal_of_relations(user=request.user, relations=relations)
            if refused:
                raise ValidationError(refused)
            saved = services.policy_save(policy=plain, relations=relations, actor=request.user)
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, f"Saved policy {saved.name}.")
            return redirect("notifications:policies")
    edited = policy if policy.pk else None
    context = {"form": form, "kind": "policy", "edited": edited, "policy": edited}
    return render(
        request, "notifications/policy_form.html", context, status=400 if form.errors else 200
    )


@require_roles(*READERS)
@require_GET
def policy_preview_page(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    policy = selectors.visible_policy(pk=pk, user=request.user)
    if policy is None:
        raise Http404("No such policy.")
    preview = policy_preview(policy=policy, user=request.user)
    return render(
        request, "notifications/policy_preview.html", {"policy": policy, "preview": preview}
    )


@require_roles(*leads.CHANGERS)
@require_POST
def policy_move(request: AuthenticatedHttpRequest, pk: int) -> HttpResponse:
    policy = get_object_or_404(Policy, pk=pk)
    refused = leads.refusal_of(user=request.user, item=policy)
    if refused:
        raise PermissionDenied(refused)
    services.policy_move(
        policy=policy, up=request.POST.get("direction") != "down", actor=request.user
    )
    return redirect("notifications:policies")


# --- customer tags ----------------------------------------------------------------------------
@require_roles(*READERS)
@require_GET
def tag_list(request: AuthenticatedHttpRequest) -> HttpResponse:
    return _tag_page(request, TagForm(), status=200)


@require_roles(Role.ADMIN)
@require_POST
def tag_create(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = TagForm(request.POST)
    if not form.is_valid():
        return _tag_page(request, form, status=400)
    try:
        tag = services.tag_create(name=form.cleaned_data["name"], actor=request.user)
    except ValidationError as exc:
        form.add_error("name", exc)
        return _tag_page(request, form, status=400)
    messages.success(request, f"Created tag {tag.name}.")
    return redirect("notifications:tags")


@require_roles(Role.ADMIN)
@require_POST
def customer_tags_set(request: AuthenticatedHttpRequest) -> HttpResponse:
    form = CustomerTagsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose a customer and its tags.")
        return redirect("notifications:tags")
    customer = form.cleaned_data["customer"]
    services.customer_tags_set(
        customer=customer, tags=list(form.cleaned_data["tags"]), actor=request.user
    )
    messages.success(request, f"Saved the tags of {customer.display_name}.")
    return redirect("notifications:tags")


def _tag_page(request: AuthenticatedHttpRequest, form: TagForm, *, status: int) -> HttpResponse:
    context = {
        "form": form,
        "tags": selectors.tag_list(),
        "customers": selectors.tagged_customers(user=request.user),
        "sees_all": scoping.sees_all_customers(request.user),
    }
    return render(request, "notifications/tags.html", context, status=status)
