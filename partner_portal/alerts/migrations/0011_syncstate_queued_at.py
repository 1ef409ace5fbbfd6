from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("alerts", "0010_syncstate_history_since"),
    ]

    operations = [
        migrations.AddField(
            model_name="syncstate",
            name="queued_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
    ]
