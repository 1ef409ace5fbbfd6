"""A sync run is running, succeeded or failed: "skipped" was never written, so the choice goes.

Choices only; no row or column changes.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0003_alert_console_indexes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="syncrun",
            name="status",
            field=models.CharField(
                choices=[("running", "Running"), ("succeeded", "Succeeded"), ("failed", "Failed")],
                default="running",
                max_length=16,
            ),
        ),
    ]
