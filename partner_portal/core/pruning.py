"""Deleting many old rows without holding up the rows that are still in use.

Retention deletes what has aged out of a table that the sync and the console use all
day. One `DELETE` of a million rows would hold its locks, and grow the write-ahead log,
for as long as it takes; `delete_in_batches` instead picks the primary keys of at most
`batch_size` matching rows, deletes those in a transaction of their own, and repeats
until nothing matches. Each batch is short, so a sync pass waiting on one of those rows
waits for one batch at most, and a stop part-way loses nothing but the batches not yet
done (the next night picks them up).

Apps that sit above the alerts app (notifications' delivery log) have rows to let go too,
but retention lives in the alerts app, which may not import them: such an app registers
a `Prunable` from its `AppConfig.ready()`, and retention deletes what it names.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.db.models import Model, QuerySet


def delete_in_batches(queryset: QuerySet[Model], *, batch_size: int) -> int:
    """Delete every row of `queryset`, `batch_size` at a time; the number of rows deleted
    from its model (rows deleted by cascade are not counted)."""
    if batch_size < 1:
        raise ValueError("batch_size must be 1 or more")
    model = queryset.model
    label = model._meta.label
    deleted = 0
    while True:
        pks = list(queryset.order_by().values_list("pk", flat=True)[:batch_size])
        if not pks:
            return deleted
        with transaction.atomic():
            _, per_model = model._default_manager.filter(pk__in=pks).delete()
        batch = per_model.get(label, 0)
        if not batch:  # someone else deleted them first; what is left is theirs to finish
            return deleted
        deleted += batch


# --- what apps above the alerts app let go ---------------------------------------------
@dataclass(frozen=True)
class Prunable:
    """Rows of an app that the nightly retention deletes with the rest.

    `expired(now)` returns the rows to delete, or None when the app's setting keeps them
    for ever. `name` keys the count in the retention report; `words` names the rows in
    its sentence ("notification delivery attempts").
    """

    name: str
    words: str
    expired: Callable[[datetime], QuerySet[Any] | None]


# Registered by name (an app's `ready()` may run twice); deleted in registration order.
_prunables: dict[str, Prunable] = {}


def register_prunable(prunable: Prunable) -> None:
    """Have the nightly retention (and `apply_retention --dry-run`) include `prunable`."""
    _prunables[prunable.name] = prunable


def unregister_prunable(name: str) -> None:
    _prunables.pop(name, None)


def registered_prunables() -> list[Prunable]:
    return list(_prunables.values())
