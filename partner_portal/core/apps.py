from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "partner_portal.core"
    label = "core"
    verbose_name = "Portal"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed
        from django.db.backends.signals import connection_created

        # Make this project's Celery app the current one, so that shared tasks queued
        # from web requests go to the configured broker.
        from partner_portal.celery import app  # noqa: F401
        from partner_portal.core import (
            checks,  # noqa: F401  (registers the checks)
            second_factor,
        )
        from partner_portal.core.data_files import protect_sqlite_file
        from partner_portal.core.preferences import remember_zone
        from partner_portal.core.signin_throttle import on_logged_in, on_login_failed

        connection_created.connect(protect_sqlite_file, dispatch_uid="portal-private-sqlite")
        # Failed sign-ins are counted, successful ones forgive (core/signin_throttle.py).
        user_login_failed.connect(on_login_failed, dispatch_uid="portal-signin-throttle")
        user_logged_in.connect(on_logged_in, dispatch_uid="portal-signin-throttle")
        # Whether the new session owes a second-factor code (core/second_factor.py).
        user_logged_in.connect(second_factor.on_logged_in, dispatch_uid="portal-second-factor")
        # The person's time zone, kept in the new session (core/preferences.py).
        user_logged_in.connect(remember_zone, dispatch_uid="portal-time-zone")
