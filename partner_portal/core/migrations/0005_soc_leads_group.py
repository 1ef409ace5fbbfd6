"""Create the "SOC leads" group: analysts who may also change routing policies and
suppression rules."""

from django.db import migrations

NAME = "SOC leads"


def create_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.get_or_create(name=NAME)


def remove_group(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("core", "0004_preference")]

    operations = [migrations.RunPython(create_group, remove_group)]
