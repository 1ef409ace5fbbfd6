"""Portal-wide records."""

from django.conf import settings
from django.db import models


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker ran the heartbeat task, shown by /healthz."""

    worker = models.CharField(max_length=255, unique=True)
    last_seen = models.DateTimeField()
    beats = models.PositiveBigIntegerField(default=0)

    class Meta:
        ordering = ["-last_seen"]

    def __str__(self) -> str:
        return f"{self.worker} @ {self.last_seen:%Y-%m-%d %H:%M:%S}"


class PageVisit(models.Model):
    """When a person last looked at a page, for "new since your last visit".

    Kept in the database rather than the session: a session ends at sign-out and is
    per browser, while "since your last visit" means since yesterday's sign-in, on
    any device. `previous_visit_at` is the end of the visit before the current one;
    views within `VISIT_GAP` of each other count as one visit, so reloading the page
    does not wipe what was new.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    page = models.CharField(max_length=64)
    last_seen_at = models.DateTimeField()
    previous_visit_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "page"], name="page_visit_one_per_user_page")
        ]

    def __str__(self) -> str:
        return f"{self.page} @ {self.last_seen_at:%Y-%m-%d %H:%M:%S}"


class Preference(models.Model):
    """A person's own settings for how the portal shows things to them.

    `time_zone` is an IANA name ("Europe/Amsterdam"); empty means the portal's zone
    (`TIME_ZONE`, UTC by default). Times are stored in UTC whatever is chosen here.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="preference"
    )
    time_zone = models.CharField(max_length=64, blank=True)

    def __str__(self) -> str:
        return f"{self.user} in {self.time_zone or 'the portal zone'}"
