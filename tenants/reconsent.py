"""Asking every customer still on the legacy API to consent again, in one action.

Microsoft stops the Defender for Endpoint and XDR APIs on 1 February 2027; a customer
moves to Microsoft Graph once its admin consents again (verification then sees the
Graph roles and the sync switches by itself). With dozens of such customers, staff
need not open each page: `reconsent_links_email` makes a new consent link for each
customer on the legacy API that has a contact e-mail address and sends it there, one
customer at a time: the link is committed first, then the mail is sent and recorded, so
a mail server that refuses leaves the link for staff to copy from the customer's page.
The report names who got a link, who has no contact address, and whose mail could not
be sent, with the reason in words.
"""

from __future__ import annotations

import logging
import smtplib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.cache import cache
from django.core.mail import send_mail
from django.db import transaction

from tenants import consent_links
from tenants.models import Customer, CustomerStatus

if TYPE_CHECKING:
    from django.contrib.auth.models import User

logger = logging.getLogger(__name__)

#: The banner's count of customers on the legacy API, shared through the cache.
COUNT_CACHE_KEY = "tenants:legacy-api-count"
COUNT_CACHE_SECONDS = 60


@dataclass
class ReconsentReport:
    sent: list[str] = field(default_factory=list)
    without_contact: list[str] = field(default_factory=list)
    not_sent: list[tuple[str, str]] = field(default_factory=list)


def legacy_api_customers() -> list[Customer]:
    """Customers that must consent again to move to Microsoft Graph, by name."""
    connected = (
        Customer.objects.exclude(status=CustomerStatus.OFFBOARDED)
        .exclude(tenant_id=None)
        .exclude(last_verified_at=None)
        .order_by("display_name", "pk")
    )
    return [customer for customer in connected if customer.on_legacy_api]


def legacy_api_count() -> int:
    """How many customers must consent again; worked out at most once a minute."""
    count = cache.get(COUNT_CACHE_KEY)
    if count is None:
        count = len(legacy_api_customers())
        cache.set(COUNT_CACHE_KEY, count, COUNT_CACHE_SECONDS)
    return int(count)


def legacy_api_count_forget() -> None:
    """Work the count out again at the next page: a customer moved onto or off the
    legacy API."""
    cache.delete(COUNT_CACHE_KEY)


def reconsent_links_email(*, actor: User) -> ReconsentReport:
    """A new consent link, e-mailed to the contact, for each customer on the legacy API."""
    report = ReconsentReport()
    for customer in legacy_api_customers():
        if not customer.contact_email:
            report.without_contact.append(customer.display_name)
            continue
        to = customer.contact_email
        with transaction.atomic():
            consent = consent_links.consent_link_create(customer=customer, created_by=actor)
        # The link is committed first: a mail server that refuses leaves it to copy by hand.
        subject, body = consent_links.consent_link_message(consent)
        try:
            send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)
        except (smtplib.SMTPException, OSError) as exc:
            logger.warning("Re-consent mail for customer %s not sent: %s", customer.pk, exc)
            report.not_sent.append((customer.display_name, _in_words(exc)))
            continue
        consent_links.consent_link_emailed(consent=consent, to=to, actor=actor)
        report.sent.append(customer.display_name)
    return report


def _in_words(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "the mail server refused the contact's address"
    if isinstance(exc, smtplib.SMTPException):
        return "the mail server refused the message"
    return "the mail server could not be reached"
