"""Starting a hunt and keeping queries: what an analyst does on the hunting page.

`start_hunt` records who asked what of which customers — only customers in the
analyst's scope are ever asked — writes the audit event in the same transaction, and
queues the fan-out once that commits. Saved queries are the analyst's own unless
shared; only their owner changes or deletes them.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import User
from django.db import transaction

from partner_portal.hunting.models import Hunt, HuntTarget, SavedQuery, Timespan
from tenants.audit import audit_record
from tenants.models import Customer
from tenants.scoping import visible_customers

MAX_QUERY_LENGTH = 10_000


class HuntRefused(ValueError):
    """The hunt cannot start; the message says why, in words."""


def start_hunt(
    *,
    user: User,
    query: str,
    timespan: str,
    customer_ids: Iterable[int] | None,
    ip_address: str | None = None,
) -> Hunt:
    """Send `query` to the chosen customers (all the user may see when None)."""
    query = query.strip()
    if not query:
        raise HuntRefused("Write a query first.")
    if len(query) > MAX_QUERY_LENGTH:
        raise HuntRefused(f"A query may be at most {MAX_QUERY_LENGTH:,} characters long.")
    if timespan not in Timespan.values:
        raise HuntRefused("Choose one of the offered time spans.")
    customers = visible_customers(user=user).exclude(tenant_id__isnull=True).exclude(tenant_id="")
    if customer_ids is not None:
        customers = customers.filter(pk__in=list(customer_ids))
    chosen: list[Customer] = list(customers)
    if not chosen:
        raise HuntRefused(
            "None of the chosen customers can be asked (none with a verified tenant)."
        )
    with transaction.atomic():
        hunt = Hunt.objects.create(created_by=user, query=query, timespan=timespan)
        HuntTarget.objects.bulk_create([HuntTarget(hunt=hunt, customer=c) for c in chosen])
        audit_record(
            action="hunt.started",
            customer=chosen[0] if len(chosen) == 1 else None,
            actor=user,
            ip_address=ip_address,
            summary=f"Hunted across {len(chosen)} customer{'s' if len(chosen) != 1 else ''}: "
            f"{query[:200]}",
            details={
                "hunt": hunt.pk,
                "query": query,
                "timespan": timespan,
                "customers": [c.pk for c in chosen],
                "customer_names": [c.display_name for c in chosen],
            },
        )

        def queue() -> None:
            from partner_portal.hunting.tasks import run_hunt

            run_hunt.delay(hunt.pk)

        transaction.on_commit(queue)
    return hunt


def save_query(*, user: User, name: str, query: str, timespan: str, shared: bool) -> SavedQuery:
    """Keep a query under a name (the user's own name space); saving again replaces it."""
    name, query = name.strip(), query.strip()
    if not name or not query:
        raise HuntRefused("A saved query needs a name and a query.")
    if len(query) > MAX_QUERY_LENGTH:
        raise HuntRefused(f"A query may be at most {MAX_QUERY_LENGTH:,} characters long.")
    saved, _ = SavedQuery.objects.update_or_create(
        owner=user,
        name=name[:100],
        defaults={"query": query, "timespan": timespan, "shared": shared},
    )
    return saved


def delete_query(*, user: User, pk: int) -> bool:
    """Delete one of the user's own saved queries; False if there is none such."""
    deleted, _ = SavedQuery.objects.filter(owner=user, pk=pk).delete()
    return bool(deleted)
