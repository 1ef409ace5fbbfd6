"""Settings for a worker that opens a new database connection for every task.

bench_pass_cost.py runs one worker on these beside one on the portal's own settings, to
measure what keeping a worker's connections between tasks saves: Celery's Django support
closes them around every task unless CELERY_DB_REUSE_MAX is set, which the portal's
settings do.
"""

from partner_portal.settings import *  # noqa: F403

CELERY_DB_REUSE_MAX = None
