"""The Content-Security-Policy: on every answer of the portal, and templates that keep to it.

Every URL of the URL conf is opened (path arguments filled as the access matrix fills
them) by each role, and every answer, whatever its status, must carry the policy. The
templates are read for inline scripts, event handlers and style attributes, which the
policy would block. Browser tests fail on any violation Chromium reports
(tests/fixtures/browser.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path, reverse

from partner_portal.core.csp import HEADER, POLICY, csp_allow, policy
from tests.factories import UserFactory
from tests.test_access_matrix import QUERY, ROLES, World, all_routes, url_for, world  # noqa: F401

pytestmark = pytest.mark.django_db

STRICT = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'; base-uri 'none'; object-src 'none'"
)


def _assert_strict(response: HttpResponse, what: str) -> None:
    assert response.get(HEADER) == STRICT, f"{what}: {response.status_code} {response.get(HEADER)}"


# --- the header on every answer ---------------------------------------------------------------
def test_the_portal_policy_is_the_strict_one() -> None:
    assert policy() == STRICT


def test_every_url_of_the_url_conf_answers_with_the_policy_for_every_role(
    world: World,  # noqa: F811 (the access matrix's fixture)
) -> None:
    missing = []
    opened = 0
    for route in all_routes():
        url = url_for(route, world.objects["A"])
        query = QUERY.get(route.name, "")
        for role in ROLES:
            for method in ("get", "post"):
                response = getattr(world.clients[role], method)(
                    url + (f"?{query}" if query else "")
                )
                opened += 1
                if response.get(HEADER) != STRICT and route.name != "tenants:consent_landing":
                    missing.append(f"{role} {method.upper()} {url}: {response.status_code}")
                elif HEADER not in response:
                    missing.append(f"{role} {method.upper()} {url}: no policy")
    assert opened > 200
    assert missing == [], "\n".join(missing)


def test_the_django_admin_pages_carry_the_policy() -> None:
    admin = UserFactory(username="root", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(admin)
    for name, args in (
        ("admin:index", []),
        ("admin:auth_user_changelist", []),
        ("admin:auth_user_change", [admin.pk]),
        ("admin:auth_group_add", []),
        ("admin:jsi18n", []),
    ):
        response = client.get(reverse(name, args=args))
        assert response.status_code == 200, name
        _assert_strict(response, name)
    _assert_strict(Client().get(reverse("admin:index")), "admin for anonymous")


def test_error_answers_carry_the_policy(client: Client) -> None:
    _assert_strict(client.get("/no-such-page/"), "404")
    _assert_strict(client.get("/", HTTP_HOST="evil.example"), "foreign host")
    csrf = Client(enforce_csrf_checks=True).post("/accounts/login/", {"username": "a"})
    assert csrf.status_code == 403
    _assert_strict(csrf, "CSRF failure")
    _assert_strict(client.get("/static/css/portal.css"), "static file")


def _crash(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a bug")


urlpatterns = [path("crash/", _crash)]
handler500 = "partner_portal.core.views.server_error"


@pytest.mark.urls("tests.core.test_csp")
def test_the_server_error_page_carries_the_policy() -> None:
    response = Client(raise_request_exception=False).get("/crash/")
    assert response.status_code == 500
    assert b"Something went wrong" in response.content
    _assert_strict(response, "500")


# --- widening one response ---------------------------------------------------------------------
def test_a_view_may_add_a_source_to_its_own_response_only() -> None:
    response = HttpResponse()
    csp_allow(response, "form-action", "https://login.example.test")
    assert policy(response._csp_extra) == STRICT.replace(  # type: ignore[attr-defined]
        "form-action 'self'", "form-action 'self' https://login.example.test"
    )
    assert policy() == STRICT


@pytest.mark.parametrize(
    ("directive", "source"),
    [("form-actions", "https://a.test"), ("form-action", "https://a.test; script-src *")],
)
def test_a_misspelt_directive_or_a_source_that_smuggles_one_is_refused(
    directive: str, source: str
) -> None:
    with pytest.raises(ValueError):
        csp_allow(HttpResponse(), directive, source)


# --- templates keep to the policy ---------------------------------------------------------------
INLINE = {
    "an inline script": re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE),
    "an event handler attribute": re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE),
    "a style attribute": re.compile(r"<[^>]*\sstyle\s*=", re.IGNORECASE),
    "a style element": re.compile(r"<style[\s>]", re.IGNORECASE),
    "a javascript: URL": re.compile(r"javascript:", re.IGNORECASE),
}


def _templates() -> list[Path]:
    roots = [Path(d) for d in settings.TEMPLATES[0]["DIRS"]]
    roots += list(Path(settings.BASE_DIR).glob("*/templates"))
    roots += list(Path(settings.BASE_DIR).glob("partner_portal/*/templates"))
    return sorted(p for root in roots for p in root.rglob("*.html"))


def test_no_template_holds_inline_script_handlers_or_styles() -> None:
    templates = _templates()
    assert len(templates) > 30
    found = [
        f"{template.relative_to(settings.BASE_DIR)}: {what}"
        for template in templates
        for what, pattern in INLINE.items()
        if pattern.search(template.read_text())
    ]
    assert found == [], "\n".join(found)


@pytest.mark.parametrize(
    "markup",
    [
        "<script>alert(1)</script>",
        '<form onsubmit="return confirm()">',
        '<p style="color:red">',
        "<style>p{}</style>",
        '<script defer src="x.js"></script><button onclick="go()">',
    ],
)
def test_the_template_check_sees_inline_code(markup: str) -> None:
    assert any(pattern.search(markup) for pattern in INLINE.values())


def test_the_template_check_lets_static_scripts_and_data_attributes_pass() -> None:
    markup = '<script src="/static/js/confirm.js" defer></script><form data-confirm="Sure?">'
    assert not any(pattern.search(markup) for pattern in INLINE.values())
    assert set(POLICY) >= {"script-src", "style-src", "form-action"}
