"""Indexes of the incident queue: its pages by customer, severity and status, its counts,
its live updates and, on PostgreSQL, its tag filter (see `reads.incident_queue`)."""

from typing import Any

from django.db import migrations, models

# jsonb containment (`tags @> '["vip"]'`) is what the tag filter asks on PostgreSQL; a GIN
# index answers it without walking the queue. Other databases have no such operator (the
# filter reads the JSON text there), so these exist on PostgreSQL only.
TAG_INDEXES = (
    ("incident_tags", "tags"),
    ("incident_system_tags", "system_tags"),
)


def create_tag_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, column in TAG_INDEXES:
        schema_editor.execute(
            f'CREATE INDEX IF NOT EXISTS "{name}" ON "alerts_incident"'
            f' USING gin (("{column}"::jsonb) jsonb_path_ops)'
        )


def drop_tag_indexes(apps: Any, schema_editor: Any) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _ in TAG_INDEXES:
        schema_editor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0005_graph_fields"),
        ("tenants", "0004_customer_expected_tenant_id"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="incident",
            name="incident_customer_newest",
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                fields=["customer", "-created_at", "-id"], name="incident_customer_newest"
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                fields=["-severity_rank", "-created_at", "-id"], name="incident_rank_newest"
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                fields=["status", "-created_at", "-id"], name="incident_status_newest"
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(
                fields=["severity", "status", "created_at"],
                include=("customer", "redirect_incident_id"),
                name="incident_counts",
            ),
        ),
        migrations.AddIndex(
            model_name="incident",
            index=models.Index(fields=["synced_at"], name="incident_synced"),
        ),
        migrations.RunPython(create_tag_indexes, drop_tag_indexes, elidable=True),
    ]
