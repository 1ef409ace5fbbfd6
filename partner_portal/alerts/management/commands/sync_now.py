"""`manage.py sync_now`: run sync passes at once, in this process, for operators.

Takes the same per-customer lock as the workers, so it never runs beside a worker's pass
of the same customer and source (it says so and moves on). Shows a progress line per
pass on a terminal and ends with a summary; exits non-zero if any pass failed.
"""

from __future__ import annotations

import sys
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db.models import Q, QuerySet

from partner_portal.alerts.models import SyncRun, SyncStatus
from partner_portal.alerts.sync import progress, sources
from partner_portal.alerts.sync.passes import ProgressCallback, sync_source
from tenants.models import Customer


class Command(BaseCommand):
    help = (
        "Sync alerts and/or incidents now for one customer (ID, name or tenant ID) or for "
        "every collecting customer, with a progress line and a summary."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--customer", help="customer ID, display name or tenant ID (default: all)"
        )
        parser.add_argument(
            "--source", choices=sources.names(), help="only this source (default: every one)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        customers = self._customers(options.get("customer"))
        chosen = [options["source"]] if options.get("source") else sources.names()
        tty = sys.stdout.isatty() and self.stdout._out is sys.stdout
        failures = 0
        done = 0
        for customer in customers:
            for source in chosen:
                kind = sources.find(source)
                if kind is None or not kind.enabled_for(customer):
                    self.stdout.write(
                        f"{customer} / {source}: not collected (status {customer.status})"
                    )
                    continue
                run = sync_source(
                    customer_id=customer.pk,
                    source=source,
                    progress=self._progress_printer(customer, source, tty),
                )
                if tty:
                    self.stdout.write("\r\033[K", ending="")
                done += 1
                if run is None:
                    self.stdout.write(
                        self.style.WARNING(
                            f"{customer} / {source}: skipped, a pass is already running elsewhere"
                        )
                    )
                    continue
                if run.status == SyncStatus.FAILED:
                    failures += 1
                self.stdout.write(self._summary(customer, source, run))
        if done == 0:
            self.stdout.write("Nothing to sync.")
        if failures:
            raise CommandError(f"{failures} pass(es) failed; see above and the customers' pages.")

    def _customers(self, wanted: str | None) -> QuerySet[Customer]:
        if not wanted:
            return Customer.objects.filter(status__in=sources.COLLECTING).order_by("pk")
        match = Q(display_name__iexact=wanted) | Q(tenant_id__iexact=wanted)
        if wanted.isdigit():
            match |= Q(pk=int(wanted))
        found = Customer.objects.filter(match).order_by("pk")
        if not found.exists():
            raise CommandError(f"No customer has the ID, name or tenant ID {wanted!r}.")
        if found.count() > 1:
            raise CommandError(f"{wanted!r} names several customers; use the customer ID.")
        return found

    def _progress_printer(self, customer: Customer, source: str, tty: bool) -> ProgressCallback:
        started = time.monotonic()
        spinner = "|/-\\"

        def show(run: SyncRun) -> None:
            elapsed = time.monotonic() - started
            line = f"{spinner[run.pages % len(spinner)]} {customer} / {source}: " + (
                progress.pass_progress_text(run, elapsed_seconds=elapsed)
            )
            if tty:
                self.stdout.write("\r\033[K" + line, ending="")
                self.stdout.flush()
            else:
                self.stdout.write(line)

        return show

    def _summary(self, customer: Customer, source: str, run: SyncRun) -> str:
        text = f"{customer} / {source} {progress.pass_summary_text(run)}"
        if run.status == SyncStatus.FAILED:
            return self.style.ERROR(text)
        return self.style.SUCCESS(text)
