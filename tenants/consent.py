"""Consent: from the customer admin's click to a tenant bound to the customer, on proof.

1. ``consent_start``: the landing page's button mints a signed, single-use ``state`` for
   the link and sends the admin to Microsoft's admin consent (v2) or to the Defender
   partner link (v1).
2. ``consent_callback_handle``: Microsoft sends the browser back. What the query says is
   not proof: the v2 answer's ``tenant`` can be typed by anyone. An answer counts only in
   the browser that pressed Continue (its cookie), so a Microsoft URL with the link's state
   sent to another organisation's admin binds nothing.

   * v2: the state is checked, a tenant that can never be this customer's is refused,
     and the same browser is sent to sign in at that tenant (OpenID Connect with PKCE and
     a nonce, ``AdminSignIn.begin``). The flow's secrets stay with this browser in its
     signed cookie (``consent_links.BROWSER_COOKIE``), bound to the link's current click;
     the sign-in's own state is the link's state marked as the second step.
   * The sign-in comes back with a code: redeemed with the kept flow, its ID token is
     checked against the tenant's keys and names the tenant and the person's roles.
   * v1: the answer carries a code; redeeming it gives a signed token for the person
     who consented.
3. ``_bind``: only with that proof. The signed tenant must be the one claimed, the person
   an administrator who can grant admin consent, and the tenant neither the personal
   Microsoft accounts tenant, nor held or expected by another customer, nor other than
   this customer's expected tenant. Then the customer holds the tenant and is verified
   by a task enqueued on commit.

A refusal of an answer that carries a state the portal signed is an audit event on the
customer's timeline (which link, which tenant was claimed, who signed in, why) and
changes nothing else; an answer the portal never signed is only logged. What each
refusal means, for the admin and for staff, is worded once in ``REFUSALS``. A binding
that never verifies is released again (``tenants.verification.customer_verify``).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.conf import settings
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone

from partner_portal.core.failures import describe_failure
from partner_portal.defender import (
    CONSUMER_TENANT_ID,
    CodeReceived,
    ConsentDenied,
    ConsentGranted,
    ConsentInvalid,
    DefenderError,
    IdentityThrottled,
    InvalidToken,
    SignedInUser,
    SignInMismatch,
    TenantNotFound,
    TokenError,
    TransientIdentityError,
    WrongTenant,
    normalise_tenant_id,
    parse_consent_callback,
)
from tenants import consent_links, microsoft, selectors
from tenants.audit import CUSTOMER_ADMIN, audit_record
from tenants.consent_answers import REFUSALS, SIGN_IN_SECONDS, CallbackOutcome
from tenants.consent_links import STATE_SALT, InvalidState, load_state
from tenants.models import ConsentFlow, ConsentOutcome, ConsentRequest, Customer, CustomerStatus
from tenants.verification import enqueue_verification

logger = logging.getLogger(__name__)

_SIGN_IN_STEP = "signin"


# --- the callback --------------------------------------------------------------------------
def consent_callback_handle(
    *, query: dict[str, str], ip_address: str | None, browser_cookie: str | None = None
) -> CallbackOutcome:
    """Handle Microsoft's redirect (consent, or the sign-in after it); see the module."""
    result = parse_consent_callback(query)
    if result.state is None:
        assert isinstance(result, ConsentInvalid)
        logger.warning("Consent callback refused: %s", result.reason)
        return CallbackOutcome("invalid", 400, error=result.reason)
    try:
        consent, payload = load_state(result.state, for_update=False)
    except InvalidState as exc:
        logger.warning("Consent callback with an unusable state: %s", exc.reason)
        if exc.consent is not None:
            _refuse(exc.consent, "state_unusable", ip_address, claimed=query.get("tenant"))
        return CallbackOutcome("invalid", 400, error=exc.reason)

    claimed = query.get("tenant")
    if isinstance(result, ConsentInvalid):
        return _refuse(consent, "malformed_answer", ip_address, claimed=claimed)
    if isinstance(result, ConsentDenied):
        return _record_denied(result, ip_address)
    kept = consent_links.read_browser_cookie(
        browser_cookie, consent, max_age=settings.CONSENT_STATE_MAX_AGE
    )
    if kept is None:
        # Not the browser that pressed Continue on this link (or it took too long).
        return _refuse(consent, "other_browser", ip_address, claimed=claimed)
    if payload.get("k") == _SIGN_IN_STEP:
        if not isinstance(result, CodeReceived):
            return _refuse(consent, "wrong_step", ip_address, claimed=claimed)
        return _finish_sign_in(consent, payload, query, kept, ip_address)
    if consent.flow == ConsentFlow.V1:
        if not isinstance(result, CodeReceived):
            return _refuse(consent, "wrong_step", ip_address, claimed=claimed)
        return _redeem_partner_code(consent, result, ip_address)
    if not isinstance(result, ConsentGranted):
        return _refuse(consent, "wrong_step", ip_address, claimed=claimed)
    return _begin_sign_in(consent, payload, result.tenant_id, ip_address)


def _tenant_refusal(customer: Customer, tenant_id: str) -> str | None:
    """Why ``tenant_id`` can never be this customer's, or None."""
    if tenant_id == CONSUMER_TENANT_ID:
        return "personal_tenant"
    if selectors.tenant_holder(tenant_id=tenant_id, excluding=customer) is not None:
        return "held_by_other"
    if selectors.tenant_expected_by(tenant_id=tenant_id, excluding=customer) is not None:
        return "expected_by_other"
    if customer.tenant_id and customer.tenant_id != tenant_id:
        return "bound_elsewhere"
    # The ID staff's entry stood for when saved (a domain's as Microsoft gave it). A
    # domain stored before domains were looked up has none and is not enforced.
    expected = customer.expected_tenant_id or normalise_tenant_id(customer.expected_tenant)
    if expected and expected != tenant_id:
        return "not_expected"
    return None


def _begin_sign_in(
    consent: ConsentRequest, payload: dict[str, Any], tenant_id: str, ip_address: str | None
) -> CallbackOutcome:
    customer = consent.customer
    refusal = _tenant_refusal(customer, tenant_id)
    if refusal:
        return _refuse(consent, refusal, ip_address, claimed=tenant_id)
    state = signing.dumps(
        {"c": consent.pk, "n": payload["n"], "k": _SIGN_IN_STEP, "t": tenant_id},
        salt=STATE_SALT,
        compress=False,
    )
    try:
        request = microsoft.admin_sign_in(customer).begin(
            tenant_id=tenant_id, redirect_uri=microsoft.consent_redirect_uri(), state=state
        )
    except TenantNotFound:
        return _refuse(consent, "unknown_tenant", ip_address, claimed=tenant_id)
    except DefenderError as exc:
        return _unavailable(consent, exc)
    audit_record(
        action="consent.reported",
        customer=customer,
        actor_label=CUSTOMER_ADMIN,
        ip_address=ip_address,
        summary=f"Microsoft reported admin consent for tenant {tenant_id}; the admin is asked "
        "to sign in to prove it",
        details={"consent_request": consent.pk, "claimed_tenant": tenant_id},
    )
    # The flow's secrets (PKCE verifier, nonce) stay with this browser, with the time.
    cookie = consent_links.browser_cookie(consent, f=dict(request.flow), t=time.time())
    return CallbackOutcome("sign_in", 302, redirect_to=request.url, cookie=cookie)


def _kept_flow(kept: dict[str, Any]) -> dict[str, Any] | None:
    flow, began = kept.get("f"), kept.get("t")
    if not isinstance(flow, dict) or not isinstance(began, int | float):
        return None
    return flow if time.time() - began <= SIGN_IN_SECONDS else None


def _finish_sign_in(
    consent: ConsentRequest,
    payload: dict[str, Any],
    query: dict[str, str],
    kept: dict[str, Any],
    ip_address: str | None,
) -> CallbackOutcome:
    claimed = str(payload.get("t") or "")
    flow = _kept_flow(kept)
    if flow is None or normalise_tenant_id(claimed) is None:
        return _refuse(consent, "other_browser", ip_address, claimed=claimed)
    try:
        user = microsoft.admin_sign_in(consent.customer).finish(
            tenant_id=claimed, flow=flow, response=query
        )
    except SignInMismatch:
        return _refuse(consent, "sign_in_mismatch", ip_address, claimed=claimed)
    except WrongTenant:
        return _refuse(consent, "tenant_mismatch", ip_address, claimed=claimed)
    except (IdentityThrottled, TransientIdentityError) as exc:
        return _unavailable(consent, exc)
    except TokenError:
        return _refuse(consent, "code_rejected", ip_address, claimed=claimed)
    except (InvalidToken, DefenderError):
        return _refuse(consent, "token_invalid", ip_address, claimed=claimed)
    return _bind(query["state"], user, claimed, ip_address)


def _redeem_partner_code(
    consent: ConsentRequest, result: CodeReceived, ip_address: str | None
) -> CallbackOutcome:
    try:
        user = microsoft.admin_sign_in(consent.customer).redeem_partner_code(
            code=result.code, redirect_uri=microsoft.consent_redirect_uri()
        )
    except (IdentityThrottled, TransientIdentityError) as exc:
        return _unavailable(consent, exc)
    except TokenError:
        return _refuse(consent, "code_rejected", ip_address)
    except (InvalidToken, DefenderError):
        return _refuse(consent, "token_invalid", ip_address)
    return _bind(result.state, user, None, ip_address)


def _unavailable(consent: ConsentRequest, exc: DefenderError) -> CallbackOutcome:
    logger.warning("Confirming a consent with Microsoft failed: %s", type(exc).__name__)
    return CallbackOutcome(
        "failed",
        503,
        customer_name=consent.customer.display_name,
        error=type(exc).__name__,
        aadsts_code=getattr(exc, "aadsts_code", None),
        description=describe_failure(exc).words,
    )


# --- binding, on proof ---------------------------------------------------------------------
def _proof_refusal(user: SignedInUser, claimed: str | None) -> str | None:
    if claimed is not None and user.tenant_id != claimed:
        return "tenant_mismatch"
    if user.directory_roles is None:
        return "no_roles"
    if not user.can_grant_admin_consent:
        return "not_admin"
    return None


def _bind(
    state: str, user: SignedInUser, claimed: str | None, ip_address: str | None
) -> CallbackOutcome:
    with transaction.atomic():
        outcome = _bind_locked(state, user, claimed, ip_address)
        if outcome.reason:
            # Nothing of the attempt is kept but its audit event, written below.
            transaction.set_rollback(True)
    if outcome.reason:
        consent = ConsentRequest.objects.select_related("customer").get(pk=outcome.details["c"])
        return _refuse(consent, outcome.reason, ip_address, claimed=claimed, user=user)
    return outcome


def _bind_locked(
    state: str, user: SignedInUser, claimed: str | None, ip_address: str | None
) -> CallbackOutcome:
    try:
        consent, _ = load_state(state, for_update=True)
    except InvalidState as exc:
        return CallbackOutcome("invalid", 400, error=exc.reason)
    customer = Customer.objects.select_for_update().get(pk=consent.customer_id)
    tenant_id = user.tenant_id
    refusal = _proof_refusal(user, claimed) or _tenant_refusal(customer, tenant_id)
    if refusal:
        return CallbackOutcome("refused", 400, reason=refusal, details={"c": consent.pk})

    now = timezone.now()
    consent.state_hash = ""
    consent.outcome = ConsentOutcome.GRANTED
    consent.used_at = now
    consent.error_code = ""
    consent.error_description = ""
    consent.save(
        update_fields=["state_hash", "outcome", "used_at", "error_code", "error_description"]
    )
    customer.tenant_id = tenant_id
    customer.status = CustomerStatus.VERIFYING
    customer.last_error_code = ""
    customer.last_error_message = ""
    try:
        # A savepoint: another callback may bind the same tenant at this very moment.
        with transaction.atomic():
            customer.save(
                update_fields=[
                    "tenant_id", "status", "last_error_code", "last_error_message", "updated_at"
                ]
            )  # fmt: skip
    except IntegrityError:
        return CallbackOutcome("conflict", 409, reason="held_by_other", details={"c": consent.pk})
    audit_record(
        action="consent.granted",
        customer=customer,
        actor_label=CUSTOMER_ADMIN,
        ip_address=ip_address,
        summary=f"Admin consent proven for tenant {tenant_id} by {user.username or 'an admin'} "
        f"({', '.join(user.consent_admin_roles)}); verifying",
        details={
            "consent_request": consent.pk,
            "tenant_id": tenant_id,
            "flow": consent.flow,
            "signed_in_as": user.username,
            "signed_in_object_id": user.object_id,
            "roles": list(user.consent_admin_roles),
        },
    )
    enqueue_verification(customer.pk)
    return CallbackOutcome("granted", 200, customer_name=customer.display_name)


# --- refusals and denials ------------------------------------------------------------------
def _printable(value: str | None, limit: int = 64) -> str:
    text = "".join(ch for ch in (value or "") if ch.isprintable())
    return text[:limit]


def _refuse(
    consent: ConsentRequest,
    reason: str,
    ip_address: str | None,
    *,
    claimed: str | None = None,
    user: SignedInUser | None = None,
) -> CallbackOutcome:
    """Record a refused answer on the link's customer (audit only) and say why."""
    refusal = REFUSALS[reason]
    customer = consent.customer
    tenant = _printable(claimed) or (user.tenant_id if user else "")
    logger.warning("Consent answer for customer %s refused: %s", customer.pk, reason)
    audit_record(
        action="consent.refused",
        customer=customer,
        actor_label=CUSTOMER_ADMIN,
        ip_address=ip_address,
        summary="Consent answer refused"
        + (f" for tenant {tenant}" if tenant else "")
        + f": {refusal.staff}",
        details={
            "consent_request": consent.pk,
            "link_created": consent.created_at.isoformat(),
            "claimed_tenant": tenant,
            "reason": reason,
            "signed_in_as": user.username if user else "",
            "signed_in_tenant": user.tenant_id if user else "",
        },
    )
    return CallbackOutcome(
        refusal.kind,
        refusal.status,
        customer_name=customer.display_name,
        reason=reason,
        details={"tenant_id": tenant},
    )


@transaction.atomic
def _record_denied(result: ConsentDenied, ip_address: str | None) -> CallbackOutcome:
    try:
        consent, _ = load_state(result.state, for_update=True)
    except InvalidState as exc:
        return CallbackOutcome("invalid", 400, error=exc.reason)
    consent.state_hash = ""
    consent.outcome = ConsentOutcome.DENIED
    code = f"AADSTS{result.aadsts_code}" if result.aadsts_code else result.error
    consent.error_code = code[:64]
    consent.error_description = result.description
    consent.save(update_fields=["state_hash", "outcome", "error_code", "error_description"])
    audit_record(
        action="consent.denied",
        customer=consent.customer,
        actor_label=CUSTOMER_ADMIN,
        ip_address=ip_address,
        summary=f"Consent not granted: {result.error}"
        + (f" (AADSTS{result.aadsts_code})" if result.aadsts_code else ""),
        details={
            "consent_request": consent.pk,
            "error": result.error,
            "aadsts_code": result.aadsts_code,
            "description": result.description,
        },
    )
    return CallbackOutcome(
        "denied",
        200,
        customer_name=consent.customer.display_name,
        error=result.error,
        aadsts_code=result.aadsts_code,
        description=result.description,
    )
