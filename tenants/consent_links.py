"""Consent links: what staff send, what the admin's click mints, and how an answer's
state is tied back to its link.

A link (``ConsentRequest``) is public, expires, and stops working when a newer one is
made. Each click on its landing page mints a ``state`` signed with the portal's key and
carrying a fresh nonce; only the nonce's hash is stored, so one click's state works
once, for that link, until it expires (``CONSENT_STATE_MAX_AGE``). ``load_state`` is
the one place that decides whether an answer's state is still good. The click also
leaves a signed cookie in the admin's browser (``BROWSER_COOKIE``): Microsoft's answer
counts only in that browser, so a Microsoft URL carrying the state, sent to somebody
else, proves nothing.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core import signing
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from partner_portal.defender import admin_consent_url, partner_consent_url
from tenants import microsoft
from tenants.audit import CUSTOMER_ADMIN, audit_record
from tenants.models import ConsentFlow, ConsentOutcome, ConsentRequest, Customer

if TYPE_CHECKING:
    from django.contrib.auth.models import User

STATE_SALT = "tenants.consent-state"
BROWSER_SALT = "tenants.consent-browser"
#: Ties Microsoft's answer to the browser that pressed Continue; sent to the callback only.
BROWSER_COOKIE = "consent_browser"


@transaction.atomic
def consent_link_create(
    *, customer: Customer, flow: str = ConsentFlow.V2, created_by: User
) -> ConsentRequest:
    """A new consent link for the customer; every earlier open link stops working."""
    superseded = ConsentRequest.objects.filter(
        customer=customer, outcome__in=[ConsentOutcome.PENDING, ConsentOutcome.DENIED]
    ).update(outcome=ConsentOutcome.SUPERSEDED, state_hash="")
    consent = ConsentRequest.objects.create(
        customer=customer,
        public_id=secrets.token_urlsafe(24),
        flow=flow,
        created_by=created_by,
        expires_at=timezone.now() + timedelta(days=settings.CONSENT_LINK_DAYS),
    )
    audit_record(
        action="consent.link_created",
        customer=customer,
        actor=created_by,
        summary=f"New consent link ({consent.get_flow_display()})"
        + (f"; {superseded} older link(s) stopped working" if superseded else ""),
        details={"consent_request": consent.pk, "flow": flow, "superseded": superseded},
    )
    return consent


def consent_landing_url(consent: ConsentRequest) -> str:
    """The link staff send to the customer's admin."""
    path = reverse("tenants:consent_landing", args=[consent.public_id])
    return settings.PUBLIC_BASE_URL.rstrip("/") + path


def consent_link_message(consent: ConsentRequest) -> tuple[str, str]:
    """The subject and body of the e-mail that carries a consent link."""
    context = {
        "customer": consent.customer,
        "partner_name": settings.PARTNER_NAME,
        "link": consent_landing_url(consent),
        "expires_at": consent.expires_at,
    }
    body = render_to_string("tenants/email/consent_link.txt", context)
    subject = f"{settings.PARTNER_NAME}: please approve access to Microsoft Defender alerts"
    return subject, body


def consent_link_emailed(*, consent: ConsentRequest, to: str, actor: User) -> None:
    """Record that the link went to `to` (in the caller's transaction)."""
    audit_record(
        action="consent.link_emailed",
        customer=consent.customer,
        actor=actor,
        summary=f"Consent link e-mailed to {to}",
        details={"consent_request": consent.pk, "to": to},
    )


@transaction.atomic
def consent_link_email(*, consent: ConsentRequest, to: str, actor: User) -> None:
    """E-mail the consent link to the customer's contact."""
    subject, body = consent_link_message(consent)
    # Sent after commit so that a rolled-back audit event never accompanies a sent mail.
    transaction.on_commit(
        lambda: send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to], fail_silently=False)
    )
    consent_link_emailed(consent=consent, to=to, actor=actor)


def _hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


# --- the landing page's button -------------------------------------------------------------
class ConsentLinkClosed(Exception):
    """The landing page's link is expired, replaced or already used."""


@dataclass(frozen=True)
class ConsentStart:
    """Where to send the admin, and the cookie that ties the answer to this browser."""

    url: str
    cookie: str


def browser_cookie(consent: ConsentRequest, **kept: Any) -> str:
    """The value of ``BROWSER_COOKIE``: this link's current click, plus what ``kept``
    holds (the sign-in's flow), signed so the browser can carry but not alter it."""
    return signing.dumps({"c": consent.pk, "h": consent.state_hash, **kept}, salt=BROWSER_SALT)


def read_browser_cookie(
    cookie: str | None, consent: ConsentRequest, *, max_age: int
) -> dict[str, Any] | None:
    """What the browser kept for ``consent``'s current click, or None if it is not the
    browser that pressed Continue (no cookie, another link or click, too old, altered)."""
    if not cookie:
        return None
    try:
        kept = signing.loads(cookie, salt=BROWSER_SALT, max_age=max_age)
    except signing.BadSignature:
        return None
    if not isinstance(kept, dict) or kept.get("c") != consent.pk:
        return None
    if not consent.state_hash or not secrets.compare_digest(
        str(kept.get("h", "")), consent.state_hash
    ):
        return None
    return kept


@transaction.atomic
def consent_start(*, public_id: str, ip_address: str | None) -> ConsentStart:
    """Mint a fresh state for the link; where to send the admin, and the browser's cookie.

    Microsoft's answer is accepted only in the browser that pressed Continue (it carries
    the cookie): a Microsoft URL with this state, sent to somebody else's browser, binds
    nothing.
    """
    consent = (
        ConsentRequest.objects.select_for_update()
        .select_related("customer")
        .filter(public_id=public_id)
        .first()
    )
    if consent is None or not consent.is_open:
        raise ConsentLinkClosed
    nonce = secrets.token_urlsafe(32)
    state = signing.dumps({"c": consent.pk, "n": nonce}, salt=STATE_SALT, compress=False)
    consent.state_hash = _hash(nonce)
    consent.state_issued_at = timezone.now()
    consent.save(update_fields=["state_hash", "state_issued_at"])
    audit_record(
        action="consent.started",
        customer=consent.customer,
        actor_label=CUSTOMER_ADMIN,
        ip_address=ip_address,
        summary="The customer's admin left for Microsoft to consent",
        details={"consent_request": consent.pk, "flow": consent.flow},
    )
    return ConsentStart(url=_microsoft_url(consent, state), cookie=browser_cookie(consent))


def sign_in_origin(consent: ConsentRequest) -> str | None:
    """The origin of the sign-in page the consent's Continue button leads to (Microsoft's
    or the sandbox's), for the landing page's form policy; None without a partner app."""
    try:
        endpoints = microsoft.endpoints_for_customer(consent.customer)
    except microsoft.PartnerAppNotConfigured:
        return None
    parts = urlsplit(endpoints.interactive_login_url)
    return f"{parts.scheme}://{parts.netloc}"


def _microsoft_url(consent: ConsentRequest, state: str) -> str:
    app = microsoft.partner_app()
    endpoints = microsoft.endpoints_for_customer(consent.customer, app)
    if consent.flow == ConsentFlow.V1:
        return partner_consent_url(
            login_url=endpoints.interactive_login_url,
            client_id=app.client_id,
            redirect_uri=microsoft.consent_redirect_uri(),
            state=state,
        )
    return admin_consent_url(
        login_url=endpoints.interactive_login_url,
        client_id=app.client_id,
        redirect_uri=microsoft.consent_redirect_uri(),
        state=state,
        # The looked-up ID where there is one, so the link and the check name one tenant.
        tenant=consent.customer.expected_tenant_id or consent.customer.expected_tenant or None,
        # Graph's: it exists in every tenant, also one without Defender for Endpoint, and
        # `.default` asks for every permission the app registration lists.
        resources=(endpoints.graph_resource,),
    )


class InvalidState(Exception):
    """The answer's state is not usable; ``consent`` is set when the portal signed it."""

    def __init__(self, reason: str, consent: ConsentRequest | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.consent = consent


def load_state(state: str, *, for_update: bool) -> tuple[ConsentRequest, dict[str, Any]]:
    """The link a state belongs to and the state's payload, if the state is current."""
    expired = False
    try:
        payload = signing.loads(state, salt=STATE_SALT, max_age=settings.CONSENT_STATE_MAX_AGE)
    except signing.SignatureExpired:
        # Ours, but too old: read it only to say on which link it was tried.
        payload, expired = signing.loads(state, salt=STATE_SALT), True
    except signing.BadSignature:
        raise InvalidState("bad signature") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("n"), str):
        raise InvalidState("malformed")
    request_id = payload.get("c")
    if not isinstance(request_id, int):
        raise InvalidState("malformed")
    queryset = ConsentRequest.objects.select_related("customer")
    if for_update:
        queryset = queryset.select_for_update()
    consent = queryset.filter(pk=request_id).first()
    if consent is None:
        raise InvalidState("unknown request")
    if expired:
        raise InvalidState("expired", consent)
    if not consent.state_hash or not secrets.compare_digest(
        consent.state_hash, _hash(payload["n"])
    ):
        raise InvalidState("not the current state of its request (used or replaced)", consent)
    if not consent.is_open:
        raise InvalidState("link closed", consent)
    return consent, payload
