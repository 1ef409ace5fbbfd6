"""Partner Portal: one place for an MSSP to watch the Defender alerts of all its customers."""

from partner_portal.celery import app as celery_app

__all__ = ["celery_app"]
