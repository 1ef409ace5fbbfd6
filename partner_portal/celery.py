"""The Celery application: configured from Django settings (CELERY_ namespace).

A worker keeps its database connections between tasks, as the web keeps them between
requests: Django's own rules decide when one is closed (older than CONN_MAX_AGE, or
broken), checked before and after every task. Celery's Django support would otherwise
close every connection around every task, and a sync pass of a few milliseconds paid for
a new PostgreSQL connection (a backend process, authentication, the session's settings)
each time; CELERY_DB_REUSE_MAX in the settings keeps it from doing so.
"""

import os

from celery import Celery, Task, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "partner_portal.settings")

app = Celery("partner_portal")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.task_prerun.connect
@signals.task_postrun.connect
def _close_old_connections(sender: Task | None = None, **_: object) -> None:
    """Close this thread's connections that are too old or broken, as Django does at the
    start and end of a request (a thread of a threads-pool worker has its own). Not for a
    task run eagerly, inside its caller's transaction."""
    if sender is not None and getattr(sender.request, "is_eager", False):
        return
    from django.db import close_old_connections

    close_old_connections()
