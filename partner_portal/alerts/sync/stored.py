"""Who hears about what a sync stored: listeners called inside the storing transaction.

Apps above the alerts app (notifications) want to act on every alert or incident that a
page brought in or changed, and to record that in the same transaction as the rows, so
that a crash can neither lose the event nor keep it without the rows. The alerts app may
not import them (dependencies point one way), so the upserts announce what they wrote
here and an app registers a listener, usually from its `AppConfig.ready()`.

A listener takes one `StoredChanges` and runs inside the upsert's transaction: what it
writes commits or rolls back with the page, and an exception it raises rolls the page
back too (the pass is then retried like any other failed page). It must be quick and
must not talk to the network; queue work with `transaction.on_commit` instead.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.db import connection


@dataclass(frozen=True)
class StoredChanges:
    """What one upsert wrote for one customer: Defender alert IDs and incident IDs,
    new and changed (rewritten because Microsoft's copy was newer)."""

    customer_id: int
    new_alert_ids: tuple[str, ...] = ()
    changed_alert_ids: tuple[str, ...] = ()
    new_incident_ids: tuple[int, ...] = ()
    changed_incident_ids: tuple[int, ...] = ()

    def __bool__(self) -> bool:
        return bool(
            self.new_alert_ids
            or self.changed_alert_ids
            or self.new_incident_ids
            or self.changed_incident_ids
        )


StoreListener = Callable[[StoredChanges], None]

# Keyed by name so that registering again (a second `ready()`, a test) replaces it.
_listeners: dict[str, StoreListener] = {}


def register_store_listener(name: str, listener: StoreListener) -> None:
    """Call `listener` with every non-empty `StoredChanges`, after those registered before."""
    _listeners[name] = listener


def unregister_store_listener(name: str) -> None:
    """Stop calling a listener; unknown names are ignored."""
    _listeners.pop(name, None)


def announce_stored(changes: StoredChanges) -> None:
    """Tell every listener what was stored; called by the upserts inside their transaction."""
    if not changes or not _listeners:
        return
    if not connection.in_atomic_block:
        raise RuntimeError("announce_stored must run inside the transaction that stored the rows")
    for listener in list(_listeners.values()):
        listener(changes)
