"""Keep the log readable: a refused or unknown request is one line, not a traceback.

Django logs every 403 (`PermissionDenied`, which `require_roles` raises for a user
without the role) and every 404 with the exception's traceback. Those are answers the
portal meant to give, not faults, so the record keeps its message ("Forbidden
(Permission denied): /audit/") and loses the traceback. A 500 keeps its traceback.
"""

from __future__ import annotations

import logging


class RefusalsInOneLine(logging.Filter):
    """Drops the traceback of `django.request` records about 4xx answers."""

    def filter(self, record: logging.LogRecord) -> bool:
        status = getattr(record, "status_code", None)
        if isinstance(status, int) and 400 <= status < 500:
            record.exc_info = None
            record.exc_text = None
        return True
