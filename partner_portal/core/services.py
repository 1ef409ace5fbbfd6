"""Writes for portal-wide records."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from partner_portal.core.models import WorkerHeartbeat


@transaction.atomic
def heartbeat_record(*, worker: str) -> WorkerHeartbeat:
    """Note that `worker` is alive now."""
    beat, created = WorkerHeartbeat.objects.get_or_create(
        worker=worker, defaults={"last_seen": timezone.now(), "beats": 1}
    )
    if not created:
        beat.last_seen = timezone.now()
        beat.beats = F("beats") + 1
        beat.save(update_fields=["last_seen", "beats"])
        beat.refresh_from_db(fields=["beats"])
    return beat
