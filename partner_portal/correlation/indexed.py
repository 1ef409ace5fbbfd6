"""Who hears about what the index recorded: listeners called inside the indexing
transaction.

Apps above this one (notifications) want to act when an indicator turns up at one more
customer — a campaign detected, or one that grew — and to record that in the same
transaction as the sightings, so that a crash can neither lose the event nor keep it
without them. This app may not import them, so `index.index_pending` announces each page
it indexed here and an app registers a listener, usually from its `AppConfig.ready()`.

A listener takes one `IndexedAlerts` (the portal's alert rows whose sightings were just
recorded; those that brought no new sighting are left out) and runs inside the indexing
transaction: what it writes commits or rolls back with the page. It must be quick and
must not talk to the network; queue work with `transaction.on_commit` instead. The
`index_indicators` command, which fills the index for old alerts, announces nothing:
old alerts are no news.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class IndexedAlerts:
    """One indexed page: its customer and the primary keys of its alerts."""

    customer_id: int
    alert_pks: tuple[int, ...]


IndexListener = Callable[[IndexedAlerts], None]

# Keyed by name so that registering again (a second `ready()`, a test) replaces it.
_listeners: dict[str, IndexListener] = {}


def register_index_listener(name: str, listener: IndexListener) -> None:
    """Call `listener` with every indexed page that added sightings."""
    _listeners[name] = listener


def unregister_index_listener(name: str) -> None:
    """Stop calling a listener; unknown names are ignored."""
    _listeners.pop(name, None)


def announce_indexed(indexed: IndexedAlerts) -> None:
    """Tell every listener; called by `index.index_pending` inside its transaction."""
    if indexed.alert_pks:
        for listener in list(_listeners.values()):
            listener(indexed)
