"""`manage.py apply_retention`: the nightly retention, now, for operators.

`--dry-run` counts what the current settings would delete and deletes nothing, which is
the way to try a new `RETAIN_*` value before the night does it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from partner_portal.alerts.retention import RetentionPolicy, apply_retention


class Command(BaseCommand):
    help = (
        "Delete the sync history, alerts, incidents, audit events and delivery log the "
        "RETAIN_* settings no longer keep (what the nightly task does); --dry-run only counts them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="count, delete nothing")

    def handle(self, *args: Any, **options: Any) -> None:
        policy = RetentionPolicy.from_settings()
        dry_run = bool(options["dry_run"])
        report = apply_retention(policy=policy, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        days = {0: "kept for ever"}
        self.stdout.write(
            f"Keeping the last {policy.sync_runs} passes per customer and source, failed "
            f"passes for {policy.sync_failure_days} days; alerts and incidents "
            f"{days.get(policy.alert_days, f'for {policy.alert_days} days')}; audit events "
            f"{days.get(policy.audit_days, f'for {policy.audit_days} days')}."
        )
        self.stdout.write(report.sentence(verb))
