"""Indexes of the incident queue: its pages by customer, severity and status, its counts
and its live updates (see `reads.incident_queue`)."""

from django.db import migrations, models


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
    ]
