"""Defender alerts and incidents as the portal mirrors them, and the record of each sync."""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone

from partner_portal.defender import AlertSeverity
from tenants.models import Customer

# A severity's place in the "severity, then newest" order: the protocol core lists
# severities lowest first, so the rank is the position ("UnSpecified" 0 ... "High" 4).
SEVERITY_RANK = {severity.value: rank for rank, severity in enumerate(AlertSeverity)}


class Source(models.TextChoices):
    ALERTS = "alerts", "Alerts"
    INCIDENTS = "incidents", "Incidents"
    GRAPH_ALERTS = "graph_alerts", "Alerts (Microsoft Graph)"
    GRAPH_INCIDENTS = "graph_incidents", "Incidents (Microsoft Graph)"


class Alert(models.Model):
    """One Defender alert of one customer, from the Defender for Endpoint API or, for a
    customer on Microsoft Graph, from Graph's alerts_v2 (every Defender product); `raw` is
    exactly what the API last sent, evidence included. An alert both APIs serve has the
    same ID in each, so the row stays the same across a customer's switch to Graph.
    Enum columns use the portal's vocabularies (`partner_portal.defender.records`)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="alerts")
    alert_id = models.CharField(max_length=128)
    incident_id = models.BigIntegerField(null=True, blank=True)
    investigation_id = models.BigIntegerField(null=True, blank=True)
    title = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    severity = models.CharField(max_length=16)
    severity_rank = models.PositiveSmallIntegerField(default=0)
    status = models.CharField(max_length=16)
    classification = models.CharField(max_length=48, blank=True)
    determination = models.CharField(max_length=64, blank=True)
    investigation_state = models.CharField(max_length=64, blank=True)
    category = models.CharField(max_length=64, blank=True)
    detection_source = models.CharField(max_length=64, blank=True)
    threat_family_name = models.CharField(max_length=200, blank=True)
    assigned_to = models.CharField(max_length=255, blank=True)
    machine_id = models.CharField(max_length=64, blank=True)
    computer_dns_name = models.CharField(max_length=255, blank=True)
    related_user = models.CharField(max_length=255, blank=True)
    mitre_techniques = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    first_event_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    last_updated_at = models.DateTimeField(null=True, blank=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    has_evidence = models.BooleanField(default=False)
    raw = models.JSONField(default=dict)
    synced_at = models.DateTimeField(default=timezone.now)
    #: The Defender product that raised it (Graph's `serviceSource`, e.g.
    #: "microsoftDefenderForOffice365"); empty for rows stored before it was kept.
    service_source = models.CharField(max_length=64, blank=True, default="")
    #: Deep links Graph gives (the Defender portal's pages of the alert and its incident).
    alert_web_url = models.URLField(max_length=1000, blank=True, default="")
    incident_web_url = models.URLField(max_length=1000, blank=True, default="")
    system_tags = models.JSONField(default=list, blank=True)
    #: Last written from Microsoft Graph (False: from the Defender for Endpoint API).
    from_graph = models.BooleanField(default=False)
    #: Set when a suppression rule with the "hide" action caught it (written by the
    #: notifications app, which owns the rules): the queue, its counts and the overview
    #: leave it out unless the filter asks to show hidden alerts. The rule's number and
    #: words are kept here so that the list can name it without reading another app.
    hidden_by_rule = models.PositiveIntegerField(null=True, blank=True)
    hidden_because = models.CharField(max_length=500, blank=True, default="", db_default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "alert_id"], name="alert_unique_per_customer"
            )
        ]
        indexes = [
            # Newest first, overall and per customer; the id breaks ties for keyset paging.
            models.Index(fields=["-created_at", "-id"], name="alert_newest"),
            models.Index(fields=["customer", "-created_at", "-id"], name="alert_customer_newest"),
            models.Index(fields=["severity", "-created_at", "-id"], name="alert_severity_newest"),
            models.Index(fields=["status", "-created_at", "-id"], name="alert_status_newest"),
            # The console's "severity, then newest" order, walked with a keyset cursor.
            models.Index(fields=["-severity_rank", "-created_at", "-id"], name="alert_rank_newest"),
            models.Index(fields=["customer", "incident_id"], name="alert_incident"),
            models.Index(fields=["customer", "machine_id"], name="alert_machine"),
            models.Index(fields=["customer", "-last_updated_at"], name="alert_customer_updated"),
            # The live-update mark: the newest alert id of each customer in a scope, one
            # seek per customer.
            models.Index(fields=["customer", "-id"], name="alert_customer_top_id"),
            # The list's counts by severity and status: on PostgreSQL an index-only scan
            # for the common filters (severity, status, time, customer, category).
            models.Index(
                fields=["severity", "status", "created_at"],
                include=["customer", "category", "hidden_by_rule"],
                name="alert_counts",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.alert_id} {self.title}"


class Incident(models.Model):
    """One Defender incident of one customer, from the Defender XDR API or, for a customer
    on Microsoft Graph, from Graph (both number an incident alike); its alerts are linked
    by `incident_id`. `raw` is what the API last sent, without expanded alerts."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="incidents")
    incident_id = models.BigIntegerField()
    name = models.CharField(max_length=500, blank=True)
    status = models.CharField(max_length=16)
    severity = models.CharField(max_length=16)
    severity_rank = models.PositiveSmallIntegerField(default=0)
    classification = models.CharField(max_length=48, blank=True)
    determination = models.CharField(max_length=64, blank=True)
    assigned_to = models.CharField(max_length=255, blank=True)
    tags = models.JSONField(default=list, blank=True)
    alert_ids = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(null=True, blank=True)
    last_updated_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField(default=dict)
    synced_at = models.DateTimeField(default=timezone.now)
    #: Graph's tags: those people set (`customTags`, also in `tags`) and Microsoft's own.
    custom_tags = models.JSONField(default=list, blank=True)
    system_tags = models.JSONField(default=list, blank=True)
    #: The incident this one was merged into (status "Redirected"); it leaves the queue.
    redirect_incident_id = models.BigIntegerField(null=True, blank=True)
    incident_web_url = models.URLField(max_length=1000, blank=True, default="")
    #: Last written from Microsoft Graph (False: from the Defender XDR API).
    from_graph = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "incident_id"], name="incident_unique_per_customer"
            )
        ]
        indexes = [
            # The queue's pages (`reads.incident_queue`), newest first overall and per
            # customer (an analyst's scope), by severity and by status; the id breaks ties
            # for keyset paging.
            models.Index(fields=["-created_at", "-id"], name="incident_newest"),
            models.Index(
                fields=["customer", "-created_at", "-id"], name="incident_customer_newest"
            ),
            models.Index(
                fields=["-severity_rank", "-created_at", "-id"], name="incident_rank_newest"
            ),
            models.Index(fields=["status", "-created_at", "-id"], name="incident_status_newest"),
            # The queue's counts by severity and status: an index-only scan on PostgreSQL
            # for the common filters (time, customer; merged incidents left out).
            models.Index(
                fields=["severity", "status", "created_at"],
                include=["customer", "redirect_incident_id"],
                name="incident_counts",
            ),
            # Live updates: the incidents written since a mark.
            models.Index(fields=["synced_at"], name="incident_synced"),
        ]

    def __str__(self) -> str:
        return f"{self.incident_id} {self.name}"


class SyncStatus(models.TextChoices):
    RUNNING = "running", "Running"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed"


class SyncRun(models.Model):
    """One pass of one customer's source: what it fetched, wrote and met on the way."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sync_runs")
    source = models.CharField(max_length=16, choices=Source)
    backfill = models.BooleanField(default=False)
    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=SyncStatus, default=SyncStatus.RUNNING)
    since = models.DateTimeField(null=True, blank=True)
    pages = models.PositiveIntegerField(default=0)
    fetched = models.PositiveIntegerField(default=0)
    created = models.PositiveIntegerField(default=0)
    updated = models.PositiveIntegerField(default=0)
    api_calls = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    throttled_waits = models.PositiveIntegerField(default=0)
    throttled_seconds = models.FloatField(default=0)
    token_source = models.CharField(max_length=32, blank=True)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at"]
        indexes = [
            models.Index(fields=["customer", "source", "-started_at"], name="syncrun_recent")
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.source} {self.status} @ {self.started_at:%H:%M:%S}"

    @property
    def duration_seconds(self) -> float | None:
        if not self.finished_at:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class SyncState(models.Model):
    """Where one customer's source stands: the watermark, when it is next due, and what
    its passes found.

    A pass that found nothing new and did not fail (an idle pass, most of a quiet
    customer's day) writes no `SyncRun`: it is counted here instead. `last_checked_at` is
    when the latest pass of any kind ended, `idle_passes` how many idle ones there have
    been since the last pass that left a row, and the API calls of idle passes are kept
    per clock hour (this hour's and the one before) so the hourly budget stays true.
    """

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="sync_states")
    source = models.CharField(max_length=16, choices=Source)
    watermark = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Every change before this instant (less the overlap) is committed.",
    )
    next_due_at = models.DateTimeField(default=timezone.now, db_index=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_run = models.ForeignKey(
        SyncRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    idle_passes = models.PositiveIntegerField(default=0)
    idle_calls_hour = models.DateTimeField(null=True, blank=True)
    idle_calls = models.PositiveIntegerField(default=0)
    idle_calls_hour_before = models.PositiveIntegerField(default=0)
    #: Staff asked to import what changed since this moment (older than the first
    #: backfill reached); the next pass reads from here, then clears it.
    history_since = models.DateTimeField(null=True, blank=True)
    #: When the dispatcher queued this source's pass; cleared when a pass starts. While it
    #: is set the pass waits in the queue and is not queued again.
    queued_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "source"], name="syncstate_unique")
        ]

    def __str__(self) -> str:
        return f"{self.customer} {self.source} @ {self.watermark}"

    @property
    def last_pass_idle(self) -> bool:
        """Whether the latest pass was an idle one (nothing new, no row of its own)."""
        if self.last_checked_at is None or not self.idle_passes:
            return False
        return self.last_run is None or (
            self.last_run.finished_at is not None
            and self.last_checked_at > self.last_run.finished_at
        )

    @property
    def last_outcome(self) -> str:
        """How the latest pass ended ("succeeded", "failed", "running"; "" before any)."""
        if self.last_pass_idle:
            return SyncStatus.SUCCEEDED
        return self.last_run.status if self.last_run else ""

    def idle_calls_last_hour(self, now: datetime) -> int:
        """The API calls idle passes made in the hour before `now`: all of this clock
        hour's and, of the hour before, the share that falls in the last sixty minutes
        (assuming its calls were spread evenly, as a pass a minute spreads them)."""
        if self.idle_calls_hour is None:
            return 0
        hour = now.replace(minute=0, second=0, microsecond=0)
        if self.idle_calls_hour == hour:
            current, before = self.idle_calls, self.idle_calls_hour_before
        elif self.idle_calls_hour == hour - timedelta(hours=1):
            current, before = 0, self.idle_calls
        else:
            return 0
        overlap = 1 - (now - hour).total_seconds() / 3600
        return current + math.ceil(before * overlap)


class SavedView(models.Model):
    """A named filter of the alert list: the canonical query string of its non-empty
    filters. Personal, or shared with every analyst; either way the filter is read
    through the viewer's own scope when opened (`saved_views`)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_views"
    )
    name = models.CharField(max_length=80)
    query = models.CharField(max_length=2000, blank=True)
    shared = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name", "pk"]
        indexes = [models.Index(fields=["shared", "name"], name="savedview_shared")]

    def __str__(self) -> str:
        return self.name
