"""Sign-in, sign-out, the role groups and the rule that every view declares its access."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from partner_portal.core.access import SIGNED_OUT_WORDS, Role
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def _walk(patterns: list, prefix: str = "") -> list[tuple[str, object]]:
    found: list[tuple[str, object]] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue  # Django's admin applies its own staff check.
            found += _walk(entry.url_patterns, prefix + str(entry.pattern))
        elif isinstance(entry, URLPattern):
            found.append((prefix + str(entry.pattern), entry.callback))
    return found


def test_data_migration_creates_the_three_portal_groups() -> None:
    names = set(Group.objects.values_list("name", flat=True))
    assert {"Onboarding staff", "Analysts", "Portal admins"} <= names


def test_every_url_declares_an_access_policy() -> None:
    undeclared = [
        route
        for route, view in _walk(get_resolver().url_patterns)
        if not getattr(view, "access_policy", None)
        and not getattr(getattr(view, "view_class", None), "access_policy", None)
    ]
    assert undeclared == []


def test_anonymous_user_is_sent_to_sign_in_from_home(client: Client) -> None:
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("mode", ["cors", "same-origin", "no-cors"])
def test_a_pages_own_request_without_a_session_is_answered_signed_out_in_words(
    client: Client, mode: str
) -> None:
    """A list's live update after the session ended: 401 in words, not the sign-in page,
    which nobody would read and whose rendering would use up the messages kept for the
    page the person opens next."""
    response = client.get("/alerts/live/", headers={"Sec-Fetch-Mode": mode})
    assert response.status_code == 401
    assert response.content.decode() == SIGNED_OUT_WORDS
    opened = client.get("/alerts/live/", headers={"Sec-Fetch-Mode": "navigate"})
    assert opened.status_code == 302
    assert opened["Location"].startswith("/accounts/login/")


def test_sign_in_with_right_password_reaches_home() -> None:
    UserFactory(username="dana", roles=[Role.ANALYST])
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "dana", "password": TEST_PASSWORD}, follow=True
    )
    assert response.status_code == 200
    assert response.context["user"].username == "dana"
    assert "Analysts" in response.content.decode()


def test_sign_in_with_wrong_password_says_so_and_stays_signed_out() -> None:
    UserFactory(username="dana")
    client = Client()
    response = client.post("/accounts/login/", {"username": "dana", "password": "nope"})
    assert response.status_code == 200
    assert "did not match" in response.content.decode()
    assert not response.context["user"].is_authenticated


def test_sign_out_needs_post_and_ends_the_session(analyst_client: Client) -> None:
    assert analyst_client.get("/accounts/logout/").status_code == 405
    assert analyst_client.post("/accounts/logout/").status_code == 302
    assert analyst_client.get("/").status_code == 302


def test_user_without_role_is_told_to_ask_an_admin(no_role_user: object) -> None:
    client = Client()
    client.force_login(no_role_user)  # type: ignore[arg-type]
    page = client.get("/").content.decode()
    assert "no role yet" in page


def test_portal_admin_holds_every_role(admin_client_portal: Client) -> None:
    page = admin_client_portal.get("/").content.decode()
    for role in Role:
        assert role.value in page


def test_static_stylesheet_is_served_by_whitenoise(client: Client) -> None:
    page = client.get("/accounts/login/").content.decode()
    assert "/static/css/portal.css" in page
    response = client.get("/static/css/portal.css")
    assert response.status_code == 200
    assert b"prefers-color-scheme: dark" in b"".join(response.streaming_content)
