"""Ending a customer: offboarding stops collection and closes its links; deleting removes
it with everything collected for it, once staff type its name to confirm.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from django.db import transaction
from django.utils import timezone

from tenants.audit import audit_record
from tenants.models import (
    ConsentOutcome,
    ConsentRequest,
    Customer,
    CustomerStatus,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


@transaction.atomic
def customer_offboard(*, customer: Customer, actor: User) -> Customer:
    """Stop collecting for the customer. Its data stays until deleted separately."""
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == CustomerStatus.OFFBOARDED:
        return customer
    previous = customer.status
    customer.status = CustomerStatus.OFFBOARDED
    customer.offboarded_at = timezone.now()
    customer.save(update_fields=["status", "offboarded_at", "updated_at"])
    ConsentRequest.objects.filter(
        customer=customer, outcome__in=[ConsentOutcome.PENDING, ConsentOutcome.DENIED]
    ).update(outcome=ConsentOutcome.SUPERSEDED, state_hash="")
    audit_record(
        action="customer.offboarded",
        customer=customer,
        actor=actor,
        summary="Offboarded: collection stopped",
        details={"previous": previous},
    )
    return customer


class ConfirmationMismatch(ValueError):
    """The typed confirmation does not match the customer's name."""


@transaction.atomic
def customer_delete(*, customer: Customer, actor: User, confirmation: str) -> str:
    """Delete an offboarded customer and all its collected data; the audit trail stays."""
    if customer.status != CustomerStatus.OFFBOARDED:
        raise ValueError("Offboard the customer before deleting its data.")
    if confirmation.strip() != customer.display_name:
        raise ConfirmationMismatch("Type the customer's name exactly to confirm.")
    name = customer.display_name
    audit_record(
        action="customer.deleted",
        customer=customer,
        actor=actor,
        summary=f"Deleted {name} and its collected data",
        details={"tenant_id": customer.tenant_id},
    )
    customer.delete()
    return name
