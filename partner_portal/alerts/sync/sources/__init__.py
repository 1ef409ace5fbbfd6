"""The registry of data sources: a source's stored name leads to its module.

The dispatcher, the pass, the progress reads and `sync_now` find sources here and
nowhere else, in the order they are registered (the order the customer page lists them).
Adding a source is writing its module (see `base.Source`) and one `register` line below.
"""

from __future__ import annotations

from partner_portal.alerts.sync.sources.base import (
    COLLECTING,
    CUSTOMER_FIELDS,
    AnySource,
    Source,
    SyncClient,
)
from partner_portal.alerts.sync.sources.graph_alerts import GraphAlerts
from partner_portal.alerts.sync.sources.graph_incidents import GraphIncidents
from partner_portal.alerts.sync.sources.mde_alerts import MdeAlerts
from partner_portal.alerts.sync.sources.xdr_incidents import XdrIncidents

__all__ = [
    "COLLECTING",
    "CUSTOMER_FIELDS",
    "AnySource",
    "Source",
    "SyncClient",
    "all_sources",
    "customer_fields",
    "find",
    "names",
    "register",
    "unregister",
]

_registry: dict[str, AnySource] = {}


def register(source: AnySource) -> AnySource:
    """Make `source` known by its name; a name is registered once."""
    if source.name in _registry:
        raise ValueError(f"a source named {source.name!r} is registered already")
    _registry[source.name] = source
    return source


def unregister(name: str) -> None:
    """Forget a source (tests that register a source of their own)."""
    _registry.pop(name, None)


def find(name: str) -> AnySource | None:
    """The source stored as `name`, or None for a name no module declares."""
    return _registry.get(name)


def all_sources() -> list[AnySource]:
    return list(_registry.values())


def names() -> list[str]:
    return list(_registry)


def customer_fields() -> list[str]:
    """The customer fields that deciding every source's `enabled_for` reads."""
    fields = list(CUSTOMER_FIELDS)
    for source in _registry.values():
        fields.extend(f for f in source.customer_fields if f not in fields)
    return fields


register(MdeAlerts())
register(XdrIncidents())
register(GraphAlerts())
register(GraphIncidents())
