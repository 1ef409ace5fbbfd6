"""The indicator index: what alerts can be tied together by, and where each was seen.

An `Indicator` is one normalised observable (a file hash, a public IP address, a URL, a
domain, an e-mail sender, an OAuth application, or a MITRE technique as one detector
reports it); a `Sighting` says that an alert of a customer carries it. The index is
written in the transaction that stores the alerts (`index.py`), so it never lags behind
or runs ahead of them, and a deleted alert takes its sightings with it.
"""

from __future__ import annotations

from django.db import models

from partner_portal.alerts.models import Alert
from tenants.models import Customer


class IndicatorKind(models.TextChoices):
    SHA256 = "sha256", "File SHA-256"
    SHA1 = "sha1", "File SHA-1"
    IP = "ip", "IP address"
    URL = "url", "URL"
    DOMAIN = "domain", "Domain"
    SENDER = "sender", "E-mail sender"
    OAUTH_APP = "oauth_app_id", "OAuth application"
    TECHNIQUE = "technique", "MITRE technique and detector"


class Indicator(models.Model):
    kind = models.CharField(max_length=16, choices=IndicatorKind)
    #: The normalised value (URLs as sent, the rest in lower case); long URLs are cut
    #: for display, the digest keeps them apart.
    value = models.CharField(max_length=1000)
    #: SHA-256 of "kind:value" (the full value): the unique key, short enough to index.
    digest = models.CharField(max_length=64, unique=True)
    #: When the portal first indexed it. First and last seen come from the sightings:
    #: the row is never updated, so storing pages of many customers at once never
    #: waits on (or deadlocks over) a popular indicator.
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.value}"


class Sighting(models.Model):
    # Written by the thousand in the sync's transaction, so the database checks no
    # foreign key per row (the index writes only existing rows' keys); deleting an
    # alert, customer or indicator still deletes its sightings (Django cascades).
    indicator = models.ForeignKey(
        Indicator, on_delete=models.CASCADE, related_name="sightings", db_constraint=False
    )
    alert = models.ForeignKey(
        Alert, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    #: When the alert was raised (Microsoft's creation time, else when it was stored).
    seen_at = models.DateTimeField()

    class Meta:
        constraints = [
            # Also the index of an alert's sightings (its page, its deletion).
            models.UniqueConstraint(fields=["alert", "indicator"], name="sighting_unique")
        ]
        indexes = [
            # "Also seen at N customers since …" and the campaigns' window, per indicator.
            models.Index(fields=["indicator", "seen_at", "customer"], name="sighting_recent"),
            models.Index(fields=["seen_at", "indicator"], name="sighting_window"),
        ]

    def __str__(self) -> str:
        return f"{self.indicator} in alert {self.alert_id}"


class PendingIndex(models.Model):
    """A stored page of alerts waiting to be indexed (written in the page's transaction,
    deleted in the one that indexes it)."""

    customer_id = models.BigIntegerField()
    alert_ids = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{len(self.alert_ids)} alerts of customer {self.customer_id}"
