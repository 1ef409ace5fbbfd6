from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "partner_portal.core"
    label = "core"
    verbose_name = "Portal"

    def ready(self) -> None:
        # Make this project's Celery app the current one, so that shared tasks queued
        # from web requests go to the configured broker.
        from django.db.backends.signals import connection_created

        from partner_portal.celery import app  # noqa: F401
        from partner_portal.core import checks  # noqa: F401  (registers the checks)
        from partner_portal.core.data_files import protect_sqlite_file

        connection_created.connect(protect_sqlite_file, dispatch_uid="portal-private-sqlite")
