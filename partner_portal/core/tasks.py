"""Portal-wide Celery tasks."""

from celery import Task, shared_task

from partner_portal.core.services import heartbeat_record


@shared_task(name="portal.core.record_heartbeat", bind=True, time_limit=30, soft_time_limit=20)
def record_heartbeat(self: Task) -> int:
    """Prove the path broker → worker → database works; /healthz shows the result."""
    worker = self.request.hostname or "unknown"
    return heartbeat_record(worker=worker).beats
