"""Registering customers and editing them, with the expected tenant looked up at Microsoft.

Staff type a tenant ID or a domain they expect the customer to consent from; a domain is
looked up through Microsoft's discovery document when saved, and every failure becomes a
form error worded for staff. Registration opens the first consent link. Each service is
one transaction with its audit event in it.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ValidationError
from django.db import transaction

from partner_portal.defender import (
    CONSUMER_TENANT_ID,
    InvalidTenantName,
    TenantLookupError,
    TenantLookupUnavailable,
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
    ConsentRequest,
    Customer,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)


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
    time_zone: str = "UTC",
    flow: str = ConsentFlow.V2,
    created_by: User,
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
            time_zone=time_zone,
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
    "time_zone",
)


def customer_update(*, customer: Customer, actor: User, **changes: Any) -> Customer:
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
