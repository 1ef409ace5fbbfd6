from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0009_syncstate_idle_pass_counters"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncstate",
            name="history_since",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
