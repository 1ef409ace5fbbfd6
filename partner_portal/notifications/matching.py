"""Which policies an alert matches: the routing rules, decided here alone.

A policy's matchers are ANDed; each matcher left empty matches everything. The customer
matcher holds when the alert's customer is named or carries one of the named tags (so a
customer tagged "Gold" tomorrow is covered by today's "Gold" policy). Category and title
are compared without regard to case, MITRE techniques by their ID (T1059 also matches
T1059.001). Policies are tried in order; the first that matches decides, unless it says
"continue", in which case the next ones are tried too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from partner_portal.notifications.models import Policy


@dataclass(frozen=True)
class AlertFacts:
    """What routing looks at in an alert."""

    customer_id: int
    tag_ids: frozenset[int]
    severity: str
    category: str
    mitre_techniques: tuple[str, ...]
    title: str


@dataclass(frozen=True)
class Route:
    """A policy as routing uses it: plain sets, read once per stored page."""

    policy_id: int
    customer_ids: frozenset[int]
    tag_ids: frozenset[int]
    severities: frozenset[str]
    categories: frozenset[str]
    mitre_techniques: frozenset[str]
    title_contains: str
    continue_matching: bool
    channel_ids: tuple[int, ...]
    group_by: str
    group_wait_seconds: int
    repeat_interval_seconds: int

    def matches(self, facts: AlertFacts) -> bool:
        if (self.customer_ids or self.tag_ids) and not (
            facts.customer_id in self.customer_ids or facts.tag_ids & self.tag_ids
        ):
            return False
        if self.severities and facts.severity not in self.severities:
            return False
        if self.categories and facts.category.casefold() not in self.categories:
            return False
        if self.mitre_techniques and not any(
            technique.upper().split(".")[0] in self.mitre_techniques
            or technique.upper() in self.mitre_techniques
            for technique in facts.mitre_techniques
        ):
            return False
        return not self.title_contains or self.title_contains in facts.title.casefold()


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
        continue_matching=policy.continue_matching,
        channel_ids=tuple(c.pk for c in policy.channels.all() if c.enabled),
        group_by=policy.group_by,
        group_wait_seconds=policy.group_wait_seconds,
        repeat_interval_seconds=policy.repeat_interval_seconds,
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
