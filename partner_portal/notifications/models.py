"""Notifications: where they go (channels), which alerts go where (policies, customer
tags), the outbox of what is to be sent or was sent (notifications and attempts), and
what is kept quiet (suppression rules and the alerts they caught)."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from partner_portal.core.sealed import SealedTextField, could_not_open
from tenants.models import Customer


class CustomerTag(models.Model):
    """A label staff give customers ("Gold", "EU", "24x7"); policies match on it, so a
    customer tagged later is covered by every policy naming the tag."""

    name = models.CharField(max_length=40, unique=True)
    customers = models.ManyToManyField(Customer, related_name="notification_tags", blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class ChannelKind(models.TextChoices):
    EMAIL = "email", "E-mail"
    TEAMS = "teams", "Microsoft Teams"
    SLACK = "slack", "Slack"
    WEBHOOK = "webhook", "Webhook (signed JSON)"


class Channel(models.Model):
    """One destination. `url` (Teams, Slack, webhook) and `signing_secret` (webhook) are
    secrets: they are written by the form and read by the sender, never printed, and
    stored sealed (`core.sealed`): the database holds only their encrypted tokens."""

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=16, choices=ChannelKind)
    enabled = models.BooleanField(default=True)
    #: E-mail: the recipients, comma-separated (addresses are not secret).
    recipients = models.CharField(max_length=1000, blank=True)
    url = SealedTextField(blank=True)
    signing_secret = SealedTextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def unopened_secrets(self) -> str:
        """What of this channel was sealed with a key the portal no longer has, in words
        ("the URL and the signing secret"); "" when everything opens."""
        names = [
            words
            for name, words in (("url", "the URL"), ("signing_secret", "the signing secret"))
            if could_not_open(getattr(self, name))
        ]
        return " and ".join(names)


class GroupBy(models.TextChoices):
    ALERT = "alert", "Each alert"
    INCIDENT = "incident", "Incident (alerts of one incident together)"
    CUSTOMER = "customer", "Customer (a customer's alerts together)"


#: The group key of a policy that groups by customer (a notification names its customer).
CUSTOMER_GROUP_KEY = "customer"


class Policy(models.Model):
    """One routing rule: which alerts (matchers; an empty matcher matches everything)
    go to which channels, and how they are grouped. Policies are tried in `position`
    order; the first that matches decides, unless it says to go on."""

    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    enabled = models.BooleanField(default=True)
    customers = models.ManyToManyField(Customer, related_name="+", blank=True)
    tags = models.ManyToManyField(CustomerTag, related_name="policies", blank=True)
    severities = models.JSONField(default=list, blank=True)
    categories = models.JSONField(default=list, blank=True)
    mitre_techniques = models.JSONField(default=list, blank=True)
    title_contains = models.CharField(max_length=200, blank=True)
    #: Graph's serviceSource values (e.g. "microsoftDefenderForOffice365").
    products = models.JSONField(default=list, blank=True)
    continue_matching = models.BooleanField(default=False)
    #: Also tell of a new incident and of an incident's severity rising (`incident_events`).
    incident_events = models.BooleanField(default=False)
    #: Also tell of alerts nearing or breaching an SLA goal (`sla_events`).
    sla_events = models.BooleanField(default=False)
    #: Also tell of an indicator seen at two or more of the policy's customers, and of
    #: each further customer it reaches (`campaign_events`).
    campaign_events = models.BooleanField(default=False)
    channels = models.ManyToManyField(Channel, related_name="policies")
    group_by = models.CharField(max_length=16, choices=GroupBy, default=GroupBy.ALERT)
    group_wait_seconds = models.PositiveIntegerField(default=30)
    repeat_interval_seconds = models.PositiveIntegerField(default=4 * 3600)
    #: Weekly windows when notifications wait (see `mute.py`), as JSON objects.
    mute_windows = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name_plural = "policies"

    def __str__(self) -> str:
        return self.name


class NotificationStatus(models.TextChoices):
    PENDING = "pending", "Waiting to be sent"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Gave up"
    SUPPRESSED = "suppressed", "Not sent: its alerts were suppressed"


class Notification(models.Model):
    """One message to one channel: a row of the outbox, written in the transaction that
    stored its alerts. `dedup_key` (policy, channel, customer, alert or incident, round)
    is unique, so a re-sync, a retried task or a restart cannot make a second one."""

    dedup_key = models.CharField(max_length=255, unique=True)
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, related_name="notifications")
    policy = models.ForeignKey(Policy, on_delete=models.SET_NULL, null=True, blank=True)
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, null=True, blank=True)
    #: "alert:<Defender alert ID>", "incident:<ID>", "incident-change:<ID>", "customer",
    #: "sla:<stage>:<clock>:<alert>" or "campaign:<indicator ID>"; empty for a channel test.
    group_key = models.CharField(max_length=160, blank=True)
    round = models.PositiveIntegerField(default=1)
    #: Defender alert IDs of `customer`; for a campaign (no one customer), the portal's
    #: alert primary keys.
    alert_ids = models.JSONField(default=list, blank=True)
    is_test = models.BooleanField(default=False)
    status = models.CharField(
        max_length=16, choices=NotificationStatus, default=NotificationStatus.PENDING
    )
    not_before = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "not_before"]),
            models.Index(fields=["channel", "-created_at"]),
            models.Index(fields=["policy", "channel", "customer", "group_key"]),
        ]

    def __str__(self) -> str:
        return f"{self.dedup_key} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at sending a notification, and what came of it, in words."""

    notification = models.ForeignKey(
        Notification, on_delete=models.CASCADE, related_name="attempt_rows"
    )
    at = models.DateTimeField(default=timezone.now)
    succeeded = models.BooleanField(default=False)
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{'delivered' if self.succeeded else self.error_code} at {self.at}"


class SuppressionAction(models.TextChoices):
    MUTE = "mute", "Do not notify"
    RESOLVE = "resolve", "Do not notify, and resolve the alert in Defender"
    HIDE = "hide", "Do not notify, and hide the alert from the queue"


class SuppressionRule(models.Model):
    """A snooze: alerts it matches notify nobody until it expires. Its matchers are
    ANDed like a policy's, an empty one matching everything; it must expire (at most
    `NOTIFY_SUPPRESSION_MAX_DAYS` after it was saved) and say why it exists, so that no
    rule silences a customer for good. With the resolve action, each alert it catches is
    also resolved in Defender, with the classification given, in the owner's name; with
    the hide action, each alert it catches is left out of the queue (`Alert.hidden_by_rule`)."""

    reason = models.CharField(max_length=500)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    customers = models.ManyToManyField(Customer, related_name="+", blank=True)
    tags = models.ManyToManyField(CustomerTag, related_name="suppressions", blank=True)
    products = models.JSONField(default=list, blank=True)
    severities = models.JSONField(default=list, blank=True)
    title_contains = models.CharField(max_length=200, blank=True)
    categories = models.JSONField(default=list, blank=True)
    mitre_techniques = models.JSONField(default=list, blank=True)
    detectors = models.JSONField(default=list, blank=True)
    #: Evidence values, each list kept normalised (`notifications.evidence_values`): the
    #: alert matches when its evidence holds one of the values of every list given.
    file_hashes = models.JSONField(default=list, blank=True)
    devices = models.JSONField(default=list, blank=True)
    users = models.JSONField(default=list, blank=True)
    ip_addresses = models.JSONField(default=list, blank=True)
    urls = models.JSONField(default=list, blank=True)
    action = models.CharField(
        max_length=16, choices=SuppressionAction, default=SuppressionAction.MUTE
    )
    #: Also keep quiet the incident messages of incidents it covers (`incident_suppression`).
    incidents = models.BooleanField(default=False)
    classification = models.CharField(max_length=48, blank=True)
    determination = models.CharField(max_length=64, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-pk"]
        indexes = [models.Index(fields=["expires_at"])]

    def __str__(self) -> str:
        return self.reason

    def is_expired(self, now: datetime | None = None) -> bool:
        return self.expires_at <= (now or timezone.now())


class SuppressionHit(models.Model):
    """One alert a rule kept quiet: why the outbox sent nothing for it, and, for the
    resolve action, how resolving it in Defender went. Once per rule and alert, so a
    re-sync or a change to the alert counts once."""

    class Resolve(models.TextChoices):
        NONE = "", "Not asked"
        PENDING = "pending", "Waiting"
        DONE = "done", "Resolved in Defender"
        FAILED = "failed", "Not resolved"

    rule = models.ForeignKey(SuppressionRule, on_delete=models.CASCADE, related_name="hits")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    alert_id = models.CharField(max_length=128)
    title = models.CharField(max_length=500, blank=True)
    at = models.DateTimeField(default=timezone.now)
    resolve = models.CharField(max_length=16, choices=Resolve, blank=True, default="")
    resolve_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["rule", "customer", "alert_id"], name="suppression_hit_once"
            )
        ]
        indexes = [models.Index(fields=["customer", "alert_id"])]

    def __str__(self) -> str:
        return f"{self.alert_id} kept quiet by rule {self.rule_id}"


class SlaGoal(models.Model):
    """How fast alerts of one severity must be acknowledged and resolved, for customers
    carrying `tag` (or, without a tag, for every customer no tagged goal covers). A
    customer with several tagged goals for a severity is held to the strictest."""

    tag = models.ForeignKey(
        CustomerTag, on_delete=models.CASCADE, null=True, blank=True, related_name="sla_goals"
    )
    severity = models.CharField(max_length=16)
    acknowledge_minutes = models.PositiveIntegerField(null=True, blank=True)
    resolve_minutes = models.PositiveIntegerField(null=True, blank=True)
    #: Business hours: the weekdays (0 is Monday) when the clocks run, from
    #: `start_hour` to `end_hour` in the customer's time zone, except `holidays` (ISO
    #: dates). No weekdays: the clocks run round the clock.
    business_days = models.JSONField(default=list, blank=True)
    start_hour = models.PositiveSmallIntegerField(default=9)
    end_hour = models.PositiveSmallIntegerField(default=17)
    holidays = models.JSONField(default=list, blank=True)
    #: The share of a goal's time after which a warning is sent (None: no warning).
    warn_fraction = models.FloatField(null=True, blank=True)
    changed_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["tag__name", "severity"]
        constraints = [
            models.UniqueConstraint(fields=["tag", "severity"], name="sla_goal_per_tag_severity"),
            models.UniqueConstraint(
                fields=["severity"],
                condition=models.Q(tag__isnull=True),
                name="sla_goal_default_per_severity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tag or 'All customers'} {self.severity}"


class AlertAcknowledgement(models.Model):
    """When an alert was first seen acknowledged (assigned, or no longer New): Defender's
    last update time of the first stored version that showed it. The SLA's time to
    acknowledge ends here; Microsoft keeps no such history itself."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    alert_id = models.CharField(max_length=128)
    acknowledged_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "alert_id"], name="acknowledged_once")
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} acknowledged at {self.acknowledged_at}"


class SlaWatch(models.Model):
    """An open alert whose SLA clocks the warning sweep looks at: when it should look
    next (the earliest warning or due time still ahead; None when nothing is ahead).
    Written when a sync stores an open alert, removed when one is stored resolved."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    alert_id = models.CharField(max_length=128)
    next_check_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "alert_id"], name="sla_watch_once")
        ]
        indexes = [
            models.Index(
                fields=["next_check_at"],
                condition=models.Q(next_check_at__isnull=False),
                name="sla_watch_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} next checked at {self.next_check_at}"
