"""A signed-in user changes their own password on a portal page; it is audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from partner_portal.core.access import Role
from tenants.models import AuditEvent
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "a fresh and rather long passphrase 7"


def _signed_in(user: User, address: str = "192.0.2.10") -> Client:
    client = Client(REMOTE_ADDR=address)
    client.force_login(user)
    return client


def test_the_page_header_links_to_the_password_page() -> None:
    client = _signed_in(UserFactory(username="dana", roles=[Role.ANALYST]))
    home = client.get("/").content.decode()
    assert f'href="{reverse("password_change")}"' in home
    page = client.get(reverse("password_change"))
    assert page.status_code == 200
    assert 'name="old_password"' in page.content.decode()


def test_changing_the_password_keeps_the_session_and_is_audited() -> None:
    user = UserFactory(username="dana", roles=[Role.ANALYST])
    client = _signed_in(user)
    response = client.post(
        reverse("password_change"),
        {"old_password": TEST_PASSWORD, "new_password1": NEW_PASSWORD,
         "new_password2": NEW_PASSWORD},
        follow=True,
    )  # fmt: skip
    assert response.redirect_chain[-1][0] == reverse("home")
    assert "Your password has been changed." in response.content.decode()
    assert response.context["user"].is_authenticated
    user.refresh_from_db()
    assert user.check_password(NEW_PASSWORD) and not user.check_password(TEST_PASSWORD)

    event = AuditEvent.objects.get(action="account.password_changed")
    assert (event.actor, event.customer, event.ip_address) == (user, None, "192.0.2.10")
    assert NEW_PASSWORD not in event.summary + str(event.details)
    assert TEST_PASSWORD not in event.summary + str(event.details)


def test_a_wrong_current_password_changes_nothing() -> None:
    user = UserFactory(username="dana")
    response = _signed_in(user).post(
        reverse("password_change"),
        {"old_password": "wrong", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200
    assert "old password was entered incorrectly" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)
    assert not AuditEvent.objects.filter(action="account.password_changed").exists()


def test_a_weak_new_password_is_refused_in_words() -> None:
    user = UserFactory(username="dana")
    response = _signed_in(user).post(
        reverse("password_change"),
        {"old_password": TEST_PASSWORD, "new_password1": "password", "new_password2": "password"},
    )
    assert response.status_code == 200
    assert "too common" in response.content.decode()
    user.refresh_from_db()
    assert user.check_password(TEST_PASSWORD)


def test_an_account_without_a_local_password_is_told_so() -> None:
    user = UserFactory(username="sso")
    user.set_unusable_password()
    user.save()
    client = _signed_in(user)
    assert reverse("password_change") not in client.get("/").content.decode()
    page = client.get(reverse("password_change")).content.decode()
    assert "has no password in the portal" in page
    assert 'name="old_password"' not in page


def test_anonymous_visitors_are_sent_to_sign_in(client: Client) -> None:
    response = client.get(reverse("password_change"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
