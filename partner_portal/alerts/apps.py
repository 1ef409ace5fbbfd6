from django.apps import AppConfig
from django.conf import settings

#: The sync's dispatcher as /healthz names it.
DISPATCHER = "sync_dispatcher"


class AlertsConfig(AppConfig):
    name = "partner_portal.alerts"
    label = "alerts"
    verbose_name = "Alerts and incidents"

    def ready(self) -> None:
        from partner_portal.alerts.customer_panels import SYNC_PANEL, sync_panel
        from partner_portal.alerts.views.overview import HOME_PANEL, home_panel
        from partner_portal.core.health import register_duty
        from partner_portal.core.home_panels import register_home_panel
        from tenants.panels import register_customer_panel

        # The customer page (tenants) shows each customer's sync without importing us.
        register_customer_panel(SYNC_PANEL, sync_panel)
        # The home page (core) leads analysts to the overview.
        register_home_panel(HOME_PANEL, home_panel)
        # /healthz (core) says when the dispatcher last ran: without it nothing is synced.
        register_duty(DISPATCHER, period_seconds=lambda: settings.SYNC_DISPATCH_SECONDS)
