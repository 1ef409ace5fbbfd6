"""The audit trail: one event per change to a customer or its data, with who did it.

Services write an event inside their own transaction, so an event exists exactly when
its change does. A customer's admin and the portal's own tasks have no account here;
they are named by a label instead.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenants.models import AuditEvent, Customer

if TYPE_CHECKING:
    from django.contrib.auth.models import User

CUSTOMER_ADMIN = "customer admin"
SYSTEM = "system"


def audit_record(
    *,
    action: str,
    customer: Customer | None,
    actor: User | None = None,
    actor_label: str = "",
    ip_address: str | None = None,
    summary: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event (inside the caller's transaction).

    `actor` is the signed-in person who acted; without one, `actor_label` names who did
    (the customer's admin, or the portal itself when empty).
    """
    label = actor.get_username() if actor is not None else actor_label or SYSTEM
    return AuditEvent.objects.create(
        actor=actor,
        actor_label=label,
        ip_address=ip_address,
        action=action,
        customer=customer,
        customer_name=customer.display_name if customer else "",
        summary=summary[:500],
        details=details or {},
    )
