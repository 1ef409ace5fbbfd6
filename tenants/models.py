"""Customers, their consent requests, and the audit trail of everything done to them."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from partner_portal.defender import GRAPH_ALERT_READ, GRAPH_ALERT_READWRITE

#: The Graph roles that put a customer on Microsoft Graph (see `roles_are_on_graph`).
GRAPH_ALERT_ROLES = (GRAPH_ALERT_READ, GRAPH_ALERT_READWRITE)


def roles_are_on_graph(roles: Iterable[str]) -> bool:
    """Whether a consent holding `roles` is synced through Microsoft Graph.

    The one rule for the switch from the Defender for Endpoint and XDR APIs (gone on
    1 February 2027): a customer whose verified token for Graph carries a Graph alert
    role reads alerts and incidents from Graph; any other keeps the legacy APIs until
    its admin consents again.
    """
    return any(role in GRAPH_ALERT_ROLES for role in roles)


class CustomerStatus(models.TextChoices):
    PENDING_CONSENT = "pending_consent", "Pending consent"
    VERIFYING = "verifying", "Verifying"
    ACTIVE = "active", "Active"
    MISSING_PERMISSIONS = "missing_permissions", "Missing permissions"
    CONSENT_REVOKED = "consent_revoked", "Consent revoked"
    ERROR = "error", "Error"
    OFFBOARDED = "offboarded", "Offboarded"


class CloudChoice(models.TextChoices):
    COMMERCIAL = "commercial", "Commercial"
    GCC = "gcc", "US Government (GCC)"
    GCC_HIGH = "gcc_high", "US Government (GCC High)"
    DOD = "dod", "US Government (DoD)"


class RegionChoice(models.TextChoices):
    GLOBAL = "", "Global (nearest)"
    US = "us", "United States"
    EU = "eu", "Europe"
    UK = "uk", "United Kingdom"
    AU = "au", "Australia"
    SWA = "swa", "Switzerland"
    INA = "ina", "India"


class ConsentFlow(models.TextChoices):
    V2 = "v2", "Admin consent (recommended)"
    V1 = "v1", "Defender partner link"


def time_zone_names() -> list[str]:
    """The IANA zone names this machine knows, sorted."""
    return sorted(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"“{value}” is not a known time zone (e.g. Europe/Paris).")


class Customer(models.Model):
    """A customer organisation whose Defender data the partner collects."""

    display_name = models.CharField(max_length=200)
    contact_name = models.CharField(max_length=200, blank=True)
    contact_email = models.EmailField(blank=True)
    tenant_id = models.CharField(
        "tenant ID",
        max_length=36,
        unique=True,
        null=True,
        blank=True,
        help_text="The customer's Entra ID tenant, learned from consent and then verified.",
    )
    expected_tenant = models.CharField(
        "expected tenant ID or domain",
        max_length=255,
        blank=True,
        help_text=(
            "Optional. A tenant ID, or a domain the portal looks up at Microsoft when staff "
            "save it; consent from any other tenant is refused."
        ),
    )
    expected_tenant_id = models.CharField(
        "expected tenant's ID",
        max_length=36,
        blank=True,
        help_text=(
            "The tenant ID the expected tenant stands for (a domain's as Microsoft gave it); "
            "the consent callback enforces it. Empty when no tenant is expected, or for a "
            "domain saved before domains were looked up."
        ),
    )
    cloud = models.CharField(max_length=16, choices=CloudChoice, default=CloudChoice.COMMERCIAL)
    api_region = models.CharField(max_length=8, choices=RegionChoice, blank=True, default="")
    collect_alerts = models.BooleanField(default=True)
    collect_incidents = models.BooleanField(default=True)
    status = models.CharField(
        max_length=24, choices=CustomerStatus, default=CustomerStatus.PENDING_CONSENT, db_index=True
    )
    granted_roles = models.JSONField(default=list, blank=True)
    missing_roles = models.JSONField(default=list, blank=True)
    last_verified_at = models.DateTimeField(null=True, blank=True)
    last_error_code = models.CharField(max_length=64, blank=True)
    last_error_message = models.TextField(blank=True)
    sync_interval_seconds = models.PositiveIntegerField(default=60)
    #: The customer's IANA time zone: SLA business hours are counted in it.
    time_zone = models.CharField(
        max_length=64, default="UTC", validators=[validate_time_zone],
        help_text="SLA business hours are counted in this zone.",
    )  # fmt: skip
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    offboarded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["display_name"]
        indexes = [models.Index(fields=["display_name"])]

    def __str__(self) -> str:
        return self.display_name

    @property
    def expected_tenant_unchecked(self) -> bool:
        """A domain that was never looked up: consent from any tenant is still accepted."""
        return bool(self.expected_tenant) and not self.expected_tenant_id

    @property
    def on_graph(self) -> bool:
        """Synced through Microsoft Graph (its granted roles include a Graph alert role)."""
        return roles_are_on_graph(self.granted_roles or ())

    @property
    def on_legacy_api(self) -> bool:
        """Connected and verified, but still read through the Defender for Endpoint and
        XDR APIs, which Microsoft stops on 1 February 2027: its admin must consent again."""
        return (
            bool(self.tenant_id)
            and self.last_verified_at is not None
            and self.status != CustomerStatus.OFFBOARDED
            and not self.on_graph
        )

    @property
    def needs_reconsent(self) -> bool:
        return self.status in (CustomerStatus.MISSING_PERMISSIONS, CustomerStatus.CONSENT_REVOKED)


class ConsentOutcome(models.TextChoices):
    PENDING = "pending", "Waiting for the customer"
    GRANTED = "granted", "Consent granted"
    DENIED = "denied", "Declined or failed at Microsoft"
    SUPERSEDED = "superseded", "Replaced by a newer link"


class ConsentRequest(models.Model):
    """One consent link sent to a customer's admin.

    `public_id` names the landing page. Each click on its button mints a fresh `state`
    (signed, expiring), of which only a hash is kept; the callback consumes it, so a
    state works once.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    public_id = models.CharField(max_length=64, unique=True)
    flow = models.CharField(max_length=2, choices=ConsentFlow, default=ConsentFlow.V2)
    state_hash = models.CharField(max_length=64, blank=True, db_index=True)
    state_issued_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(
        max_length=16, choices=ConsentOutcome, default=ConsentOutcome.PENDING
    )
    error_code = models.CharField(max_length=64, blank=True)
    error_description = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Consent link for {self.customer} ({self.get_outcome_display()})"

    @property
    def is_open(self) -> bool:
        """Whether the landing page still offers the button to Microsoft."""
        return (
            self.outcome in (ConsentOutcome.PENDING, ConsentOutcome.DENIED)
            and self.expires_at > timezone.now()
        )


class AuditEvent(models.Model):
    """Who did what to which customer, and when. Never edited, never deleted with a customer."""

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(
        max_length=150, help_text="The user name, 'customer admin', or 'system'."
    )
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="events"
    )
    customer_name = models.CharField(max_length=200, blank=True)
    summary = models.CharField(max_length=500, blank=True)
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["customer", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


class AnalystScope(models.Model):
    """Which customers an analyst may see: granted to one user or to a group.

    A row grants either one customer or, with `all_customers`, every customer (an
    explicit grant; nobody sees everything by default except portal admins).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE,
        related_name="customer_scopes",
    )  # fmt: skip
    group = models.ForeignKey(
        "auth.Group", null=True, blank=True, on_delete=models.CASCADE,
        related_name="customer_scopes",
    )  # fmt: skip
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.CASCADE, related_name="scopes"
    )
    all_customers = models.BooleanField(default=False)
    granted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    granted_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False) & models.Q(group__isnull=True))
                | (models.Q(user__isnull=True) & models.Q(group__isnull=False)),
                name="scope_for_user_or_group",
            ),
            models.CheckConstraint(
                condition=(models.Q(customer__isnull=False) & models.Q(all_customers=False))
                | (models.Q(customer__isnull=True) & models.Q(all_customers=True)),
                name="scope_one_customer_or_all",
            ),
            models.UniqueConstraint(
                fields=["user", "customer"], name="scope_unique_user_customer",
                condition=models.Q(user__isnull=False, customer__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["group", "customer"], name="scope_unique_group_customer",
                condition=models.Q(group__isnull=False, customer__isnull=False),
            ),
        ]  # fmt: skip

    def __str__(self) -> str:
        who = self.user or self.group
        what = "all customers" if self.all_customers else str(self.customer)
        return f"{who} → {what}"


class StaffIdentity(models.Model):
    """The Microsoft Entra account a portal user signs in with (staff sign-in).

    Keyed on the partner tenant and the account's object ID, which never change, and
    never on a name or an e-mail address, which can be reused by another person.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_identity"
    )
    tenant_id = models.CharField(max_length=36)
    object_id = models.CharField(max_length=36)
    created_at = models.DateTimeField(default=timezone.now)
    last_sign_in = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant_id", "object_id"], name="one_user_per_account")
        ]

    def __str__(self) -> str:
        return f"{self.object_id}@{self.tenant_id}"
