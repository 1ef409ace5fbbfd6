"""What the hunting pages read: a hunt belongs to the analyst who started it, and its
answers are shown only for customers still in that analyst's scope."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db.models import Q, QuerySet

from partner_portal.hunting.models import Hunt, HuntTarget, SavedQuery
from tenants.scoping import restrict

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

#: Rows per customer sent to the page; the CSV export has every row kept.
SHOWN_ROWS = 500


def recent_hunts(*, user: User | AnonymousUser, limit: int = 20) -> QuerySet[Hunt]:
    return Hunt.objects.filter(created_by_id=user.pk).order_by("-created_at", "-pk")[:limit]


def hunt_for(*, user: User | AnonymousUser, pk: int) -> Hunt | None:
    return Hunt.objects.filter(created_by_id=user.pk, pk=pk).first()


def targets(*, user: User | AnonymousUser, hunt: Hunt) -> QuerySet[HuntTarget]:
    """The hunt's targets the user may (still) see, in the order they finished."""
    return restrict(hunt.targets.select_related("customer"), user).order_by(
        "finished_seq", "customer__display_name", "pk"
    )


def finished_after(*, user: User | AnonymousUser, hunt: Hunt, after: int) -> list[dict[str, Any]]:
    """The targets that finished after the `after`-th, ready for the page's script."""
    found = targets(user=user, hunt=hunt).filter(finished_seq__gt=after)
    return [
        {
            "seq": t.finished_seq,
            "customer": t.customer.display_name,
            "status": t.status,
            "error": t.error,
            "error_code": t.error_code,
            "columns": t.columns,
            "rows": t.rows[:SHOWN_ROWS],
            "row_count": t.row_count,
            "kept": len(t.rows),
        }
        for t in found
    ]


def saved_queries(*, user: User | AnonymousUser) -> QuerySet[SavedQuery]:
    """The user's own saved queries and those others shared."""
    return SavedQuery.objects.filter(Q(owner_id=user.pk) | Q(shared=True)).select_related("owner")


def saved_query(*, user: User | AnonymousUser, pk: int) -> SavedQuery | None:
    return saved_queries(user=user).filter(pk=pk).first()


def export_rows(*, user: User | AnonymousUser, hunt: Hunt) -> tuple[list[str], list[list[Any]]]:
    """Every kept row of the hunt as a table: a customer column, then every column any
    customer's answer had, in the order first seen."""
    done = [t for t in targets(user=user, hunt=hunt) if t.rows]
    columns: dict[str, None] = {}
    for target in done:
        columns.update(dict.fromkeys(target.columns))
    names = list(columns)
    table = [
        [target.customer.display_name, *(row.get(name, "") for name in names)]
        for target in done
        for row in target.rows
    ]
    return ["Customer", *names], table
