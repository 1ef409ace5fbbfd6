"""Request and response values passed between the HTTP server and the sandbox's handlers,
so handlers stay plain functions that tests can reason about without sockets."""

from __future__ import annotations

import base64
import hashlib
import html
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs


@dataclass
class Request:
    """One parsed HTTP request."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    client_ip: str
    raw_query: str = ""

    def arg(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None

    def form(self) -> dict[str, str]:
        """The urlencoded body as single values (the first of repeated names)."""
        parsed = parse_qs(self.body.decode("utf-8", "replace"), keep_blank_values=True)
        return {k: v[0] for k, v in parsed.items()}

    def json(self) -> Any:
        """The JSON body, or None when there is none; ValueError when it is not JSON."""
        if not self.body.strip():
            return None
        return json.loads(self.body)


@dataclass
class Response:
    """What to send back; ``fault`` asks the server to misbehave on purpose."""

    status: int
    body: bytes = b""
    content_type: str = "application/json; charset=utf-8"
    headers: list[tuple[str, str]] = field(default_factory=list)
    fault: str | None = None  # "drop", "malformed", "truncated"
    delay: float = 0.0
    truncated_body: bytes | None = None  # what "truncated" sends instead of ``body``


def json_response(
    status: int, payload: Any, headers: list[tuple[str, str]] | None = None
) -> Response:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Response(status, body, headers=list(headers or []))


_STYLE = (
    "body{font-family:Segoe UI,Helvetica,Arial,sans-serif;background:#f2f2f2;"
    "margin:0}main{max-width:440px;margin:60px auto;background:#fff;padding:44px;"
    "box-shadow:0 2px 6px rgba(0,0,0,.2)}h1{font-size:24px;font-weight:600}"
    "label{display:block;margin-top:12px}input[type=text],input[type=email]{width:100%;"
    "padding:6px;box-sizing:border-box}button{margin-top:16px;margin-right:8px;"
    "padding:6px 18px}.error{color:#a80000}.muted{color:#666;font-size:13px}"
    "li{margin:6px 0}"
)


def _sha256_source(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def page_policy(script: str = "") -> str:
    """The sign-in pages' Content-Security-Policy: their one style and (form_post) one
    script, by hash, and nothing else. `form-action` stays open: the pages' forms post
    to the sandbox, which redirects to the application's reply URL, wherever that is."""
    scripts = _sha256_source(script) if script else "'none'"
    return (
        f"default-src 'none'; style-src {_sha256_source(_STYLE)}; script-src {scripts}; "
        "img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'; object-src 'none'"
    )


def html_response(status: int, title: str, body_html: str, *, script: str = "") -> Response:
    """An HTML page in the sandbox's look; `script` is run inline (form_post's submit)."""
    inline = f"<script>{script}</script>" if script else ""
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{_STYLE}</style></head><body><main>"
        f"{body_html}</main>{inline}</body></html>"
    )
    return Response(
        status,
        page.encode(),
        content_type="text/html; charset=utf-8",
        headers=[("Content-Security-Policy", page_policy(script))],
    )


def redirect(location: str) -> Response:
    return Response(
        302, b"", content_type="text/html; charset=utf-8", headers=[("Location", location)]
    )
