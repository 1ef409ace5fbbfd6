"""Which policies an alert matches: the routing rules, decided here alone.

A policy's matchers are ANDed; each matcher left empty matches everything. The customer
matcher holds when the alert's customer is named or carries one of the named tags (so a
customer tagged "Gold" tomorrow is covered by today's "Gold" policy). Product, detector,
category and title are compared without regard to case (a legacy alert, which names no
product, is Defender for Endpoint's), MITRE techniques by their ID (T1059 also matches
T1059.001), evidence values (file hashes, devices, users, IP addresses, URLs or domains;
`evidence_values`) exactly after normalising, a condition holding when the alert's
evidence has one of its values. Policies are tried in order; the first that matches
decides, unless it says "continue", in which case the next ones are tried too.
Suppression rules use the same `Matchers`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from partner_portal.alerts.models import Alert
from partner_portal.notifications.evidence_values import NO_EVIDENCE, EvidenceValues, alert_evidence
from partner_portal.notifications.models import Policy

#: The product of a legacy Defender for Endpoint alert, which names none.
ENDPOINT = "microsoftdefenderforendpoint"


@dataclass(frozen=True)
class AlertFacts:
    """What routing and suppression look at in an alert."""

    customer_id: int
    tag_ids: frozenset[int]
    severity: str
    category: str
    mitre_techniques: tuple[str, ...]
    title: str
    #: Graph's serviceSource (e.g. "microsoftDefenderForOffice365"); "" for the legacy API.
    product: str = ""
    #: The detection source (e.g. "WindowsDefenderAtp", "microsoftDefenderForEndpoint").
    detector: str = ""
    #: Read only when a rule has evidence conditions (`Matchers.needs_evidence`).
    evidence: EvidenceValues = NO_EVIDENCE


def facts_of(
    alert: Alert, tag_ids: frozenset[int] = frozenset(), *, evidence: bool = False
) -> AlertFacts:
    """The facts of a stored alert (its customer's tags given by the caller); with
    `evidence`, its evidence values too (`raw` and the device and user columns loaded)."""
    return AlertFacts(
        customer_id=alert.customer_id,
        tag_ids=tag_ids,
        severity=alert.severity,
        category=alert.category,
        mitre_techniques=tuple(alert.mitre_techniques or ()),
        title=alert.title,
        product=alert.service_source,
        detector=alert.detection_source,
        evidence=alert_evidence(alert) if evidence else NO_EVIDENCE,
    )


@dataclass(frozen=True, kw_only=True)
class Matchers:
    """Conditions on an alert, ANDed; an empty one matches everything."""

    customer_ids: frozenset[int] = frozenset()
    tag_ids: frozenset[int] = frozenset()
    severities: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    mitre_techniques: frozenset[str] = frozenset()
    title_contains: str = ""
    products: frozenset[str] = frozenset()
    detectors: frozenset[str] = frozenset()
    #: (kind, normalised values) per evidence condition set, e.g. ("ip_addresses", {...}).
    evidence: tuple[tuple[str, frozenset[str]], ...] = ()

    @property
    def needs_evidence(self) -> bool:
        return bool(self.evidence)

    def matches(self, facts: AlertFacts) -> bool:
        if (self.customer_ids or self.tag_ids) and not (
            facts.customer_id in self.customer_ids or facts.tag_ids & self.tag_ids
        ):
            return False
        if self.severities and facts.severity not in self.severities:
            return False
        if self.products and (facts.product.casefold() or ENDPOINT) not in self.products:
            return False
        if self.detectors and facts.detector.casefold() not in self.detectors:
            return False
        if self.categories and facts.category.casefold() not in self.categories:
            return False
        if self.mitre_techniques and not any(
            technique.upper().split(".")[0] in self.mitre_techniques
            or technique.upper() in self.mitre_techniques
            for technique in facts.mitre_techniques
        ):
            return False
        if any(not wanted & facts.evidence.of(kind) for kind, wanted in self.evidence):
            return False
        return not self.title_contains or self.title_contains in facts.title.casefold()


def folded(values: Iterable[object]) -> frozenset[str]:
    return frozenset(str(value).casefold() for value in values)


@dataclass(frozen=True, kw_only=True)
class Route(Matchers):
    """A policy as routing uses it: plain sets, read once per stored page."""

    policy_id: int
    continue_matching: bool
    channel_ids: tuple[int, ...]
    group_by: str
    group_wait_seconds: int
    repeat_interval_seconds: int
    incident_events: bool = False
    sla_events: bool = False
    campaign_events: bool = False


def route_of(policy: Policy) -> Route:
    """The routing view of one policy (its relations should be prefetched)."""
    return Route(
        policy_id=policy.pk,
        customer_ids=frozenset(c.pk for c in policy.customers.all()),
        tag_ids=frozenset(t.pk for t in policy.tags.all()),
        severities=frozenset(policy.severities),
        categories=frozenset(str(c).casefold() for c in policy.categories),
        mitre_techniques=frozenset(str(t).upper() for t in policy.mitre_techniques),
        title_contains=policy.title_contains.casefold(),
        products=folded(policy.products),
        continue_matching=policy.continue_matching,
        channel_ids=tuple(c.pk for c in policy.channels.all() if c.enabled),
        group_by=policy.group_by,
        group_wait_seconds=policy.group_wait_seconds,
        repeat_interval_seconds=policy.repeat_interval_seconds,
        incident_events=policy.incident_events,
        sla_events=policy.sla_events,
        campaign_events=policy.campaign_events,
    )


def active_routes() -> list[Route]:
    """The enabled policies, in order."""
    policies = Policy.objects.filter(enabled=True).prefetch_related("customers", "tags", "channels")
    return [route_of(policy) for policy in policies.order_by("position", "pk")]


def matching_routes(routes: Iterable[Route], facts: AlertFacts) -> list[Route]:
    """The policies that take this alert: the first match, and those after a "continue"."""
    taken = []
    for route in routes:
        if route.matches(facts):
            taken.append(route)
            if not route.continue_matching:
                break
    return taken
