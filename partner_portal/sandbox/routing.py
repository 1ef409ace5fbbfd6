"""Which handler answers a request.

The sandbox plays several Microsoft services on one origin. Each service is a module
that registers its own routes when the app is built (``app.py``), so adding a service or
an API means adding a module, not editing a central table:

- the identity platform's endpoints and the consent and sign-in pages register plain
  routes on the :class:`Router` (``identity.py``, ``client_tokens.py``, ``consent.py``,
  ``signin.py``);
- a family of APIs that shares one gate (token check, limits, faults, its own error
  shape) is *mounted* on a path prefix and keeps its own :class:`RouteTable`: the
  Defender APIs under ``/api/`` (``api.py``, with ``alerts_api.py`` and
  ``incidents_api.py`` registering into it), the control API under ``/_sandbox``
  (``control.py``).

A route table tells "no such path" apart from "path known, method not allowed", so each
service answers both in its own words.

A plain route registered with ``browser=True`` is a page a person's browser visits (the
consent and sign-in pages). Those routes alone are also answered by
:meth:`Router.handle_browser`, which serves the plain-HTTP loopback listener
(``server.py``): token endpoints, discovery, the APIs and the control API are never
reachable there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, NamedTuple, TypeVar

from .web import Request, Response, json_response

T = TypeVar("T")
# A route's handler: (request, **named groups of the path) → response.
Handler = Callable[..., Response]


@dataclass(frozen=True)
class Route(Generic[T]):
    method: str
    pattern: re.Pattern[str]
    target: T


class RouteMatch(NamedTuple, Generic[T]):
    """The route's target and path parameters; ``target`` is None when no route answers,
    and then ``path_known`` says whether another method would have."""

    target: T | None
    params: dict[str, str]
    path_known: bool


class RouteTable(Generic[T]):
    """Routes by method and path pattern (a regular expression matching the whole path)."""

    def __init__(self) -> None:
        self._routes: list[Route[T]] = []

    def add(self, method: str, pattern: str, target: T) -> None:
        self._routes.append(Route(method.upper(), re.compile(pattern), target))

    def find(self, method: str, path: str) -> RouteMatch[T]:
        known = False
        for route in self._routes:
            match = route.pattern.fullmatch(path)
            if match is None:
                continue
            if route.method == method:
                return RouteMatch(route.target, match.groupdict(), True)
            known = True
        return RouteMatch(None, {}, known)


class Router:
    """The top level: mounted prefixes first, in the order mounted, then plain routes.

    A plain route's handler is called with the request and the pattern's named groups as
    keyword arguments. Unmatched paths get the identity platform's JSON error shape.
    """

    def __init__(self) -> None:
        self._mounts: list[tuple[re.Pattern[str], Callable[[Request], Response]]] = []
        self.routes: RouteTable[Handler] = RouteTable()
        self.browser_routes: RouteTable[Handler] = RouteTable()

    def mount(self, prefix: str, handler: Callable[[Request], Response]) -> None:
        """Send every path that ``prefix`` (a regular expression, anchored at the start
        of the path) matches to ``handler``, which does its own routing."""
        self._mounts.append((re.compile(prefix), handler))

    def route(self, method: str, pattern: str, handler: Handler, *, browser: bool = False) -> None:
        """Add a plain route; ``browser`` marks a page a person's browser visits."""
        self.routes.add(method, pattern, handler)
        if browser:
            self.browser_routes.add(method, pattern, handler)

    def handle(self, request: Request) -> Response:
        for prefix, mounted in self._mounts:
            if prefix.match(request.path):
                return mounted(request)
        return self._answer(self.routes, request)

    def handle_browser(self, request: Request) -> Response:
        """Answer from the browser pages only; everything else is not found here."""
        return self._answer(self.browser_routes, request)

    @staticmethod
    def _answer(routes: RouteTable[Handler], request: Request) -> Response:
        found = routes.find(request.method, request.path)
        if found.target is not None:
            params: dict[str, Any] = found.params
            return found.target(request, **params)
        if found.path_known:
            return json_response(405, {"error": "method_not_allowed"})
        return json_response(
            404, {"error": "not_found", "error_description": f"No route {request.path}"}
        )
