"""Indexes the alert list needs at a million rows (measured in bench/bench_console.py).

- "Severity, then newest" is walked in index order with a keyset cursor.
- On PostgreSQL only: trigram indexes for the text search (Django's `icontains` compares
  `UPPER(column::text)`, so the indexes are on that expression), and an index on the
  assignee in the same form, newest first. SQLite has no trigram indexes; there the
  search stays a scan, which suits the small embedded installs it serves.
"""

from django.db import migrations, models

SEARCHED = ("title", "description", "computer_dns_name", "related_user", "alert_id")

POSTGRES_FORWARD = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    *[
        f"CREATE INDEX IF NOT EXISTS alert_search_{column} ON alerts_alert "
        f"USING gin (UPPER({column}::text) gin_trgm_ops)"
        for column in SEARCHED
    ],
    "CREATE INDEX IF NOT EXISTS alert_assignee_newest ON alerts_alert "
    "(UPPER(assigned_to::text), created_at DESC, id DESC)",
]
POSTGRES_BACKWARD = [
    *[f"DROP INDEX IF EXISTS alert_search_{column}" for column in SEARCHED],
    "DROP INDEX IF EXISTS alert_assignee_newest",
]


def _on_postgres(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0001_initial"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(
                fields=["-severity_rank", "-created_at", "-id"], name="alert_rank_newest"
            ),
        ),
        migrations.RunPython(_on_postgres(POSTGRES_FORWARD), _on_postgres(POSTGRES_BACKWARD)),
    ]
