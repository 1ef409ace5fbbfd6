"""The index's Celery task: thin, and safe to run any number of times side by side."""

from __future__ import annotations

from celery import shared_task

from partner_portal.correlation import index


@shared_task(name="correlation.index_pending", time_limit=600, soft_time_limit=570)
def index_pending() -> int:
    """Index the stored pages waiting for it (after each page's commit, and every minute
    for any whose task was lost)."""
    return index.index_pending()
