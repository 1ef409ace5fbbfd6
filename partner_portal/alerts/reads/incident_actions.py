"""The incidents an analyst acts on: each read through `visibility.visible_incidents`, so
an incident of a customer outside the analyst's scope is "not found" and never changed;
and what analysts did to one through the portal (its write-back's audit events)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from partner_portal.alerts.models import Incident
from partner_portal.alerts.visibility import visible_incidents
from tenants.models import AuditEvent

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

RECENT_ACTIONS_LIMIT = 20


def incident_for_action(*, user: User | AnonymousUser, pk: int) -> Incident | None:
    """One incident `user` may see and change, or None."""
    return visible_incidents(user=user).select_related("customer").filter(pk=pk).first()


def incidents_for_action(*, user: User | AnonymousUser, pks: list[int]) -> list[Incident]:
    """The chosen incidents `user` may see (others are silently dropped, never acted on)."""
    chosen = visible_incidents(user=user).select_related("customer").filter(pk__in=pks)
    return list(chosen.order_by("customer_id", "id"))


def incident_recent_actions(*, incident: Incident) -> list[AuditEvent]:
    """The latest write-back attempts on `incident`, newest first (the caller has
    already established that the user may see it)."""
    return list(
        AuditEvent.objects.filter(
            customer_id=incident.customer_id,
            action__startswith="incident.",
            details__incident_id=incident.incident_id,
        ).order_by("-created_at", "-id")[:RECENT_ACTIONS_LIMIT]
    )
