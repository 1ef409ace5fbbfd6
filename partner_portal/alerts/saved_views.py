"""Saved views of the alert list: an analyst's named filters, personal or shared.

A view is only a name and the canonical query string of the filters that held a value
when it was saved (`ConsoleFilterForm.filter_querystring`), so opening it is following a
link to the list: the list's own form reads it again, through the viewer's scope. A
shared view naming a customer another analyst cannot see therefore shows that analyst
nothing of it (the customer is left out and the page says so), exactly like a shared
link.

Every analyst sees their own views and the shared ones; only the owner deletes a view.
Creating or deleting a shared view changes what everyone is offered, so it is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import QueryDict

from partner_portal.alerts.filters import AlertFilterForm
from partner_portal.alerts.models import SavedView
from tenants.audit import audit_record

if TYPE_CHECKING:
    from django.contrib.auth.models import User

MAX_VIEWS_PER_ANALYST = 50
CREATED = "saved_view.shared_created"
DELETED = "saved_view.shared_deleted"


class SavedViewRefused(Exception):
    """The view cannot be saved or deleted; the message is for the analyst."""


@dataclass(frozen=True)
class ViewLink:
    pk: int
    name: str
    query: str
    shared: bool
    mine: bool


def offered_views(*, user: User) -> QuerySet[SavedView]:
    """The views `user` may open: their own and every shared one, by name."""
    return SavedView.objects.filter(Q(owner=user) | Q(shared=True)).order_by("name", "pk")


def view_links(*, user: User) -> list[ViewLink]:
    return [
        ViewLink(view.pk, view.name, view.query, view.shared, view.owner_id == user.pk)
        for view in offered_views(user=user)
    ]


def save_view(
    *, owner: User, name: str, query: str, shared: bool, ip_address: str | None
) -> SavedView:
    """Save `query` (a list query string) as `name`. Only the filter's non-empty fields
    are kept, read through the list's form; a filter the list refuses is not saved."""
    form = AlertFilterForm(QueryDict(query), user=owner)
    if not form.is_valid():
        raise SavedViewRefused("Correct the filter before saving it as a view.")
    if SavedView.objects.filter(owner=owner).count() >= MAX_VIEWS_PER_ANALYST:
        raise SavedViewRefused(
            f"You have {MAX_VIEWS_PER_ANALYST} saved views already; delete one first."
        )
    with transaction.atomic():
        view = SavedView.objects.create(
            owner=owner, name=name, query=form.filter_querystring(), shared=shared
        )
        if shared:
            audit_record(
                action=CREATED,
                customer=None,
                actor=owner,
                ip_address=ip_address,
                summary=f"Shared view “{name}” created",
                details={"view": view.pk, "query": view.query},
            )
    return view


def delete_view(*, owner: User, pk: int, ip_address: str | None) -> SavedView:
    """Delete `owner`'s view `pk`; another analyst's view (shared or not) is refused."""
    with transaction.atomic():
        view = SavedView.objects.select_for_update().filter(pk=pk, owner=owner).first()
        if view is None:
            raise SavedViewRefused("That view is not one of yours, or it is already gone.")
        if view.shared:
            audit_record(
                action=DELETED,
                customer=None,
                actor=owner,
                ip_address=ip_address,
                summary=f"Shared view “{view.name}” deleted",
                details={"view": view.pk, "query": view.query},
            )
        view.delete()
    return view
