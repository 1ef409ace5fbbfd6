"""Hunts: one KQL query sent to many customers, each customer's answer a row of its own.

A `Hunt` is what an analyst asked (the query, the time span, when, by whom); each
customer it went to is a `HuntTarget` that goes from queued to running to done or
failed, with the rows Microsoft returned (up to HUNT_MAX_ROWS per customer) or the
failure in words. `finished_seq` numbers the targets in the order they finished, so the
page can ask "what finished after the 12th?" and never miss or repeat one. A
`SavedQuery` is a query kept under a name, the analyst's own or shared with everyone.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from tenants.models import Customer


class Timespan(models.TextChoices):
    DAY = "P1D", "Last 24 hours"
    WEEK = "P7D", "Last 7 days"
    MONTH = "P30D", "Last 30 days"


class Hunt(models.Model):
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    query = models.TextField()
    timespan = models.CharField(max_length=8, choices=Timespan, default=Timespan.WEEK)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    #: How many targets have finished; the last one's `finished_seq`.
    finished_count = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"Hunt {self.pk} by {self.created_by_id}"


class TargetStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class HuntTarget(models.Model):
    hunt = models.ForeignKey(Hunt, on_delete=models.CASCADE, related_name="targets")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    status = models.CharField(max_length=8, choices=TargetStatus, default=TargetStatus.QUEUED)
    columns = models.JSONField(default=list, blank=True)
    rows = models.JSONField(default=list, blank=True)
    #: Rows Microsoft returned (more than `rows` holds when the answer was cut).
    row_count = models.PositiveIntegerField(default=0)
    error_code = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    finished_seq = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["hunt", "customer"], name="hunt_target_unique")
        ]
        indexes = [models.Index(fields=["hunt", "finished_seq"], name="hunt_target_finished")]

    def __str__(self) -> str:
        return f"{self.hunt_id} → {self.customer_id}: {self.status}"


class SavedQuery(models.Model):
    name = models.CharField(max_length=100)
    query = models.TextField()
    timespan = models.CharField(max_length=8, choices=Timespan, default=Timespan.WEEK)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="saved_hunts"
    )
    shared = models.BooleanField(default=False, help_text="Every analyst can run it.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="saved_query_unique_name")
        ]

    def __str__(self) -> str:
        return self.name
