"""What the notification pages read, cut to the reader's customers.

Channels and policies belong to the partner, not to a customer, but what they say about
customers does: an analyst sees only the deliveries of customers in their scope (and
channel tests, which name none), only policies that could reach one of their customers,
and only their customers' names on them (tenants' `scoping` decides who sees what).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import Q, QuerySet

from partner_portal.notifications.models import Channel, CustomerTag, Notification, Policy
from tenants import scoping
from tenants.models import Customer

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

RECENT_DELIVERIES = 50


def channel_list() -> QuerySet[Channel]:
    return Channel.objects.prefetch_related("policies").order_by("name")


def channel_deliveries(*, channel: Channel, user: User | AnonymousUser) -> list[Notification]:
    """The channel's latest notifications the user may see, with their attempts."""
    visible = scoping.visible_customers(user=user).values("pk")
    rows = (
        Notification.objects.filter(channel=channel)
        .filter(Q(customer__isnull=True) | Q(customer__in=visible))
        .select_related("customer", "policy")
        .prefetch_related("attempt_rows")
        .order_by("-created_at", "-pk")
    )
    return list(rows[:RECENT_DELIVERIES])


def policy_list(*, user: User | AnonymousUser) -> list[tuple[Policy, list[Customer]]]:
    """Policies in order, each with the named customers the user may see. A policy that
    names only customers the user cannot see (and no tag) is left out."""
    visible = set(scoping.visible_customers(user=user).values_list("pk", flat=True))
    policies = Policy.objects.prefetch_related("customers", "tags", "channels").order_by(
        "position", "pk"
    )
    shown = []
    for policy in policies:
        named = list(policy.customers.all())
        mine = [customer for customer in named if customer.pk in visible]
        if named and not mine and not policy.tags.all():
            continue
        shown.append((policy, mine))
    return shown


def visible_policy(*, pk: int, user: User | AnonymousUser) -> Policy | None:
    return next((policy for policy, _ in policy_list(user=user) if policy.pk == pk), None)


def tag_list() -> QuerySet[CustomerTag]:
    return CustomerTag.objects.order_by("name")


def tagged_customers(*, user: User | AnonymousUser) -> QuerySet[Customer]:
    """The customers the user may see, with their tags."""
    return scoping.visible_customers(user=user).prefetch_related("notification_tags")
