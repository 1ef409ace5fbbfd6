"""The portal's own error pages: its layout, words for people, no debug content."""

from __future__ import annotations

import pytest
from django.test import Client, RequestFactory

from partner_portal.core import views

pytestmark = pytest.mark.django_db

DEBUG_MARKS = ("Traceback", "DisallowedHost", "SECRET_KEY", "settings.py", "Using the URLconf")


def _clean(body: str) -> None:
    for mark in DEBUG_MARKS:
        assert mark not in body


def test_a_foreign_host_gets_the_portal_bad_request_page() -> None:
    response = Client().get("/", HTTP_HOST="evil.example")
    body = response.content.decode()
    assert response.status_code == 400
    assert "Bad request" in body and "Partner Portal" in body
    assert "evil.example" not in body
    _clean(body)


def test_an_unknown_page_gets_the_portal_not_found_page(client: Client) -> None:
    response = client.get("/no-such-page/")
    body = response.content.decode()
    assert response.status_code == 404
    assert "Page not found" in body and 'class="topbar"' in body
    _clean(body)


def test_a_missing_role_gets_the_portal_forbidden_page(analyst_client: Client) -> None:
    response = analyst_client.get("/customers/")
    body = response.content.decode()
    assert response.status_code == 403
    assert "You don&#x27;t have access to this page" in body
    _clean(body)


def test_the_server_error_page_reads_nothing_from_the_request() -> None:
    # A request whose host is refused: the page must still draw.
    request = RequestFactory().get("/", HTTP_HOST="evil.example")
    response = views.server_error(request)
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in body and "Partner Portal" in body
    _clean(body)


def test_a_form_without_its_csrf_token_gets_the_portal_page() -> None:
    client = Client(enforce_csrf_checks=True)
    response = client.post("/accounts/login/", {"username": "a", "password": "b"})
    body = response.content.decode()
    assert response.status_code == 403
    assert "The form has expired" in body and "Partner Portal" in body
    _clean(body)
