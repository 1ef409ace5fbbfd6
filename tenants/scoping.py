"""Analyst scoping: which customers each person may see, decided in this module alone.

The rule. Portal admins see every customer. An analyst sees the customers granted to
them, directly or through one of their groups (an `AnalystScope` row each); a row may
instead grant every customer, which is explicit and never a default. Anybody else (no
analyst role, or not signed in) sees no customer at all.

The read side is one queryset filter, `restrict`: any queryset that carries a customer
is cut down to the customers `user` may see. `visible_customers` is that filter applied
to the customers themselves. Whether a user sees everything is asked several times on
one page, so the answer is kept on the user object, which lives for one request: a
grant or revoke shows on the next request.

The write side is `scope_grant` and `scope_revoke`, which portal admins use from the
Scopes page (`scope_list` is what that page lists). Each runs in one transaction with
its audit event, so a scope changes exactly when the trail says it did.

Apps above tenants build on `restrict` for their own rows (the alerts app's
`visibility` module) rather than repeating the rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib.auth.models import AnonymousUser, Group
from django.db import transaction
from django.db.models import Model, Q, QuerySet

from partner_portal.core.access import Role, user_roles
from tenants.audit import audit_record
from tenants.models import AnalystScope, Customer

if TYPE_CHECKING:
    from django.contrib.auth.models import User

M = TypeVar("M", bound=Model)

# The per-request answer to "sees every customer?", kept on the user object.
_SEES_ALL = "_portal_sees_all"


# --- who sees what ---------------------------------------------------------------------------
def _grants_of(user: User) -> QuerySet[AnalystScope]:
    """The grants that reach `user`: their own and their groups'."""
    return AnalystScope.objects.filter(Q(user=user) | Q(group__in=user.groups.all()))


def sees_all_customers(user: User | AnonymousUser) -> bool:
    """Portal admins, and analysts with an explicit "all customers" grant."""
    roles = user_roles(user)
    if Role.ADMIN in roles:
        return True
    if Role.ANALYST not in roles or isinstance(user, AnonymousUser):
        return False
    cached: bool | None = getattr(user, _SEES_ALL, None)
    if cached is None:
        cached = _grants_of(user).filter(all_customers=True).exists()
        setattr(user, _SEES_ALL, cached)
    return cached


def _visible_customer_ids(user: User | AnonymousUser) -> QuerySet[Any] | None:
    """IDs of the customers `user` may see, as a subquery; None means every customer."""
    if sees_all_customers(user):
        return None
    if Role.ANALYST not in user_roles(user) or isinstance(user, AnonymousUser):
        return Customer.objects.none().values("pk")
    return _grants_of(user).exclude(customer=None).values("customer_id")


def restrict(
    queryset: QuerySet[M], user: User | AnonymousUser, *, customer_field: str = "customer"
) -> QuerySet[M]:
    """`queryset` cut down to the rows whose `customer_field` is a customer `user` may see."""
    ids = _visible_customer_ids(user)
    if ids is None:
        return queryset
    return queryset.filter(**{f"{customer_field}__in": ids})


def visible_customers(*, user: User | AnonymousUser) -> QuerySet[Customer]:
    """The customers `user` may see, by name (what customer filters offer)."""
    return restrict(Customer.objects.all(), user, customer_field="pk").order_by(
        "display_name", "pk"
    )


# --- the Scopes page -------------------------------------------------------------------------
class ScopeExists(ValueError):
    """The same grant is already in place."""


def scope_list() -> QuerySet[AnalystScope]:
    """Every grant, for the portal admins' Scopes page."""
    return AnalystScope.objects.select_related("user", "group", "customer", "granted_by").order_by(
        "user__username", "group__name", "-all_customers", "customer__display_name"
    )


def _audit_change(
    scope: AnalystScope, *, action: str, summary: str, actor: User, ip_address: str | None
) -> None:
    """The audit event of a grant or revoke; `summary` says it with `{who}` and `{what}`."""
    who = f"user {scope.user.get_username()}" if scope.user else f"group {scope.group}"
    what = "all customers" if scope.all_customers else str(scope.customer)
    audit_record(
        action=action,
        customer=scope.customer,
        actor=actor,
        ip_address=ip_address,
        summary=summary.format(who=who, what=what),
        details={"scope_id": scope.pk, "who": who, "what": what},
    )


@transaction.atomic
def scope_grant(
    *,
    user: User | None = None,
    group: Group | None = None,
    customer: Customer | None = None,
    all_customers: bool = False,
    granted_by: User,
    ip_address: str | None = None,
) -> AnalystScope:
    """Let one user or group see one customer, or (explicitly) every customer.

    Raises `ScopeExists` for a grant already in place, and `ValidationError` for one
    that does not name exactly one who and one what.
    """
    existing = AnalystScope.objects.filter(user=user, group=group)
    existing = (
        existing.filter(all_customers=True) if all_customers else existing.filter(customer=customer)
    )
    if existing.exists():
        raise ScopeExists("That grant is already in place.")
    scope = AnalystScope(
        user=user,
        group=group,
        customer=None if all_customers else customer,
        all_customers=all_customers,
        granted_by=granted_by,
    )
    scope.full_clean()
    scope.save()
    _audit_change(
        scope,
        action="scope.granted",
        summary="Granted {who} access to {what}",
        actor=granted_by,
        ip_address=ip_address,
    )
    return scope


@transaction.atomic
def scope_revoke(*, scope: AnalystScope, revoked_by: User, ip_address: str | None = None) -> None:
    """Take a grant away; its analysts stop seeing that customer on their next request."""
    _audit_change(
        scope,
        action="scope.revoked",
        summary="Revoked {who}'s access to {what}",
        actor=revoked_by,
        ip_address=ip_address,
    )
    scope.delete()
