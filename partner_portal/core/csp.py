"""Content-Security-Policy: what a page of the portal may load and run.

Every answer of the portal (pages, error pages, the admin, redirects, JSON) carries one
strict policy: scripts, styles, images and fetches from the portal itself only, no
inline script, event handler or style attribute, no plugins, no `<base>`, no framing,
forms sent to the portal only. A script that somebody manages to inject into a page
therefore does not run, and cannot send what it reads anywhere.

Templates keep to it: behaviour lives in `static/js/`, looks in `static/css/`
(tests/core/test_csp.py reads every template for inline code, and every browser test
fails on a violation the browser reports).

One page needs more: the customer admin's consent landing page posts to the portal,
which answers with a redirect to Microsoft's sign-in, and browsers hold a form's
redirects to `form-action` too. Such a view widens the policy of its own response with
`csp_allow`, never the policy of another page.

The middleware goes first in MIDDLEWARE so that answers made by other middleware (a
refused host, a CSRF failure) carry the policy as well; a response that already has a
policy keeps it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponseBase

HEADER = "Content-Security-Policy"

POLICY: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'",),
    "style-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "frame-ancestors": ("'none'",),
    "form-action": ("'self'",),
    "base-uri": ("'none'",),
    "object-src": ("'none'",),
}

# Sources one response adds to the policy, by directive (set by `csp_allow`).
_EXTRA = "_csp_extra"


def csp_allow(response: HttpResponseBase, directive: str, *sources: str) -> None:
    """Let this one response's page also use `sources` for `directive`.

    Sources are origins the portal builds from its own configuration (never from the
    request); a directive the policy does not name is refused, so that a misspelt one
    fails loudly instead of silently changing nothing.
    """
    if directive not in POLICY:
        raise ValueError(f"{directive!r} is not a directive of the portal's policy")
    extra: dict[str, list[str]] = getattr(response, _EXTRA, {})
    for source in sources:
        if not source or any(c in source for c in " ;,'\"\r\n"):
            raise ValueError(f"{source!r} is not a source expression")
        extra.setdefault(directive, []).append(source)
    setattr(response, _EXTRA, extra)


def policy(extra: dict[str, list[str]] | None = None) -> str:
    """The header's value: the portal's policy plus `extra` sources."""
    extra = extra or {}
    parts = []
    for directive, sources in POLICY.items():
        added = [s for s in extra.get(directive, []) if s not in sources]
        parts.append(" ".join((directive, *sources, *dict.fromkeys(added))))
    return "; ".join(parts)


class ContentSecurityPolicyMiddleware:
    """Puts the policy on every response that has none yet."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy(getattr(response, _EXTRA, None))
        return response
