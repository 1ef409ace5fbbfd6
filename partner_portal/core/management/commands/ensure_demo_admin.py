"""Create the embedded setup's demo admin once, and say how to sign in as it."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from partner_portal.core.access import Role

DEMO_USERNAME = "admin"


def credentials_file() -> Path:
    return Path(settings.DATA_DIR) / "demo-admin.txt"


class Command(BaseCommand):
    help = "Create the demo admin (once) and print its credentials."

    @transaction.atomic
    def handle(self, *args: Any, **options: Any) -> None:
        user_model = get_user_model()
        path = credentials_file()
        user = user_model.objects.filter(username=DEMO_USERNAME).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            user = user_model.objects.create_superuser(
                username=DEMO_USERNAME, email="admin@localhost", password=password
            )
            user.groups.add(Group.objects.get(name=Role.ADMIN.value))
            path.write_text(f"{DEMO_USERNAME}\n{password}\n")
            path.chmod(0o600)
            self.stdout.write(f"Created the demo admin: {DEMO_USERNAME} / {password}")
        elif path.exists():
            username, password = path.read_text().split()[:2]
            self.stdout.write(f"Demo admin: {username} / {password}")
        else:
            self.stdout.write(
                f"Demo admin: {DEMO_USERNAME} (password changed since it was created; "
                "reset it with: python manage.py changepassword admin)"
            )
