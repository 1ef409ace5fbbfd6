from django.apps import AppConfig


class CorrelationConfig(AppConfig):
    name = "partner_portal.correlation"
    label = "correlation"
    verbose_name = "Indicators across customers"

    def ready(self) -> None:
        from partner_portal.alerts.detail_panels import (
            register_alert_panel,
            register_incident_panel,
        )
        from partner_portal.alerts.sync.stored import register_store_listener
        from partner_portal.correlation.index import LISTENER, index_stored
        from partner_portal.correlation.panels import (
            INDICATORS_PANEL,
            incident_indicators_panel,
            indicators_panel,
        )

        # The sync (alerts) tells us what it stored, and the alert and incident pages
        # show what we know, without importing us.
        register_store_listener(LISTENER, index_stored)
        register_alert_panel(INDICATORS_PANEL, indicators_panel)
        register_incident_panel(INDICATORS_PANEL, incident_indicators_panel)
