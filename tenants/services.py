"""Writes for customers: registration, edits, consent links, verification, offboarding.

The consent callback itself lives in `tenants.consent`.

Each service is one transaction and writes its audit event in it; tasks are enqueued
on commit, so a worker never sees a row that was rolled back.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from partner_portal.defender import (
    ALERT_READ,
    ALERT_READWRITE,
    CONSUMER_TENANT_ID,
    INCIDENT_READ,
    INCIDENT_READWRITE,
    ConsentMissing,
    IdentityThrottled,
    InvalidTenantName,
    InvalidToken,
    ResourceNotInTenant,
    TenantLookupError,
    TenantLookupUnavailable,
    TenantNotFound,
    TokenError,
    TransientIdentityError,
    UnknownTenantName,
    UnreadableDiscovery,
    normalise_tenant_id,
)
from tenants import microsoft, selectors
from tenants.audit import audit_record
from tenants.consent_links import consent_link_create
from tenants.models import (
    CloudChoice,
    ConsentFlow,
    ConsentOutcome,
    ConsentRequest,
    Customer,
    CustomerStatus,
)

logger = logging.getLogger(__name__)


# --- register and edit ---------------------------------------------------------------------
def customer_register(
    *,
    display_name: str,
    contact_name: str = "",
    contact_email: str = "",
    expected_tenant: str = "",
    cloud: str = "commercial",
    api_region: str = "",
    collect_alerts: bool = True,
    collect_incidents: bool = True,
    sync_interval_seconds: int = 60,
    flow: str = ConsentFlow.V2,
    created_by: Any,
) -> tuple[Customer, ConsentRequest]:
    """Create a customer waiting for consent, and its first consent link.

    An expected domain is looked up at Microsoft first; when that fails, a
    `ValidationError` on `expected_tenant` says why and nothing is written.
    """
    expected = _normalise_expected(expected_tenant)
    # Before the transaction opens: a slow answer from Microsoft must hold no lock.
    expected_id = _expected_tenant_id(expected, cloud=cloud)
    with transaction.atomic():
        customer = Customer(
            display_name=display_name.strip(),
            contact_name=contact_name.strip(),
            contact_email=contact_email.strip(),
            expected_tenant=expected,
            expected_tenant_id=expected_id,
            cloud=cloud,
            api_region=api_region,
            collect_alerts=collect_alerts,
            collect_incidents=collect_incidents,
            sync_interval_seconds=sync_interval_seconds,
            created_by=created_by,
        )
        customer.full_clean()
        customer.save()
        audit_record(
            action="customer.registered",
            customer=customer,
            actor=created_by,
            summary=f"Registered {customer.display_name}",
            details={
                "cloud": cloud,
                "api_region": api_region,
                "flow": flow,
                "expected_tenant": expected,
                "expected_tenant_id": expected_id,
            },
        )
        consent = consent_link_create(customer=customer, flow=flow, created_by=created_by)
        return customer, consent


EDITABLE_FIELDS = (
    "display_name",
    "contact_name",
    "contact_email",
    "expected_tenant",
    "cloud",
    "api_region",
    "collect_alerts",
    "collect_incidents",
    "sync_interval_seconds",
)


def customer_update(*, customer: Customer, actor: Any, **changes: Any) -> Customer:
    """Change the editable fields of a customer; the audit event lists what changed.

    A new expected domain, or a new cloud, is looked up at Microsoft; one stored before
    domains were looked up is checked if Microsoft answers; an unchanged, already
    looked-up one is not asked about again.
    """
    unknown = set(changes) - set(EDITABLE_FIELDS)
    if unknown:
        raise ValueError(f"not editable: {sorted(unknown)}")
    if "expected_tenant" in changes or "cloud" in changes:
        expected = _normalise_expected(changes.get("expected_tenant", customer.expected_tenant))
        cloud = changes.get("cloud", customer.cloud)
        if "expected_tenant" in changes:
            changes["expected_tenant"] = expected
        if expected != customer.expected_tenant or cloud != customer.cloud:
            # A domain belongs to a tenant of one cloud: a new cloud asks again.
            changes["expected_tenant_id"] = _expected_tenant_id(
                expected, cloud=cloud, customer=customer
            )
        elif customer.expected_tenant_unchecked and not customer.tenant_id:
            # Saved before domains were looked up: checked now if Microsoft answers, but
            # a failed look-up must not block an unrelated edit (it stays "not checked").
            with contextlib.suppress(ValidationError):
                changes["expected_tenant_id"] = _expected_tenant_id(
                    expected, cloud=cloud, customer=customer
                )
    with transaction.atomic():
        changed = {
            name: {"from": getattr(customer, name), "to": value}
            for name, value in changes.items()
            if getattr(customer, name) != value
        }
        if not changed:
            return customer
        for name, change in changed.items():
            setattr(customer, name, change["to"])
        customer.full_clean()
        customer.save(update_fields=[*changed, "updated_at"])
        audit_record(
            action="customer.updated",
            customer=customer,
            actor=actor,
            summary="Changed " + ", ".join(sorted(changed)),
            details={"changes": changed},
        )
        return customer


def _normalise_expected(value: str) -> str:
    value = (value or "").strip()
    return normalise_tenant_id(value) or value.lower()


def _expected_tenant_id(expected: str, *, cloud: str, customer: Customer | None = None) -> str:
    """The tenant ID the consent callback will enforce for `expected` ("" for none).

    A GUID stands for itself; a domain is looked up at Microsoft through the one door.
    Every failure becomes a `ValidationError` on `expected_tenant`, worded for staff.
    """
    if not expected:
        return ""
    cloud_name = CloudChoice(cloud).label if cloud in CloudChoice.values else cloud
    try:
        tenant_id = microsoft.tenant_id_for(expected, cloud=cloud)
    except (TenantLookupError, microsoft.PartnerAppNotConfigured, InvalidTenantName) as exc:
        message = _lookup_failure(exc, expected=expected, cloud_name=cloud_name)
        raise ValidationError({"expected_tenant": message}) from None
    if tenant_id == CONSUMER_TENANT_ID:
        message = (
            "This is the tenant of personal Microsoft accounts, not an organisation's; "
            "enter the customer's own tenant ID or domain."
        )
        raise ValidationError({"expected_tenant": message})
    if customer is not None and customer.tenant_id and customer.tenant_id != tenant_id:
        # Its next consent (say, for a new permission) would then be refused as the
        # wrong tenant while it still syncs the tenant it has.
        message = (
            f"This customer is connected to tenant {customer.tenant_id}; {expected} is "
            f"tenant {tenant_id}. Leave the expected tenant as that tenant or empty; to "
            "watch another tenant, register it as its own customer."
        )
        raise ValidationError({"expected_tenant": message})
    holder = selectors.tenant_holder(
        tenant_id=tenant_id, excluding=customer
    ) or selectors.tenant_expected_by(tenant_id=tenant_id, excluding=customer)
    if holder is not None:
        # One tenant, one customer: a second customer expecting it could never consent.
        subject = f"Tenant {tenant_id}"
        if expected != tenant_id:
            subject = f"This domain belongs to tenant {tenant_id}, which"
        raise ValidationError(
            {
                "expected_tenant": (
                    f"{subject} already belongs to the customer “{holder.display_name}”."
                )
            }
        )
    return tenant_id


def _lookup_failure(
    exc: TenantLookupError | microsoft.PartnerAppNotConfigured | InvalidTenantName,
    *,
    expected: str,
    cloud_name: str,
) -> str:
    """What staff read when the expected domain could not be looked up."""
    instead = "enter the customer's tenant ID instead, or leave the field empty"
    if isinstance(exc, UnknownTenantName):
        return (
            f"No Microsoft Entra tenant uses this domain ({expected}) in the {cloud_name} "
            "cloud. Check the spelling and the cloud, or enter the customer's tenant ID "
            "instead."
        )
    if isinstance(exc, microsoft.PartnerAppNotConfigured):
        return (
            "The portal is not connected to Microsoft (no partner app is configured), so "
            f"this domain cannot be checked; {instead}."
        )
    if isinstance(exc, InvalidTenantName):
        return "Enter a tenant ID (GUID) or a domain such as contoso.onmicrosoft.com."
    logger.warning("Looking up the tenant of %s failed: %s", expected, exc)
    if isinstance(exc, TenantLookupUnavailable):
        return (
            "Microsoft could not be reached to check this domain (it did not answer in "
            f"time or refused the connection). Try again in a moment, or {instead}."
        )
    if isinstance(exc, UnreadableDiscovery):
        return (
            "Microsoft's answer did not say which tenant uses this domain, so it could not "
            f"be checked. Try again in a moment, or {instead}."
        )
    return f"Microsoft refused to look up this domain ({exc.reason}); {instead}."


def enqueue_verification(customer_id: int, countdown: int = 0) -> None:
    from tenants.tasks import verify_customer

    transaction.on_commit(
        lambda: verify_customer.apply_async(args=(customer_id,), countdown=countdown)
    )


# --- verification ----------------------------------------------------------------------------
class VerificationRetry(Exception):
    """A passing condition (Microsoft still replicating the consent, or throttling)."""

    def __init__(self, reason: str, *, countdown: float = 5.0) -> None:
        super().__init__(reason)
        self.reason = reason
        self.countdown = countdown


def required_roles(customer: Customer) -> dict[str, tuple[str, ...]]:
    """Roles the portal needs, as alternatives: any one role of each entry will do."""
    needed: dict[str, tuple[str, ...]] = {}
    if customer.collect_alerts:
        needed[ALERT_READ] = (ALERT_READ, ALERT_READWRITE)
    if customer.collect_incidents:
        needed[INCIDENT_READ] = (INCIDENT_READ, INCIDENT_READWRITE)
    return needed


def _roles_for(customer: Customer, resource: str) -> list[str]:
    provider = microsoft.token_provider(customer)
    assert customer.tenant_id
    token = provider.get(customer.tenant_id, resource, force_refresh=True)
    validated = microsoft.token_validator(customer).validate(
        token.token, tenant_id=customer.tenant_id, resource=resource
    )
    return sorted(validated.roles)


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
        roles.update(_roles_for(customer, endpoints.mde_resource))
        if customer.collect_incidents:
            try:
                roles.update(_roles_for(customer, endpoints.xdr_resource))
            except ResourceNotInTenant:
                notes.append("Microsoft Defender XDR is not set up in this tenant.")
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
        for name, alternatives in required_roles(customer).items()
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
    audit_record(
        action="customer.verified",
        customer=customer,
        summary=summary,
        details={
            "status": customer.status,
            "previous": previous,
            "roles": roles,
            "missing": missing,
        },
    )
    return customer


def _explain(exc: Exception) -> tuple[str, str]:
    code = getattr(exc, "aadsts_code", None)
    if isinstance(exc, InvalidToken):
        return "invalid_token", f"Microsoft's token failed the portal's checks: {exc.reason}."
    text = getattr(exc, "explanation", "") or str(exc)
    return (f"AADSTS{code}" if code else type(exc).__name__), text


@transaction.atomic
def _verification_failed(customer: Customer, status: str, exc: Exception) -> Customer:
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    if customer.status == CustomerStatus.OFFBOARDED:
        return customer
    previous = customer.status
    code, message = _explain(exc)
    customer.status = status
    customer.last_error_code = code[:64]
    customer.last_error_message = message
    update = ["status", "last_error_code", "last_error_message", "updated_at"]
    if status == CustomerStatus.CONSENT_REVOKED:
        customer.granted_roles = []
        update.append("granted_roles")
    customer.save(update_fields=update)
    audit_record(
        action="customer.verification_failed",
        customer=customer,
        summary=f"Verification failed ({code}): {message}"[:500],
        details={"status": status, "previous": previous, "code": code},
    )
    return customer


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
    released, previous = customer.tenant_id, customer.status
    code, message = _explain(exc)
    customer.tenant_id = None
    customer.status = CustomerStatus.PENDING_CONSENT
    customer.last_error_code = code[:64]
    customer.last_error_message = (
        f"Consent for tenant {released} could not be confirmed, so the tenant was released: "
        f"{message} Send the customer's admin a new consent link."
    )
    customer.save(
        update_fields=[
            "tenant_id", "status", "last_error_code", "last_error_message", "updated_at"
        ]
    )  # fmt: skip
    audit_record(
        action="consent.released",
        customer=customer,
        summary=f"Tenant {released} released: its first verification failed ({code})"[:500],
        details={"tenant_id": released, "previous": previous, "code": code},
    )
    return customer


@transaction.atomic
def customer_request_verification(*, customer: Customer, actor: Any) -> None:
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


# --- offboarding ------------------------------------------------------------------------------
@transaction.atomic
def customer_offboard(*, customer: Customer, actor: Any) -> Customer:
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
def customer_delete(*, customer: Customer, actor: Any, confirmation: str) -> str:
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
