"""The one door for "which customers may this user see?" (alerts, incidents, health).

Every read of customer data for analysts goes through `visible_customers` or
`restrict`, so a scope is applied in exactly one place.
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, Q, QuerySet

from partner_portal.core.access import Role, user_roles

M = TypeVar("M", bound=Model)


def sees_all_customers(user: Any) -> bool:
    """Portal admins, and analysts with an explicit "all customers" grant."""
    from tenants.models import AnalystScope

    roles = user_roles(user)
    if Role.ADMIN in roles:
        return True
    if Role.ANALYST not in roles:
        return False
    # Asked several times per page; the user object lives for one request.
    cached: bool | None = getattr(user, "_portal_sees_all", None)
    if cached is None:
        cached = AnalystScope.objects.filter(
            Q(user=user) | Q(group__in=user.groups.all()), all_customers=True
        ).exists()
        user._portal_sees_all = cached
    return cached


def visible_customer_ids(user: Any) -> QuerySet[Any] | None:
    """IDs of the customers `user` may see, as a subquery; None means every customer."""
    from tenants.models import AnalystScope, Customer

    if sees_all_customers(user):
        return None
    if Role.ANALYST not in user_roles(user):
        return Customer.objects.none().values("pk")
    return (
        AnalystScope.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))
        .exclude(customer=None)
        .values("customer_id")
    )


def restrict(queryset: QuerySet[M], user: Any, *, customer_field: str = "customer") -> QuerySet[M]:
    """`queryset` cut down to the rows of customers `user` may see."""
    ids = visible_customer_ids(user)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{customer_field}__in": ids})
