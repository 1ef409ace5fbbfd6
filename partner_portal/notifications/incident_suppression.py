"""Suppression of incident messages ("new incident", "severity rose"): which stored
incidents a rule keeps quiet, decided here alone.

Only rules that say so ("also keep incidents quiet", `SuppressionRule.incidents`) touch
incidents, and such a rule keeps an incident quiet in either of two cases:

- the incident matches the rule itself, on what an incident has: its customer and tags,
  its severity and its name (for "title contains"). A rule that also sets a condition
  only alerts have (product, detection source, category, MITRE technique or evidence) is
  not judged on the incident this way, since the incident cannot answer it;
- every alert of the incident was caught by such a rule (each has a hit of an unexpired
  rule that keeps incidents quiet): the incident is made only of suppressed alerts.

A kept-quiet incident is routed to no policy; the first rule that caught it records a hit
under the name `incident:<ID>` (with the incident's name as its title), once, like an
alert's, so the rule's page says why no incident message went out. Incident messages
already waiting are sent as they are: rules apply when an incident is stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from partner_portal.alerts.models import Incident
from partner_portal.notifications.matching import AlertFacts
from partner_portal.notifications.models import SuppressionHit
from partner_portal.notifications.suppression import Snooze

PREFIX = "incident:"


def hit_name(incident_id: int) -> str:
    return f"{PREFIX}{incident_id}"


def _judged_on_incident(snooze: Snooze) -> bool:
    return not (
        snooze.products
        or snooze.detectors
        or snooze.categories
        or snooze.mitre_techniques
        or snooze.evidence
    )


def quiet_incidents(
    *,
    snoozes: list[Snooze],
    customer_id: int,
    tag_ids: frozenset[int],
    incidents: Iterable[Incident],
    now: datetime,
) -> set[int]:
    """The IDs of these incidents that a rule keeps quiet; their hits are written."""
    rules = [snooze for snooze in snoozes if snooze.incidents]
    incidents = list(incidents)
    if not rules or not incidents:
        return set()
    caught_alerts = _alerts_caught(customer_id, rules, incidents)
    quiet: dict[int, tuple[Snooze, Incident]] = {}
    for incident in incidents:
        facts = AlertFacts(customer_id, tag_ids, incident.severity, "", (), incident.name)
        rule = next((r for r in rules if _judged_on_incident(r) and r.matches(facts)), None)
        alert_ids = list(incident.alert_ids or [])
        if rule is None and alert_ids and all(a in caught_alerts for a in alert_ids):
            rule = next(r for r in rules if r.rule_id == caught_alerts[alert_ids[0]])
        if rule is not None:
            quiet[incident.incident_id] = (rule, incident)
    SuppressionHit.objects.bulk_create(
        [
            SuppressionHit(
                rule_id=rule.rule_id,
                customer_id=customer_id,
                alert_id=hit_name(incident_id),
                title=incident.name[:500],
                at=now,
            )
            for incident_id, (rule, incident) in quiet.items()
        ],
        ignore_conflicts=True,
    )
    return set(quiet)


def _alerts_caught(
    customer_id: int, rules: list[Snooze], incidents: list[Incident]
) -> dict[str, int]:
    """Alert ID -> the (oldest) incident-quieting rule that caught it, for these incidents."""
    wanted = {a for incident in incidents for a in incident.alert_ids or []}
    if not wanted:
        return {}
    order = {rule.rule_id: position for position, rule in enumerate(rules)}
    hits = SuppressionHit.objects.filter(
        customer_id=customer_id, rule_id__in=list(order), alert_id__in=wanted
    ).values_list("alert_id", "rule_id")
    caught: dict[str, int] = {}
    for alert_id, rule_id in hits:
        if alert_id not in caught or order[rule_id] < order[caught[alert_id]]:
            caught[alert_id] = rule_id
    return caught
