from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "partner_portal.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from partner_portal.alerts.sync.stored import register_store_listener
        from partner_portal.notifications import retention
        from partner_portal.notifications.outbox import LISTENER, record_stored
        from partner_portal.notifications.senders import hide_request_paths_in_logs

        # The sync (alerts) tells us what it stored without importing us.
        register_store_listener(LISTENER, record_stored)
        hide_request_paths_in_logs()
        # The nightly retention (alerts) deletes the old delivery log without importing us.
        retention.register()
