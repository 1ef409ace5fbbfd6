"""Every page of the portal, as a person sees it: at 1440 by 900 px and at 390 by 844 px
(a phone), in the light and the dark colour scheme.

The pages are those of the URL conf that answer a portal admin's GET with HTML, filled
with the access matrix's two customers, alerts, incidents, campaign and hunt. None may
scroll sideways on a phone; the dark scheme must really be dark; and each page is saved as
a screenshot (`<artifacts>/pages/<size>-<scheme>/<page>.png`) for a person to look over.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from tests.test_access_matrix import ADMIN, QUERY, World, all_routes, url_for, world  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SIZES = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}
SCHEMES = ("light", "dark")
# What reaches past the right edge, to say what made a page too wide.
TOO_WIDE = """() => [...document.querySelectorAll('body *')]
  .filter(e => e.getBoundingClientRect().right > document.documentElement.clientWidth + 0.5)
  .slice(0, 6).map(e => e.tagName + '.' + e.className + '#' + e.id + ' '
    + Math.round(e.getBoundingClientRect().right))"""
BACKGROUND = "getComputedStyle(document.body).backgroundColor"


def _html_pages(world: World) -> list[tuple[str, str]]:  # noqa: F811
    """(route name, URL) of every page that gives a portal admin an HTML document on GET."""
    pages = []
    client = world.clients[ADMIN]
    for route in all_routes():
        if route.name in ("logout", "password_set", "login"):
            continue
        url = url_for(route, world.objects["A"])
        query = QUERY.get(route.name, "")
        url += f"?{query}" if query else ""
        response = client.get(url)
        if response.status_code != 200 or not response["Content-Type"].startswith("text/html"):
            continue
        # Whole documents only: the counts and live rows are fragments a page pulls in.
        if response.content.lstrip()[:15].lower() == b"<!doctype html>":
            pages.append((route.name, url))
    return pages


def _luminance(css_colour: str) -> float:
    red, green, blue = (int(n) for n in re.findall(r"\d+", css_colour)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


@pytest.fixture
def contexts(module_browser: Any, live_server: Any, world: World) -> Iterator[dict[str, Any]]:  # noqa: F811
    cookie = world.clients[ADMIN].cookies[settings.SESSION_COOKIE_NAME].value
    host = live_server.url.split("//", 1)[1].split(":", 1)[0]
    opened = {}
    for size, viewport in SIZES.items():
        for scheme in SCHEMES:
            phone = size == "phone"
            context = module_browser.new_context(
                base_url=live_server.url, viewport=viewport, color_scheme=scheme,
                is_mobile=phone, has_touch=phone,
            )  # fmt: skip
            context.add_cookies(
                [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "domain": host,
                  "path": "/"}]
            )  # fmt: skip
            opened[f"{size}-{scheme}"] = context.new_page()
    yield opened
    for page in opened.values():
        page.context.close()


# Every page loaded and saved four times took over 5 minutes at load 36, so
# this test has a longer bound than the suite's 300 s for one test.
@pytest.mark.timeout(1500)
def test_every_page_fits_a_phone_follows_the_scheme_and_is_saved_as_a_screenshot(
    contexts: dict[str, Any],
    world: World,  # noqa: F811
    artifacts_dir: Path,
) -> None:
    pages = _html_pages(world)
    assert len(pages) >= 25, pages
    too_wide, not_dark, saved = [], [], 0
    for name, url in pages:
        backgrounds = {}
        for key, page in contexts.items():
            page.goto(url)
            page.wait_for_load_state("networkidle")
            if key.startswith("phone"):
                width = page.evaluate("document.documentElement.scrollWidth")
                if width > SIZES["phone"]["width"]:
                    too_wide.append(f"{url} is {width} px wide: {page.evaluate(TOO_WIDE)}")
            backgrounds[key] = _luminance(page.evaluate(BACKGROUND))
            folder = artifacts_dir / "pages" / key
            folder.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(folder / f"{name.replace(':', '-')}.png"), full_page=True)
            saved += 1
        if not backgrounds["desktop-dark"] < 100 < backgrounds["desktop-light"]:
            not_dark.append(f"{url}: {backgrounds}")
    assert too_wide == [], "\n".join(too_wide)
    assert not_dark == [], "\n".join(not_dark)
    assert saved == len(pages) * 4
