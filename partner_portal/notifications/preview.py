"""A policy's or suppression rule's preview: which of the last days' alerts its
conditions would have matched.

The preview judges the policy on its own conditions (earlier policies that would have
taken an alert first are not considered), over the alerts the reader may see, so an
analyst previews only their customers. The database narrows by customer or tag, severity
and title; categories and MITRE techniques are then checked by the same `Route.matches`
that routing uses, so the preview cannot disagree with delivery. A suppression rule's
preview is the same reading of its `Snooze`, evidence conditions included (the stored
evidence JSON is then read for the candidates).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.db.models import Q
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.visibility import visible_alerts
from partner_portal.notifications.matching import Matchers, facts_of, route_of
from partner_portal.notifications.models import Policy, SuppressionRule
from partner_portal.notifications.suppression import snooze_of

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
    return matchers_preview(matchers=route_of(policy), user=user)


def rule_preview(*, rule: SuppressionRule, user: User | AnonymousUser) -> Preview:
    return matchers_preview(matchers=snooze_of(rule), user=user)


def matchers_preview(*, matchers: Matchers, user: User | AnonymousUser) -> Preview:
    """The alerts of the last days, among those `user` sees, that `matchers` match."""
    since = timezone.now() - timedelta(days=PREVIEW_DAYS)
    alerts = visible_alerts(user=user).filter(created_at__gte=since)
    if matchers.customer_ids or matchers.tag_ids:
        named = Q(customer_id__in=matchers.customer_ids)
        alerts = alerts.filter(named | Q(customer__notification_tags__in=matchers.tag_ids))
        alerts = alerts.distinct()
    if matchers.severities:
        alerts = alerts.filter(severity__in=matchers.severities)
    if matchers.title_contains:
        alerts = alerts.filter(title__icontains=matchers.title_contains)
    if not matchers.needs_evidence:
        alerts = alerts.defer("raw", "description")
    candidates = list(
        alerts.select_related("customer")
        .prefetch_related("customer__notification_tags")
        .order_by("-created_at", "-pk")[: PREVIEW_SCAN + 1]
    )
    truncated = len(candidates) > PREVIEW_SCAN
    matched = []
    for alert in candidates[:PREVIEW_SCAN]:
        tags = frozenset(tag.pk for tag in alert.customer.notification_tags.all())
        if matchers.matches(facts_of(alert, tags, evidence=matchers.needs_evidence)):
            matched.append(alert)
    return Preview(
        matched=matched[:PREVIEW_SHOWN],
        matched_count=len(matched),
        scanned=min(len(candidates), PREVIEW_SCAN),
        truncated=truncated,
    )
