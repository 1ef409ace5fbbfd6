from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    name = "partner_portal.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from partner_portal.alerts.sync.stored import register_store_listener
        from partner_portal.correlation.campaign_panels import register_campaign_panel
        from partner_portal.correlation.indexed import register_index_listener
        from partner_portal.notifications import campaign_events
        from partner_portal.notifications.campaign_actions import (
            SUPPRESS_PANEL,
            suppress_campaign_panel,
        )
        from partner_portal.notifications.outbox import LISTENER, record_stored
        from partner_portal.notifications.senders import hide_request_paths_in_logs

        # The sync (alerts) tells us what it stored without importing us.
        register_store_listener(LISTENER, record_stored)
        # The index (correlation) tells us where indicators turned up, for campaign events.
        register_index_listener(campaign_events.LISTENER, campaign_events.record_indexed)
        # A campaign's page (correlation) offers a rule made from it.
        register_campaign_panel(SUPPRESS_PANEL, suppress_campaign_panel)
        hide_request_paths_in_logs()
