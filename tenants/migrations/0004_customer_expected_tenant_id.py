"""The expected tenant's ID, enforced at consent.

Rows whose expected tenant is a GUID get it copied here. Rows with a domain stay without
one: looking it up needs Microsoft, which a migration must not call; staff see on the
customer's page that the domain is not checked yet, and saving the customer looks it up.
"""

import re
import uuid

from django.db import migrations, models

GUID = re.compile(r"^[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def copy_guids(apps, schema_editor):
    Customer = apps.get_model("tenants", "Customer")
    for customer in Customer.objects.exclude(expected_tenant="").only("pk", "expected_tenant"):
        value = customer.expected_tenant.strip()
        if GUID.match(value):
            Customer.objects.filter(pk=customer.pk).update(expected_tenant_id=str(uuid.UUID(value)))


class Migration(migrations.Migration):
    dependencies = [
        ("tenants", "0003_expected_tenant_help"),
    ]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="expected_tenant_id",
            field=models.CharField(
                blank=True,
                help_text="The tenant ID the expected tenant stands for (a domain's as Microsoft gave it); the consent callback enforces it. Empty when no tenant is expected, or for a domain saved before domains were looked up.",
                max_length=36,
                verbose_name="expected tenant's ID",
            ),
        ),
        migrations.AlterField(
            model_name="customer",
            name="expected_tenant",
            field=models.CharField(
                blank=True,
                help_text="Optional. A tenant ID, or a domain the portal looks up at Microsoft when staff save it; consent from any other tenant is refused.",
                max_length=255,
                verbose_name="expected tenant ID or domain",
            ),
        ),
        migrations.RunPython(copy_guids, migrations.RunPython.noop, elidable=True),
    ]
