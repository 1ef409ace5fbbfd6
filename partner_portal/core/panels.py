"""Slots in a page where apps above the page's own app add cards.

Dependencies point one way (core <- tenants <- alerts <- the apps above), yet a page
often wants to show what an app above it knows: the customer page (tenants) shows each
customer's sync (alerts); the alert page (alerts) shows where its indicators were seen
at other customers (correlation). The page keeps a `PanelSlot` and asks it what to show;
an app registers a panel source in the slot, usually from its `AppConfig.ready()`.

A source takes what the page is about (and, where scope matters, the person looking)
and returns a `Panel` — a template and the context it needs — or None to show nothing.
Sources are kept by name, so registering again (a second `ready()`, a test) replaces a
source in its place rather than showing its card twice; panels appear in the order
their sources were first registered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

P = ParamSpec("P")


@dataclass(frozen=True)
class Panel:
    """One card: the template that draws it and what that template needs."""

    template_name: str
    context: Mapping[str, Any] = field(default_factory=dict)


class PanelSlot(Generic[P]):
    """The named panel sources of one page, in the order they were registered."""

    def __init__(self) -> None:
        self._sources: dict[str, Callable[P, Panel | None]] = {}

    def register(self, name: str, source: Callable[P, Panel | None]) -> None:
        self._sources[name] = source

    def unregister(self, name: str) -> None:
        """Stop showing a panel; unknown names are ignored."""
        self._sources.pop(name, None)

    def names(self) -> list[str]:
        return list(self._sources)

    def panels(self, *args: P.args, **kwargs: P.kwargs) -> list[Panel]:
        """The panels to show, in order (sources that return None show nothing)."""
        found = (source(*args, **kwargs) for source in list(self._sources.values()))
        return [panel for panel in found if panel is not None]


def render_panels(
    panels: list[Panel], *, request: HttpRequest, context: Mapping[str, Any]
) -> list[SafeString]:
    """Each panel as HTML, given `context` besides its own, ready to print on the page."""
    # The template engine escapes what it prints, so its output is safe to print again.
    return [
        render_to_string(panel.template_name, {**panel.context, **context}, request=request)
        for panel in panels
    ]
