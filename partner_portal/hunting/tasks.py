"""The hunt's Celery task: thin, by ID."""

from __future__ import annotations

from celery import shared_task

from partner_portal.hunting import fanout


@shared_task(name="hunting.run_hunt", acks_late=True, time_limit=900, soft_time_limit=870)
def run_hunt(hunt_id: int) -> None:
    """Ask every customer of the hunt; a redelivered task asks only those still queued."""
    fanout.run_hunt(hunt_id=hunt_id)
