"""Indexes of the console's live-update mark and of the list's counts (bench/bench_console.py).

- `alert_customer_top_id` (customer, id DESC): the newest alert id of each customer in an
  analyst's scope, one index seek per customer, so the live-update mark depends only on
  the alerts the analyst may see.
- `alert_counts` (severity, status, created_at) INCLUDE (customer, category): the counts
  by severity and status; PostgreSQL answers the broad filters with an index-only scan
  instead of reading the whole table. SQLite has no INCLUDE; there it is a plain index on
  the three key columns.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0002_alert_list_indexes"),
        ("tenants", "0002_analystscope"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(fields=["customer", "-id"], name="alert_customer_top_id"),
        ),
        migrations.AddIndex(
            model_name="alert",
            index=models.Index(
                fields=["severity", "status", "created_at"],
                include=("customer", "category"),
                name="alert_counts",
            ),
        ),
    ]
