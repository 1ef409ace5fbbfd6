"""Channel URLs and signing secrets are stored sealed (partner_portal/core/sealed.py).

The columns become text (a token is longer than its value), then every value stored in
plain text is sealed in place. Going back opens them again; a value no key opens is
left as its token. Both steps read and write the raw column, not through the field.
"""

from django.db import migrations

import partner_portal.core.sealed

SELECT = "SELECT id, url, signing_secret FROM notifications_channel"
UPDATE = "UPDATE notifications_channel SET url = %s, signing_secret = %s WHERE id = %s"


def _rewrite(schema_editor, change):
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(SELECT)
        for pk, *values in cursor.fetchall():
            new = [change(value or "") for value in values]
            if new != list(values):
                cursor.execute(UPDATE, [*new, pk])


def _seal_plain(value):
    sealed = partner_portal.core.sealed
    if not value or not sealed.could_not_open(sealed.open_sealed(value)):
        return value  # empty, or already a token the keys open
    return sealed.seal(value)


def _open_tokens(value):
    opened = partner_portal.core.sealed.open_sealed(value)
    return value if partner_portal.core.sealed.could_not_open(opened) else opened


def seal_stored_secrets(apps, schema_editor):
    _rewrite(schema_editor, _seal_plain)


def open_stored_secrets(apps, schema_editor):
    _rewrite(schema_editor, _open_tokens)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="channel",
            name="signing_secret",
            field=partner_portal.core.sealed.SealedTextField(blank=True),
        ),
        migrations.AlterField(
            model_name="channel",
            name="url",
            field=partner_portal.core.sealed.SealedTextField(blank=True),
        ),
        migrations.RunPython(seal_stored_secrets, open_stored_secrets),
    ]
