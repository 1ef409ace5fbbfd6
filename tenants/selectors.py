"""Reads for the onboarding pages."""

from __future__ import annotations

from django.db.models import QuerySet

from partner_portal.core.lists import contains_any, filtered
from tenants.models import AuditEvent, ConsentOutcome, ConsentRequest, Customer, CustomerStatus


def customer_list(*, search: str = "", status: str = "", cloud: str = "") -> QuerySet[Customer]:
    """Customers for the staff list, filtered by free text, status and cloud."""
    customers = Customer.objects.all().order_by("display_name")
    if search:
        customers = customers.filter(
            contains_any(
                search,
                "display_name",
                "contact_name",
                "contact_email",
                "tenant_id",
                "expected_tenant",
                "expected_tenant_id",
            )
        )
    return filtered(customers, status=status, cloud=cloud)


def tenant_holder(*, tenant_id: str, excluding: Customer | None = None) -> Customer | None:
    """The customer bound to `tenant_id`, other than `excluding` (one tenant, one customer)."""
    holders = Customer.objects.filter(tenant_id=tenant_id)
    if excluding is not None and excluding.pk is not None:
        holders = holders.exclude(pk=excluding.pk)
    return holders.first()


def tenant_expected_by(*, tenant_id: str, excluding: Customer | None = None) -> Customer | None:
    """A customer (other than `excluding`, not offboarded) registered to expect `tenant_id`.

    Staff registered that customer for the tenant, so no other customer's link may bind it.
    """
    expecting = Customer.objects.filter(expected_tenant_id=tenant_id).exclude(
        status=CustomerStatus.OFFBOARDED
    )
    if excluding is not None and excluding.pk is not None:
        expecting = expecting.exclude(pk=excluding.pk)
    return expecting.first()


def customer_timeline(*, customer: Customer, limit: int = 100) -> QuerySet[AuditEvent]:
    """The customer's onboarding history for staff. Analysts' actions on alerts and
    incidents are left out: they name their content, which only analysts in scope may
    read (audit log)."""
    return (
        AuditEvent.objects.filter(customer=customer)
        .exclude(action__startswith="alert.")
        .exclude(action__startswith="incident.")
        .select_related("actor")[:limit]
    )


def current_consent(*, customer: Customer) -> ConsentRequest | None:
    """The newest link that still works, if any."""
    for consent in ConsentRequest.objects.filter(customer=customer).order_by("-created_at")[:5]:
        if consent.is_open:
            return consent
    return None


def consent_for_landing(*, public_id: str) -> ConsentRequest | None:
    return (
        ConsentRequest.objects.select_related("customer")
        .filter(public_id=public_id)
        .exclude(outcome=ConsentOutcome.SUPERSEDED)
        .first()
    )


def audit_events(
    *, customer_id: int | None = None, action: str = "", actor: str = "", search: str = ""
) -> QuerySet[AuditEvent]:
    events = filtered(
        AuditEvent.objects.select_related("customer", "actor"),
        customer_id=customer_id,
        action__startswith=action,
        actor_label__icontains=actor,
    )
    if search:
        events = events.filter(contains_any(search, "summary", "customer_name"))
    return events
