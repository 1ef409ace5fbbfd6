"""Incident changes worth a message: a new incident, and an incident whose severity rose.

The outbox hands over the incidents a stored page created or changed. Each is routed
through the policies that ask for incident changes (`Policy.incident_events`), in their
order, by the same matchers as alerts: its name as the title, its severity, its customer
and tags (it has no category, technique or product, so a policy asking for those does
not take it). The first that matches decides, unless it says to continue; policies for
alerts alone are not in the way.

Which change is worth a message is decided by the outbox's own rows, not by remembering
the incident's previous version: an event's notification has the group
`incident-change:<ID>` and, as its round, the incident's severity rank. A policy and
channel that have no such notification for the incident yet are told of a new incident;
one whose highest round is below the incident's rank now is told its severity rose. A
re-sync, a change of status or a severity falling and rising back adds nothing, and the
round's dedup key keeps two writers from making the same message.

An incident a suppression rule keeps quiet (`incident_suppression`) is routed to no
policy at all.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Q

from partner_portal.alerts.models import Incident
from partner_portal.notifications.incident_suppression import quiet_incidents
from partner_portal.notifications.matching import AlertFacts, Route, matching_routes
from partner_portal.notifications.models import Notification
from partner_portal.notifications.suppression import Snooze

GROUP_PREFIX = "incident-change:"
#: `Message.event` of each kind of incident message.
CREATED = "incident_created"
SEVERITY_RAISED = "incident_severity_raised"


def group_key(incident_id: int) -> str:
    return f"{GROUP_PREFIX}{incident_id}"


def incident_notifications(
    *,
    customer_id: int,
    tag_ids: frozenset[int],
    incident_ids: tuple[int, ...],
    routes: list[Route],
    now: datetime,
    recent: datetime,
    snoozes: list[Snooze] | None = None,
) -> list[Notification]:
    """The notifications (unsaved) that these stored incidents call for."""
    routes = [route for route in routes if route.incident_events]
    if not incident_ids or not routes:
        return []
    incidents = list(
        Incident.objects.filter(customer_id=customer_id, incident_id__in=incident_ids).filter(
            Q(last_updated_at__gte=recent) | Q(last_updated_at__isnull=True)
        )
    )
    quiet = quiet_incidents(
        snoozes=snoozes or [], customer_id=customer_id, tag_ids=tag_ids,
        incidents=incidents, now=now,
    )  # fmt: skip
    wanted: list[tuple[Route, int, Incident]] = []
    for incident in incidents:
        if incident.incident_id in quiet:
            continue
        facts = AlertFacts(customer_id, tag_ids, incident.severity, "", (), incident.name)
        for route in matching_routes(routes, facts):
            wanted += [(route, channel_id, incident) for channel_id in route.channel_ids]
    if not wanted:
        return []
    highest: defaultdict[tuple[int | None, int, str], int] = defaultdict(lambda: -1)
    rows = Notification.objects.filter(
        customer_id=customer_id,
        group_key__in={group_key(incident.incident_id) for _, _, incident in wanted},
        is_test=False,
    ).values_list("policy_id", "channel_id", "group_key", "round")
    for policy_id, channel_id, key, round_ in rows:
        slot = (policy_id, channel_id, key)
        highest[slot] = max(highest[slot], round_)
    made = []
    for route, channel_id, incident in wanted:
        key = group_key(incident.incident_id)
        if incident.severity_rank <= highest[(route.policy_id, channel_id, key)]:
            continue
        made.append(
            Notification(
                dedup_key=f"p{route.policy_id}:ch{channel_id}:c{customer_id}:{key}:"
                f"{incident.severity_rank}",
                channel_id=channel_id,
                policy_id=route.policy_id,
                customer_id=customer_id,
                group_key=key,
                round=incident.severity_rank,
                alert_ids=list(incident.alert_ids or []),
                not_before=now + timedelta(seconds=route.group_wait_seconds),
                created_at=now,
            )
        )
    return made


def event_of(notification: Notification) -> str:
    """Whether an incident message tells of a new incident or of its severity rising."""
    same_group = Q(
        policy_id=notification.policy_id,
        channel_id=notification.channel_id,
        customer_id=notification.customer_id,
        group_key=notification.group_key,
    )
    earlier = Notification.objects.filter(same_group, round__lt=notification.round).exists()
    return SEVERITY_RAISED if earlier else CREATED
