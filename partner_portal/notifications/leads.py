"""Who may change routing policies and suppression rules, and for which customers.

Portal admins and SOC leads change them; analysts only read. A SOC lead is an analyst, so
they see the customers of their scope: one whose scope grants every customer may change
any policy or rule, like an admin. A lead scoped to some customers may change only what
reaches no one else: a policy or rule that names customers, all in their scope, and no
tag (a tag can be put on any customer, tomorrow). That holds for the rule as it was
(they cannot take over another customer's rule) and as they save it. Channels and
customer tags stay with portal admins.

The form's customer choices are cut to the customers the person sees, so no other
customer's name is offered to a scoped lead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django import forms

from partner_portal.core.access import Role
from tenants import scoping

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

#: The roles that change policies and rules (a portal admin holds every role).
CHANGERS = (Role.SOC_LEAD, Role.ADMIN)


def refusal(
    *, user: User | AnonymousUser, customer_ids: Iterable[int], tag_ids: Iterable[int]
) -> str:
    """Why `user` may not change a policy or rule covering these customers and tags, in
    words; "" when they may."""
    if scoping.sees_all_customers(user):
        return ""
    named = set(customer_ids)
    if list(tag_ids):
        return (
            "Tags can cover customers outside your scope: name the customers instead, or ask "
            "a portal admin."
        )
    if not named:
        return (
            "Without customers named, this would cover every customer; name customers in "
            "your scope, or ask a portal admin."
        )
    mine = set(scoping.visible_customers(user=user).values_list("pk", flat=True))
    if named - mine:
        return "It covers customers outside your scope; only a portal admin may change it."
    return ""


def refusal_of(*, user: User | AnonymousUser, item: Any) -> str:
    """`refusal` for a saved policy or rule (its customers and tags as they are)."""
    if item.pk is None:
        return ""
    return refusal(
        user=user,
        customer_ids=[c.pk for c in item.customers.all()],
        tag_ids=[t.pk for t in item.tags.all()],
    )


def refusal_of_relations(*, user: User | AnonymousUser, relations: dict[str, Any]) -> str:
    """`refusal` for what a form is about to save."""
    return refusal(
        user=user,
        customer_ids=[c.pk for c in relations.get("customers") or ()],
        tag_ids=[t.pk for t in relations.get("tags") or ()],
    )


def limit_choices(form: forms.BaseForm, *, user: User | AnonymousUser) -> None:
    """Offer only the customers `user` sees (and no tags to a scoped lead)."""
    if scoping.sees_all_customers(user):
        return
    customers = form.fields.get("customers")
    if isinstance(customers, forms.ModelMultipleChoiceField):
        customers.queryset = scoping.visible_customers(user=user).order_by("display_name")
    tags = form.fields.get("tags")
    if isinstance(tags, forms.ModelMultipleChoiceField):
        tags.queryset = tags.queryset.none()  # type: ignore[union-attr]
        tags.help_text = "Only portal admins and leads who see every customer use tags."
