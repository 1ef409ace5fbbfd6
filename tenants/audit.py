"""The audit trail: one event per change to a customer or its data, with who did it.

Services write an event inside their own transaction, so an event exists exactly when
its change does. A customer's admin and the portal's own tasks have no account here;
they are named by a label instead.
"""

from __future__ import annotations

from typing import Any

from tenants.models import AuditEvent, Customer

CUSTOMER_ADMIN = "customer admin"
SYSTEM = "system"


def audit_record(
    *,
    action: str,
    customer: Customer | None,
    actor: Any = None,
    actor_label: str = "",
    ip_address: str | None = None,
    summary: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event (inside the caller's transaction)."""
    if actor is not None and getattr(actor, "is_authenticated", False):
        label = actor.get_username()
    else:
        actor, label = None, actor_label or SYSTEM
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
