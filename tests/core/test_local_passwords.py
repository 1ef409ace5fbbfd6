"""LOCAL_PASSWORDS off: only the break-glass accounts sign in with a password, on the
portal's page and Django admin's alike; everyone else is told, in words, to use
Microsoft."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from partner_portal.core.access import Role
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def passwords_off(settings: Any) -> None:
    settings.LOCAL_PASSWORDS = False
    settings.BREAK_GLASS_USERS = ["breakglass"]


def _sign_in(username: str, path: str = "/accounts/login/") -> tuple[Client, str]:
    client = Client()
    page = client.post(path, {"username": username, "password": TEST_PASSWORD})
    return client, page.content.decode()


def test_an_ordinary_account_is_refused_in_words(passwords_off: None) -> None:
    UserFactory(username="dana", roles=[Role.ANALYST])
    client, page = _sign_in("dana")
    assert "_auth_user_id" not in client.session
    assert "Passwords are switched off on this portal: use Sign in with Microsoft" in page


def test_a_break_glass_account_still_signs_in(passwords_off: None) -> None:
    UserFactory(username="breakglass", roles=[Role.ADMIN])
    client, _ = _sign_in("breakglass")
    assert "_auth_user_id" in client.session
    assert client.get("/people/").status_code == 200


def test_django_admin_refuses_ordinary_accounts_too(passwords_off: None) -> None:
    UserFactory(username="root", is_staff=True, is_superuser=True)
    client, _ = _sign_in("root", path="/admin/login/")
    assert "_auth_user_id" not in client.session


def test_with_local_passwords_on_everyone_signs_in(settings: Any) -> None:
    settings.BREAK_GLASS_USERS = ["breakglass"]
    UserFactory(username="dana", roles=[Role.ANALYST])
    client, _ = _sign_in("dana")
    assert "_auth_user_id" in client.session
