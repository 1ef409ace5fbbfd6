"""The notifications app: hooks into the sync, the alert list and customer changes."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.apps import AppConfig
from django.db.models.signals import post_save

if TYPE_CHECKING:
    from tenants.models import Customer


class NotificationsConfig(AppConfig):
    name = "partner_portal.notifications"
    label = "notifications"
    verbose_name = "Notifications"

    def ready(self) -> None:
        from partner_portal.alerts.list_notes import register_row_notes
        from partner_portal.alerts.sync.stored import register_store_listener
        from partner_portal.correlation.campaign_panels import register_campaign_panel
        from partner_portal.correlation.indexed import register_index_listener
        from partner_portal.notifications import campaign_events, retention, sla_list
        from partner_portal.notifications.campaign_actions import (
            SUPPRESS_PANEL,
            suppress_campaign_panel,
        )
        from partner_portal.notifications.outbox import LISTENER, record_stored
        from partner_portal.notifications.senders import hide_request_paths_in_logs
        from tenants.models import Customer

        # The sync (alerts) tells us what it stored without importing us.
        register_store_listener(LISTENER, record_stored)
        # The alert list (alerts) shows each open alert's SLA timer.
        register_row_notes(sla_list.NAME, sla_list.sla_notes)
        # The index (correlation) tells us where indicators turned up, for campaign events.
        register_index_listener(campaign_events.LISTENER, campaign_events.record_indexed)
        # A campaign's page (correlation) offers a rule made from it.
        register_campaign_panel(SUPPRESS_PANEL, suppress_campaign_panel)
        hide_request_paths_in_logs()
        # The nightly retention (alerts) deletes the old delivery log without importing us.
        retention.register()
        # A customer's new time zone moves its alerts' business-hours due times.
        post_save.connect(_time_zone_changed, sender=Customer, dispatch_uid="sla.time_zone")


def _time_zone_changed(sender: type[Customer], instance: Customer, **kwargs: Any) -> None:
    fields = kwargs.get("update_fields")
    if fields and "time_zone" in fields:
        from partner_portal.notifications import sla_watch

        sla_watch.look_again(customer_id=instance.pk)
