"""A policy's preview: which of the last days' alerts its conditions would have matched.

The preview judges the policy on its own conditions (earlier policies that would have
taken an alert first are not considered), over the alerts the reader may see, so an
analyst previews only their customers. The database narrows by customer or tag, severity
and title; categories and MITRE techniques are then checked by the same `Route.matches`
that routing uses, so the preview cannot disagree with delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.visibility import visible_alerts
from partner_portal.notifications.matching import facts_of, route_of
from partner_portal.notifications.models import Policy

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

PREVIEW_DAYS = 7
#: Alerts read at most, newest first; the page says when the window held more.
PREVIEW_SCAN = 5000
PREVIEW_SHOWN = 100


@dataclass(frozen=True)
class Preview:
    matched: list[Alert]
    matched_count: int
    scanned: int
    truncated: bool
    days: int = PREVIEW_DAYS


def policy_preview(*, policy: Policy, user: User | AnonymousUser) -> Preview:
    route = route_of(policy)
    since = timezone.now() - timedelta(days=PREVIEW_DAYS)
    alerts = visible_alerts(user=user).filter(created_at__gte=since)
    if route.customer_ids or route.tag_ids:
        alerts = alerts.filter(
            Q(customer_id__in=route.customer_ids) | Q(customer__notification_tags__in=route.tag_ids)
        ).distinct()
    if route.severities:
        alerts = alerts.filter(severity__in=route.severities)
    if route.title_contains:
        alerts = alerts.filter(title__icontains=route.title_contains)
    candidates = list(
        alerts.select_related("customer")
        .prefetch_related("customer__notification_tags")
        .order_by("-created_at", "-pk")[: PREVIEW_SCAN + 1]
    )
    truncated = len(candidates) > PREVIEW_SCAN
    matched = []
    for alert in candidates[:PREVIEW_SCAN]:
        tags = frozenset(tag.pk for tag in alert.customer.notification_tags.all())
        if route.matches(facts_of(alert, tags, evidence=route.needs_evidence)):
            matched.append(alert)
    return Preview(
        matched=matched[:PREVIEW_SHOWN],
        matched_count=len(matched),
        scanned=min(len(candidates), PREVIEW_SCAN),
        truncated=truncated,
    )
