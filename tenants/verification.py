"""Proving a customer's consent, again and again: a token for its tenant, checked.

``customer_verify`` gets a client-credentials token for each resource the customer needs
and validates it; the customer becomes active, missing permissions (naming them) or in
error (in words). Microsoft Graph is always asked too (`roles.py`): a token whose roles
include a Graph alert role puts the customer on Graph (`Customer.on_graph`), and its
syncs switch from the retiring Defender APIs by themselves. The first verification of a
freshly bound tenant may wait for Microsoft to replicate the consent
(``VerificationRetry``: the service says transient, the task owns retries); if it fails
for good the tenant is released, since it never proved anything. Later failures mean
revoked consent. A sync that meets revoked consent or a missing permission reports it
here too (``customer_record_access_problem``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.utils import timezone

from partner_portal.core.failures import describe_failure
from partner_portal.defender import (
    ConsentMissing,
    IdentityThrottled,
    InvalidToken,
    TenantNotFound,
    TokenError,
    TransientIdentityError,
)
from tenants import microsoft, reconsent
from tenants.audit import audit_record
from tenants.models import Customer, CustomerStatus, roles_are_on_graph
from tenants.roles import graph_roles, legacy_roles, required_roles

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


def enqueue_verification(customer_id: int, countdown: int = 0) -> None:
    from tenants.tasks import verify_customer

    transaction.on_commit(
        lambda: verify_customer.apply_async(args=(customer_id,), countdown=countdown)
    )


class VerificationRetry(Exception):
    """A passing condition (Microsoft still replicating the consent, or throttling)."""

    def __init__(self, reason: str, *, countdown: float = 5.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.countdown = countdown


def customer_verify(*, customer_id: int, last_attempt: bool = True) -> Customer | None:
    """Prove the consent: get a token for the tenant and check it; set the status.

    A tenant's `tid` is trusted only once Microsoft issues a token for it that
    validates. Raises `VerificationRetry` for passing conditions unless `last_attempt`.
    """
    customer = Customer.objects.filter(pk=customer_id).first()
    if customer is None or customer.status == CustomerStatus.OFFBOARDED:
        return None
    if not customer.tenant_id:
        return customer
    was_verified = customer.last_verified_at is not None or bool(customer.granted_roles)
    endpoints = microsoft.endpoints_for_customer(customer)
    roles: set[str] = set()
    notes: list[str] = []
    try:
        graph = graph_roles(customer, endpoints, notes)
        on_graph = roles_are_on_graph(graph)
        roles.update(graph)
        roles.update(legacy_roles(customer, endpoints, notes, on_graph=on_graph))
    except ConsentMissing as exc:
        if not was_verified and not last_attempt:
            # Right after consent Microsoft may need a few seconds to replicate it.
            raise VerificationRetry("consent not visible yet") from exc
        if not was_verified:
            return _release_unproven(customer, exc)
        return _verification_failed(customer, CustomerStatus.CONSENT_REVOKED, exc)
    except (IdentityThrottled, TransientIdentityError) as exc:
        if not last_attempt:
            raise VerificationRetry(type(exc).__name__, countdown=30) from exc
        return _verification_failed(customer, CustomerStatus.ERROR, exc)
    except (TenantNotFound, InvalidToken) as exc:
        # Microsoft does not know the tenant, or its token is not the tenant's.
        if not was_verified:
            return _release_unproven(customer, exc)
        return _verification_failed(customer, CustomerStatus.ERROR, exc)
    except TokenError as exc:
        return _verification_failed(customer, CustomerStatus.ERROR, exc)

    missing = [
        name
        for name, alternatives in required_roles(customer, on_graph=on_graph).items()
        if not roles.intersection(alternatives)
    ]
    return _verification_succeeded(customer, sorted(roles), missing, notes)


@transaction.atomic
def _verification_succeeded(
    customer: Customer, roles: list[str], missing: list[str], notes: list[str]
) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == CustomerStatus.OFFBOARDED:
        return customer
    previous = customer.status
    was_legacy, was_on_graph = customer.on_legacy_api, customer.on_graph
    customer.status = CustomerStatus.MISSING_PERMISSIONS if missing else CustomerStatus.ACTIVE
    customer.granted_roles = roles
    customer.missing_roles = missing
    customer.last_verified_at = timezone.now()
    customer.last_error_code = ""
    customer.last_error_message = " ".join(notes)
    customer.save(
        update_fields=[
            "status",
            "granted_roles",
            "missing_roles",
            "last_verified_at",
            "last_error_code",
            "last_error_message",
            "updated_at",
        ]
    )
    summary = (
        f"Verified: missing permissions {', '.join(missing)}"
        if missing
        else "Verified: consent is in place"
    )
    if customer.on_graph and not was_on_graph and was_legacy:
        summary += "; moved to Microsoft Graph (the legacy API's sync stops)"
    if customer.on_legacy_api != was_legacy:
        transaction.on_commit(reconsent.legacy_api_count_forget)
    audit_record(
        action="customer.verified",
        customer=customer,
        summary=summary,
        details={
            "status": customer.status,
            "previous": previous,
            "roles": roles,
            "missing": missing,
            "on_graph": roles_are_on_graph(roles),
        },
    )
    return customer


@transaction.atomic
def _verification_failed(customer: Customer, status: str, exc: Exception) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == CustomerStatus.OFFBOARDED:
        return customer
    failure = describe_failure(exc)
    changed: list[str] = []
    if status == CustomerStatus.CONSENT_REVOKED:
        customer.granted_roles = []
        changed.append("granted_roles")
    return _record_failure(
        customer,
        status,
        code=failure.code,
        message=failure.words,
        event="customer.verification_failed",
        summary=f"Verification failed ({failure.code}): {failure.words}",
        details={"status": status},
        changed=changed,
    )


@transaction.atomic
def _release_unproven(customer: Customer, exc: Exception) -> Customer:
    """A tenant whose first verification failed for good holds no claim: let it go.

    The consent callback bound it on the admin's signed sign-in, but Microsoft will not
    issue the portal a token there (no consent, or the tenant refuses the app). Keeping
    it would block a proven consent for the same tenant through another link, so the
    customer returns to waiting for consent, saying what happened.
    """
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == CustomerStatus.OFFBOARDED or not customer.tenant_id:
        return customer
    released = customer.tenant_id
    failure = describe_failure(exc)
    customer.tenant_id = None
    return _record_failure(
        customer,
        CustomerStatus.PENDING_CONSENT,
        code=failure.code,
        message=(
            f"Consent for tenant {released} could not be confirmed, so the tenant was "
            f"released: {failure.words} Send the customer's admin a new consent link."
        ),
        event="consent.released",
        summary=f"Tenant {released} released: its first verification failed ({failure.code})",
        details={"tenant_id": released},
        changed=["tenant_id"],
    )


def _record_failure(
    customer: Customer,
    status: str,
    *,
    code: str,
    message: str,
    event: str,
    summary: str,
    details: dict[str, Any],
    changed: Sequence[str] = (),
) -> Customer:
    """Put the locked `customer` in `status` with the error `code` and `message`, saved
    with the fields the caller `changed`, and audit it as `event`; the event's details
    add the status before and the code."""
    previous = customer.status
    customer.status = status
    customer.last_error_code = code[:64]
    customer.last_error_message = message
    customer.save(
        update_fields=[*changed, "status", "last_error_code", "last_error_message", "updated_at"]
    )
    audit_record(
        action=event,
        customer=customer,
        summary=summary[:500],
        details={**details, "previous": previous, "code": code},
    )
    return customer


@transaction.atomic
def customer_request_verification(*, customer: Customer, actor: User) -> None:
    """Staff's "verify now": check the consent again in the background."""
    if not customer.tenant_id:
        raise ValueError("This customer has not consented yet: there is no tenant to verify.")
    audit_record(
        action="customer.verify_requested",
        customer=customer,
        actor=actor,
        summary="Verification requested",
    )
    enqueue_verification(customer.pk)


def customers_reverify_all() -> int:
    """Queue a verification of every customer with a tenant (finds revoked consent)."""
    ids = list(
        Customer.objects.exclude(status=CustomerStatus.OFFBOARDED)
        .exclude(tenant_id__isnull=True)
        .values_list("pk", flat=True)
    )
    from tenants.tasks import verify_customer

    for index, pk in enumerate(ids):
        # Spread the checks so that hundreds of tenants do not ask for tokens at once.
        verify_customer.apply_async(args=(pk,), countdown=index % 300)
    return len(ids)


@transaction.atomic
def customer_record_access_problem(
    *, customer_id: int, exc: Exception, missing_permission: str | None = None
) -> Customer | None:
    """A sync met revoked consent or a missing permission: mark the customer so.

    Consent missing makes the customer "consent revoked", which stops its syncs; a
    missing permission makes it "missing permissions", naming the permission.
    """
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None or customer.status == CustomerStatus.OFFBOARDED:
        return customer
    if missing_permission is None:
        return _verification_failed(customer, CustomerStatus.CONSENT_REVOKED, exc)
    previous = customer.status
    already_known = missing_permission in customer.missing_roles
    missing = sorted({*customer.missing_roles, missing_permission})
    customer.status = CustomerStatus.MISSING_PERMISSIONS
    customer.missing_roles = missing
    customer.granted_roles = [r for r in customer.granted_roles if r != missing_permission]
    customer.last_error_code = "Forbidden"
    customer.last_error_message = (
        f"Microsoft refused a request for lack of the permission {missing_permission}. "
        "Ask the customer's admin to consent again with the new link."
    )
    customer.save(
        update_fields=[
            "status",
            "missing_roles",
            "granted_roles",
            "last_error_code",
            "last_error_message",
            "updated_at",
        ]
    )
    if previous != customer.status or not already_known:
        audit_record(
            action="customer.permission_missing",
            customer=customer,
            summary=f"Missing permission found during sync: {missing_permission}",
            details={"previous": previous, "missing": missing},
        )
    return customer
