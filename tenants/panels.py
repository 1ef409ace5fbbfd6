"""Cards that other apps add to the staff's customer page.

The customer page belongs to tenants, but some of what staff want to see there belongs
to apps above it: the alerts app knows how each customer's sync is doing. Tenants may not
import those apps (dependencies point one way), so the page keeps a slot and asks this
registry what to put in it.

An app registers a panel source, usually from its `AppConfig.ready()`: a function that
takes the customer and returns a `Panel` (a template and the context it needs) or None
to show nothing for that customer. The customer page renders every panel, in the order
the sources were registered, between the consent card and the timeline. Each template
is given the customer as `customer` besides its own context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from django.http import HttpRequest
from django.template.loader import render_to_string
from django.utils.safestring import SafeString

from tenants.models import Customer


@dataclass(frozen=True)
class Panel:
    """One card: the template that draws it and what that template needs."""

    template_name: str
    context: Mapping[str, Any] = field(default_factory=dict)


PanelSource = Callable[[Customer], Panel | None]

# Keyed by a name so that registering again (a second `ready()`, a test) replaces the
# source in its place rather than showing the card twice.
_sources: dict[str, PanelSource] = {}


def register_customer_panel(name: str, source: PanelSource) -> None:
    """Show the panel `source` returns on every customer page, after those registered
    before it. `name` identifies the source, e.g. "alerts.sync"."""
    _sources[name] = source


def unregister_customer_panel(name: str) -> None:
    """Stop showing a panel; unknown names are ignored."""
    _sources.pop(name, None)


def registered_customer_panels() -> list[str]:
    """The names of the registered sources, in the order their panels appear."""
    return list(_sources)


def customer_panels(*, customer: Customer) -> list[Panel]:
    """The panels to show for `customer`, in order."""
    panels = (source(customer) for source in list(_sources.values()))
    return [panel for panel in panels if panel is not None]


def render_customer_panels(*, customer: Customer, request: HttpRequest) -> list[SafeString]:
    """Each panel for `customer` as HTML, ready to print on the page."""
    # The template engine escapes what it prints, so its output is safe to print again.
    return [
        render_to_string(
            panel.template_name, {**panel.context, "customer": customer}, request=request
        )
        for panel in customer_panels(customer=customer)
    ]
