"""The sandbox's HTML pages (sign-in, consent, form_post) carry a strict policy that lets
through exactly their own inline style and script, by hash, as Microsoft's pages do."""

from __future__ import annotations

import base64
import hashlib
import re

from partner_portal.sandbox.signin import FORM_POST_SCRIPT
from partner_portal.sandbox.web import html_response


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _policy(response: object) -> dict[str, str]:
    header = dict(response.headers)["Content-Security-Policy"]  # type: ignore[attr-defined]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def test_a_page_allows_its_own_style_and_no_script() -> None:
    response = html_response(200, "Sign in", "<h1>Sign in</h1>")
    page = response.body.decode()
    policy = _policy(response)
    (style,) = re.findall(r"<style>(.*?)</style>", page)
    assert policy["style-src"] == _hash(style)
    assert policy["script-src"] == "'none'"
    assert policy["default-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe-inline" not in str(policy) and "<script" not in page


def test_the_form_post_page_allows_exactly_its_submit_script() -> None:
    response = html_response(200, "Working...", "<form id='form-post'></form>",
                             script=FORM_POST_SCRIPT)  # fmt: skip
    (script,) = re.findall(r"<script>(.*?)</script>", response.body.decode())
    assert script == FORM_POST_SCRIPT
    assert _policy(response)["script-src"] == _hash(FORM_POST_SCRIPT)
