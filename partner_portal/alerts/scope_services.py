"""Writes for analyst scopes: portal admins grant and revoke which customers an analyst
(or a group of analysts) may see. Each change is audited."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import transaction

from tenants.audit import audit_record
from tenants.models import AnalystScope, Customer


class ScopeExists(ValueError):
    """The same grant is already in place."""


def _describe(scope: AnalystScope) -> tuple[str, str]:
    who = f"user {scope.user.get_username()}" if scope.user else f"group {scope.group}"
    what = "all customers" if scope.all_customers else str(scope.customer)
    return who, what


@transaction.atomic
def scope_grant(
    *,
    user: Any = None,
    group: Group | None = None,
    customer: Customer | None = None,
    all_customers: bool = False,
    granted_by: Any,
    ip_address: str | None = None,
) -> AnalystScope:
    """Let one user or group see one customer, or (explicitly) every customer."""
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
    who, what = _describe(scope)
    audit_record(
        action="scope.granted",
        customer=scope.customer,
        actor=granted_by,
        ip_address=ip_address,
        summary=f"Granted {who} access to {what}",
        details={"scope_id": scope.pk, "who": who, "what": what},
    )
    return scope


@transaction.atomic
def scope_revoke(*, scope: AnalystScope, revoked_by: Any, ip_address: str | None = None) -> None:
    """Take a grant away; the analyst stops seeing that customer on their next request."""
    who, what = _describe(scope)
    audit_record(
        action="scope.revoked",
        customer=scope.customer,
        actor=revoked_by,
        ip_address=ip_address,
        summary=f"Revoked {who}'s access to {what}",
        details={"scope_id": scope.pk, "who": who, "what": what},
    )
    scope.delete()
