"""Suppression: the rules that keep alerts quiet, as the outbox applies them.

The outbox (`outbox.record_stored`) asks `caught_by` about every new or changed alert
before routing it. An alert that an unexpired rule matches is not routed at all: no
policy sees it, so no channel hears of it. Instead each matching rule records a hit (the
rule, the customer, the alert), which is why nothing was sent and what the rules page
counts; a hit is written once per rule and alert, however often the alert is synced.

A rule whose action is "resolve" also resolves the alert in Defender: the first such
rule's hit waits in state "pending", and once the page commits a task calls the
portal's write-back (`alerts.writeback.alert_update`) in the rule owner's name, with the
rule's classification and determination and a comment naming the rule. The write-back
records its own audit event, and the hit keeps how it ended, in words. Beat's sweep
queues again any hit a lost task left pending.

A rule whose action is "hide" also takes the alert out of the queue: the hit marks the
alert's row (`Alert.hidden_by_rule`, with the rule's number and reason for its badge),
which the alert list, its counts, live updates and the overview leave out unless the
filter asks to show hidden alerts. The mark stays when the rule expires (the alert was
hidden while it stood); ending a rule by hand brings back the alerts it hid.

A rule made while a notification waits (its group wait, a mute window, a retry) takes
effect too: before sending, `still_to_send` drops the alerts a rule now matches, and a
notification left with none is not sent.

An expired rule matches nothing: `active_snoozes` reads only rules whose expiry is still
ahead, at the moment the page is stored (or the notification sent).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.writeback import AlertChanges, Outcome, alert_update
from partner_portal.notifications.evidence_values import KINDS
from partner_portal.notifications.matching import AlertFacts, Matchers, facts_of, folded
from partner_portal.notifications.models import (
    CustomerTag,
    Notification,
    SuppressionAction,
    SuppressionHit,
    SuppressionRule,
)

logger = logging.getLogger(__name__)

RESOLVED = "resolved"


@dataclass(frozen=True, kw_only=True)
class Snooze(Matchers):
    """A suppression rule as the outbox uses it."""

    rule_id: int
    resolves: bool
    hides: bool = False
    reason: str = ""
    #: Keeps incident messages quiet too (`incident_suppression`).
    incidents: bool = False


@dataclass(frozen=True)
class Caught:
    """An alert kept quiet, and the rules that caught it (oldest first)."""

    alert_id: str
    title: str
    snoozes: tuple[Snooze, ...]


def snooze_of(rule: SuppressionRule) -> Snooze:
    """The matching view of one rule (its customers and tags should be prefetched)."""
    return Snooze(
        rule_id=rule.pk,
        resolves=rule.action == SuppressionAction.RESOLVE,
        hides=rule.action == SuppressionAction.HIDE,
        incidents=rule.incidents,
        reason=rule.reason,
        customer_ids=frozenset(c.pk for c in rule.customers.all()),
        tag_ids=frozenset(t.pk for t in rule.tags.all()),
        severities=frozenset(rule.severities),
        categories=folded(rule.categories),
        mitre_techniques=frozenset(str(t).upper() for t in rule.mitre_techniques),
        title_contains=rule.title_contains.casefold(),
        products=folded(rule.products),
        detectors=folded(rule.detectors),
        evidence=evidence_conditions(rule),
    )


def evidence_conditions(rule: SuppressionRule) -> tuple[tuple[str, frozenset[str]], ...]:
    """The rule's evidence conditions, as `Matchers.evidence` holds them (saved normalised)."""
    return tuple(
        (kind, frozenset(str(v) for v in getattr(rule, kind)))
        for kind in KINDS
        if getattr(rule, kind)
    )


def hidden_label(snooze: Snooze) -> str:
    """What the alert list's badge says of the rule that hid an alert."""
    return f"Suppression rule #{snooze.rule_id}: {snooze.reason}"[:500]


def active_snoozes(*, now: datetime) -> list[Snooze]:
    """The rules that have not expired at `now`, oldest first."""
    rules = SuppressionRule.objects.filter(expires_at__gt=now).prefetch_related("customers", "tags")
    return [snooze_of(rule) for rule in rules.order_by("created_at", "pk")]


def caught_by(snoozes: list[Snooze], facts: AlertFacts) -> tuple[Snooze, ...]:
    """The rules that keep this alert quiet (none: route it)."""
    return tuple(snooze for snooze in snoozes if snooze.matches(facts))


def record_hits(*, customer_id: int, caught: list[Caught], now: datetime) -> None:
    """Write the hits of one stored page (inside its transaction); queue the resolving of
    the alerts a resolve rule caught for the first time, once the page commits."""
    rule_ids = {snooze.rule_id for item in caught for snooze in item.snoozes}
    known = set(
        SuppressionHit.objects.filter(
            customer_id=customer_id,
            rule_id__in=rule_ids,
            alert_id__in=[item.alert_id for item in caught],
        ).values_list("rule_id", "alert_id")
    )
    rows = []
    for item in caught:
        resolver = next((s.rule_id for s in item.snoozes if s.resolves), None)
        already = any((s.rule_id, item.alert_id) in known for s in item.snoozes if s.resolves)
        for snooze in item.snoozes:
            if (snooze.rule_id, item.alert_id) in known:
                continue
            resolve = (
                SuppressionHit.Resolve.PENDING
                if snooze.rule_id == resolver and not already
                else SuppressionHit.Resolve.NONE
            )
            rows.append(
                SuppressionHit(
                    rule_id=snooze.rule_id,
                    customer_id=customer_id,
                    alert_id=item.alert_id,
                    title=item.title[:500],
                    at=now,
                    resolve=resolve,
                )
            )
    _hide(customer_id, caught)
    if not rows:
        return
    SuppressionHit.objects.bulk_create(rows, ignore_conflicts=True)
    pending = list(
        SuppressionHit.objects.filter(
            customer_id=customer_id,
            alert_id__in=[row.alert_id for row in rows if row.resolve],
            resolve=SuppressionHit.Resolve.PENDING,
            at=now,
        ).values_list("pk", flat=True)
    )
    if pending:
        from partner_portal.notifications import tasks

        def enqueue() -> None:
            for pk in pending:
                tasks.resolve_suppressed.delay(pk)

        transaction.on_commit(enqueue)


def _hide(customer_id: int, caught: list[Caught]) -> None:
    """Mark the alerts a hide rule caught (the oldest such rule is named), unless a rule
    marked them already."""
    by_rule: dict[Snooze, list[str]] = {}
    for item in caught:
        hider = next((s for s in item.snoozes if s.hides), None)
        if hider is not None:
            by_rule.setdefault(hider, []).append(item.alert_id)
    for snooze, alert_ids in by_rule.items():
        Alert.objects.filter(
            customer_id=customer_id, alert_id__in=alert_ids, hidden_by_rule__isnull=True
        ).update(hidden_by_rule=snooze.rule_id, hidden_because=hidden_label(snooze))


def still_to_send(*, notification: Notification, now: datetime) -> list[str]:
    """The alerts of a waiting notification that no rule keeps quiet now; those a rule
    made since it was written are dropped from it and recorded as that rule's hits."""
    snoozes = active_snoozes(now=now)
    if not snoozes or notification.customer_id is None:
        return list(notification.alert_ids)
    customer_id = notification.customer_id
    tag_ids = frozenset(
        CustomerTag.objects.filter(customers=customer_id).values_list("pk", flat=True)
    )
    caught = []
    for alert in Alert.objects.filter(
        customer_id=customer_id, alert_id__in=notification.alert_ids
    ).only("customer_id", "alert_id", "severity", "category", "mitre_techniques", "title",
           "service_source", "detection_source", "raw", "machine_id", "computer_dns_name",
           "related_user"):  # fmt: skip
        facts = facts_of(alert, tag_ids, evidence=any(s.needs_evidence for s in snoozes))
        quieted = caught_by(snoozes, facts)
        if quieted:
            caught.append(Caught(alert.alert_id, alert.title, quieted))
    if caught:
        record_hits(customer_id=customer_id, caught=caught, now=now)
    dropped = {item.alert_id for item in caught}
    return [alert_id for alert_id in notification.alert_ids if alert_id not in dropped]


def pending_hit_ids(*, limit: int = 100) -> list[int]:
    """Hits still waiting to be resolved well after they were written: what a lost task
    left behind (beat's sweep queues them again)."""
    grace = timezone.now() - timedelta(seconds=settings.NOTIFY_SWEEP_GRACE_SECONDS)
    return list(
        SuppressionHit.objects.filter(resolve=SuppressionHit.Resolve.PENDING, at__lte=grace)
        .order_by("at")
        .values_list("pk", flat=True)[:limit]
    )


def resolve_hit(*, hit_id: int) -> str:
    """Resolve in Defender the alert of one pending hit; the hit's new state.

    Safe to run twice: a hit no longer pending is left alone, and the write-back sends
    nothing when Defender has the values already."""
    with transaction.atomic():
        hit = (
            SuppressionHit.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("rule", "rule__owner")
            .filter(pk=hit_id, resolve=SuppressionHit.Resolve.PENDING)
            .first()
        )
        if hit is None:
            return "skipped"
        state, message = _resolve(hit)
        hit.resolve = state
        hit.resolve_message = message
        hit.save(update_fields=["resolve", "resolve_message"])
    return str(state)


def _resolve(hit: SuppressionHit) -> tuple[SuppressionHit.Resolve, str]:
    rule = hit.rule
    alert = (
        Alert.objects.select_related("customer")
        .filter(customer_id=hit.customer_id, alert_id=hit.alert_id)
        .first()
    )
    if alert is None:
        return SuppressionHit.Resolve.FAILED, "The alert is no longer stored in the portal."
    if alert.status.casefold() == RESOLVED:
        return SuppressionHit.Resolve.DONE, "The alert was resolved already."
    if rule.owner is None:
        return SuppressionHit.Resolve.FAILED, (
            "The rule's owner no longer has an account, and Defender is changed only in "
            "someone's name; edit the rule to take it over."
        )
    changes = AlertChanges(
        status="Resolved",
        classification=rule.classification or None,
        determination=rule.determination or None,
        comment=f"Resolved by the portal's suppression rule #{rule.pk}: {rule.reason}",
    )
    result = alert_update(
        alert=alert, actor=rule.owner, changes=changes, seen_last_update=alert.last_updated_at
    )
    if result.outcome == Outcome.CONFLICT:
        # The row now holds Defender's version; the rule still stands, so try once more.
        result = alert_update(
            alert=alert, actor=rule.owner, changes=changes, seen_last_update=alert.last_updated_at
        )
    if result.ok:
        return SuppressionHit.Resolve.DONE, result.message
    logger.info("Suppression rule %s could not resolve alert %s", rule.pk, alert.pk)
    return SuppressionHit.Resolve.FAILED, result.message
