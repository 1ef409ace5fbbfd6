"""Suppression rules as people handle them: saved, renewed and ended (each in one
transaction with its audit event), listed with their hits, and prefilled from an alert.

A rule must say why it exists and must expire: saving sets its expiry from now, at most
`NOTIFY_SUPPRESSION_MAX_DAYS` ahead, so renewing is saving again. Ending a rule sets its
expiry to now; it stays listed, as expired, with its hits, and the alerts it hid from the
queue come back to it. Reads are cut to the reader's
customers like the policies: a rule naming only customers the reader cannot see (and no
tag) is not shown, and only hits on the reader's customers are counted and listed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Count, Max, Q
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.notifications.evidence_values import KINDS, alert_evidence, choices_of
from partner_portal.notifications.models import (
    SuppressionAction,
    SuppressionHit,
    SuppressionRule,
)
from tenants import scoping
from tenants.audit import audit_record
from tenants.models import Customer

if TYPE_CHECKING:
    from django.contrib.auth.models import AnonymousUser, User

#: Hits listed on a rule's page, newest first.
HITS_SHOWN = 100
CONDITIONS = (
    "products", "severities", "title_contains", "categories", "mitre_techniques", "detectors",
    *KINDS,
)  # fmt: skip


def max_days() -> int:
    return int(settings.NOTIFY_SUPPRESSION_MAX_DAYS)


# --- changes -----------------------------------------------------------------------------------
@transaction.atomic
def rule_save(
    *, rule: SuppressionRule, relations: dict[str, Any], days: int, actor: User
) -> SuppressionRule:
    """Create, change or renew a rule: it expires `days` days from now. A new rule (or
    one whose owner has left) is owned by `actor`, in whose name it resolves alerts."""
    if not 1 <= days <= max_days():
        raise ValidationError(f"A rule lasts 1 to {max_days()} days; renew it to go on.")
    if not rule.reason.strip():
        raise ValidationError("Say why alerts like these may stay quiet.")
    if rule.action == SuppressionAction.RESOLVE and not rule.classification:
        raise ValidationError("Choose the classification Defender is to record.")
    created = rule.pk is None
    now = timezone.now()
    rule.expires_at = now + timedelta(days=days)
    rule.changed_at = now
    if rule.owner_id is None:
        rule.owner = actor
    rule.full_clean()
    rule.save()
    for name in ("customers", "tags"):
        if name in relations:
            getattr(rule, name).set(relations[name])
    conditions = {name: getattr(rule, name) for name in CONDITIONS if getattr(rule, name)}
    audit_record(
        action="notifications.suppression_created"
        if created
        else "notifications.suppression_changed",
        customer=None,
        actor=actor,
        summary=f"{'Created' if created else 'Changed'} suppression rule #{rule.pk} "
        f"until {rule.expires_at:%Y-%m-%d %H:%M} UTC: {rule.reason}",
        details={
            "rule_id": rule.pk,
            "action": rule.action,
            "expires_at": rule.expires_at.isoformat(),
            "customers": sorted(c.pk for c in rule.customers.all()),
            "tags": sorted(t.name for t in rule.tags.all()),
            "conditions": conditions,
            "classification": rule.classification,
            "incidents": rule.incidents,
        },
    )
    return rule


@transaction.atomic
def rule_end(*, rule: SuppressionRule, actor: User) -> None:
    """End a rule now: it stops matching and is shown as expired."""
    now = timezone.now()
    if rule.expires_at > now:
        rule.expires_at = now
        rule.changed_at = now
        rule.save(update_fields=["expires_at", "changed_at"])
    Alert.objects.filter(hidden_by_rule=rule.pk).update(hidden_by_rule=None, hidden_because="")
    audit_record(
        action="notifications.suppression_ended",
        customer=None,
        actor=actor,
        summary=f"Ended suppression rule #{rule.pk}: {rule.reason}",
        details={"rule_id": rule.pk},
    )


# --- reads -------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleRow:
    rule: SuppressionRule
    customers: list[Customer]
    hits: int
    last_hit: datetime | None
    expired: bool


def rule_list(*, user: User | AnonymousUser) -> list[RuleRow]:
    """Unexpired rules first (soonest to expire first), then expired ones, newest first."""
    visible = scoping.visible_customers(user=user).values("pk")
    mine = Q(hits__customer__in=visible)
    rules = (
        SuppressionRule.objects.prefetch_related("customers", "tags")
        .select_related("owner")
        .annotate(hit_count=Count("hits", filter=mine), last_hit=Max("hits__at", filter=mine))
    )
    visible_ids = set(scoping.visible_customers(user=user).values_list("pk", flat=True))
    now = timezone.now()
    rows = []
    for rule in rules:
        named = list(rule.customers.all())
        shown = [customer for customer in named if customer.pk in visible_ids]
        if named and not shown and not rule.tags.all():
            continue
        rows.append(RuleRow(rule, shown, rule.hit_count, rule.last_hit, rule.is_expired(now)))
    live = sorted((r for r in rows if not r.expired), key=lambda r: r.rule.expires_at)
    done = sorted((r for r in rows if r.expired), key=lambda r: r.rule.expires_at, reverse=True)
    return live + done


def visible_rule(*, pk: int, user: User | AnonymousUser) -> RuleRow | None:
    return next((row for row in rule_list(user=user) if row.rule.pk == pk), None)


@dataclass(frozen=True)
class HitRow:
    hit: SuppressionHit
    alert_pk: int | None


def rule_hits(*, rule: SuppressionRule, user: User | AnonymousUser) -> list[HitRow]:
    """The latest alerts the rule kept quiet, of the reader's customers, linked to their
    pages while they are stored."""
    visible = scoping.visible_customers(user=user).values("pk")
    hits = list(
        SuppressionHit.objects.filter(rule=rule, customer__in=visible)
        .select_related("customer")
        .order_by("-at", "-pk")[:HITS_SHOWN]
    )
    stored = Alert.objects.filter(_any_of((h.customer_id, h.alert_id) for h in hits)).values_list(
        "customer_id", "alert_id", "pk"
    )
    pks = {(customer_id, alert_id): pk for customer_id, alert_id, pk in stored}
    return [HitRow(hit, pks.get((hit.customer_id, hit.alert_id))) for hit in hits]


def _any_of(keys: Iterable[tuple[int, str]]) -> Q:
    condition = Q(pk__in=[])
    for customer_id, alert_id in keys:
        condition |= Q(customer_id=customer_id, alert_id=alert_id)
    return condition


def evidence_choices(alert: Alert) -> dict[str, list[str]]:
    """The alert's evidence values of each kind, offered as ticks on the prefilled form."""
    return choices_of(alert_evidence(alert))


def initial_from_alert(alert: Alert) -> dict[str, Any]:
    """What "suppress alerts like this" fills in: the alert's customer, product, title,
    category and detector (severity, techniques and evidence are left open; the alert's
    evidence values are offered to tick)."""
    return {
        "customers": [alert.customer_id],
        "products": [alert.service_source or "microsoftDefenderForEndpoint"],
        "title_contains": alert.title[:200],
        "categories_text": alert.category,
        "detectors_text": alert.detection_source,
        "reason": "",
    }
