"""Celery tasks for customers: thin wrappers that re-fetch by ID and call a service."""

from __future__ import annotations

import logging

from celery import Task, shared_task

from tenants import verification

logger = logging.getLogger(__name__)

VERIFY_ATTEMPTS = 6


@shared_task(
    name="tenants.verify_customer",
    bind=True,
    max_retries=VERIFY_ATTEMPTS - 1,
    time_limit=120,
    soft_time_limit=100,
)
def verify_customer(self: Task, customer_id: int) -> str | None:
    """Verify one customer's consent; a deleted or offboarded customer is skipped."""
    last_attempt = self.request.retries >= VERIFY_ATTEMPTS - 1
    try:
        customer = verification.customer_verify(customer_id=customer_id, last_attempt=last_attempt)
    except verification.VerificationRetry as exc:
        countdown = min(60.0, exc.countdown * (2**self.request.retries))
        logger.info("Verification of customer %s retried: %s", customer_id, exc.reason)
        raise self.retry(countdown=countdown) from None
    return customer.status if customer else None


@shared_task(name="tenants.reverify_all", time_limit=300, soft_time_limit=280)
def reverify_all() -> int:
    """Daily: check every customer's consent again, so that revoked consent is noticed."""
    return verification.customers_reverify_all()
