"""Fill the indicator index for alerts stored before it existed (safe to run again)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from partner_portal.alerts.models import Alert
from partner_portal.correlation.index import index_alerts


class Command(BaseCommand):
    help = "Index the shareable indicators of every stored alert (new sightings only)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--customer", type=int, help="Only this customer's alerts (ID).")

    def handle(self, *args: Any, **options: Any) -> None:
        alerts = Alert.objects.all()
        if options["customer"]:
            alerts = alerts.filter(customer_id=options["customer"])
        added = index_alerts(alerts)
        self.stdout.write(f"Indexed: {added} new sightings.")
