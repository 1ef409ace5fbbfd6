"""What an incident involves and how it unfolded: the evidence summary and the timeline
of its detail page.

The **evidence summary** gathers the evidence of all the incident's alerts (as
`evidence.py` reads it, Graph's or Defender for Endpoint's shape alike) into the things
an analyst counts: distinct devices, users, mailboxes, IP addresses, files, URLs and
applications, each listed with the number of the incident's alerts that name it. A
thing is the same thing across alerts by its identifier (a device's Defender ID, a
file's SHA-256, a user's UPN), not by how it is spelled on one alert. An alert stored
without evidence still names its device and user in its own columns, and counts.

The **timeline** puts in order what is known of the incident: when Defender created it,
each alert's first activity, creation and resolution, the comments on the incident
(Defender's, and the portal's, which Defender keeps), the changes made through the
portal (audit events of the incident and of its alerts), and Defender's last update.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import Q

from partner_portal.alerts.models import Alert, Incident
from partner_portal.alerts.reads.evidence import EvidenceView, account_name, as_text
from partner_portal.alerts.reads.evidence import evidence_views as _views
from partner_portal.defender import MalformedResponse, parse_timestamp, service_source_label
from tenants.models import AuditEvent

# Portal actions shown on the timeline (the newest; an incident rarely has more).
TIMELINE_ACTIONS_LIMIT = 100

#: Summary categories in the order shown, with their headings.
CATEGORIES = (
    ("devices", "Devices"),
    ("users", "Users"),
    ("mailboxes", "Mailboxes"),
    ("ips", "IP addresses"),
    ("files", "Files"),
    ("urls", "URLs"),
    ("apps", "Applications"),
)

# Evidence kind -> (category, paths to the identifier, paths to the name shown). The
# first non-empty path wins; Graph's paths first, then the Defender for Endpoint API's.
_THINGS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "device": ("devices", ("mdeDeviceId", "deviceDnsName"), ("deviceDnsName", "mdeDeviceId")),
    "user": (
        "users",
        ("userAccount.userPrincipalName", "userAccount.userSid", "userPrincipalName", "userSid"),
        ("userAccount.userPrincipalName", "userPrincipalName"),
    ),
    "mailbox": ("mailboxes", ("primaryAddress", "upn"), ("primaryAddress", "upn")),
    "ip": ("ips", ("ipAddress",), ("ipAddress",)),
    "file": (
        "files",
        ("fileDetails.sha256", "fileDetails.sha1", "sha256", "sha1", "fileDetails.fileName"),
        ("fileDetails.fileName", "fileName"),
    ),
    "url": ("urls", ("url",), ("url",)),
    "cloudapp": ("apps", ("appId", "displayName"), ("displayName",)),
    "oauthapp": ("apps", ("appId", "displayName"), ("displayName",)),
}


@dataclass
class Thing:
    """One distinct device, user, address...: how it is named, and in how many alerts."""

    name: str
    key: str
    alert_ids: set[str] = field(default_factory=set)

    @property
    def alert_count(self) -> int:
        return len(self.alert_ids)


@dataclass
class EvidenceGroup:
    category: str
    heading: str
    things: list[Thing]


@dataclass
class TimelineEvent:
    when: datetime
    what: str
    #: "incident", "alert", "comment", "portal" (for the template's marks and tests).
    kind: str
    alert: Alert | None = None
    by: str = ""


def _at(item: Mapping[str, Any], path: str) -> str:
    value: Any = item
    for step in path.split("."):
        value = value.get(step) if isinstance(value, Mapping) else None
    return as_text(value) if isinstance(value, str | int) else ""


def _first(item: Mapping[str, Any], paths: Iterable[str]) -> str:
    return next((found for found in (_at(item, p) for p in paths) if found), "")


def _things_of(view: EvidenceView) -> tuple[str, str, str] | None:
    """(category, identifier, name) of one evidence item, or None if it counts as none."""
    known = _THINGS.get(view.kind)
    if known is None:
        return None
    category, key_paths, name_paths = known
    key = _first(view.raw, key_paths)
    if not key and view.kind == "user":
        key = account_name(view.raw.get("userAccount") or view.raw)
    if not key:
        return None
    name = _first(view.raw, name_paths) or (
        account_name(view.raw.get("userAccount") or view.raw) if view.kind == "user" else ""
    )
    return category, key.lower(), name or key


def evidence_summary(alerts: Iterable[Alert]) -> list[EvidenceGroup]:
    """The distinct things the alerts' evidence names, by category (empty ones left out)."""
    found: dict[str, dict[str, Thing]] = {category: {} for category, _ in CATEGORIES}

    def add(category: str, key: str, name: str, alert_id: str) -> None:
        thing = found[category].setdefault(key, Thing(name=name, key=key))
        thing.alert_ids.add(alert_id)

    for alert in alerts:
        raw = alert.raw if isinstance(alert.raw, dict) else {}
        for view in _views(raw, with_json=False):
            thing = _things_of(view)
            if thing is not None:
                add(*thing, alert.alert_id)
        # The alert's own columns (filled from evidence, or by the legacy API).
        if alert.machine_id or alert.computer_dns_name:
            key = (alert.machine_id or alert.computer_dns_name).lower()
            add("devices", key, alert.computer_dns_name or alert.machine_id, alert.alert_id)
    groups = []
    for category, heading in CATEGORIES:
        things = sorted(found[category].values(), key=lambda t: (-t.alert_count, t.name))
        if things:
            groups.append(EvidenceGroup(category, heading, things))
    return groups


def _when(value: Any) -> datetime | None:
    try:
        return parse_timestamp(value) if isinstance(value, str) else None
    except MalformedResponse:
        return None


def _comment_events(incident: Incident) -> list[TimelineEvent]:
    raw = incident.raw if isinstance(incident.raw, dict) else {}
    events = []
    for item in raw.get("comments") or []:
        if not isinstance(item, dict):
            continue
        # Graph names createdByDisplayName/createdDateTime; Microsoft's own examples, and
        # the Defender XDR API, createdBy/createdTime.
        when = _when(item.get("createdDateTime") or item.get("createdTime"))
        if when is None:
            continue
        by = as_text(item.get("createdByDisplayName") or item.get("createdBy"))
        events.append(TimelineEvent(when, as_text(item.get("comment")), "comment", by=by))
    return events


def _alert_events(alert: Alert) -> list[TimelineEvent]:
    title = alert.title or alert.alert_id
    product = service_source_label(alert.service_source) if alert.service_source else ""
    raised = f"Alert raised: {title}" + (f" ({product})" if product else "")
    moments = (
        (alert.first_event_at, f"First activity of alert: {title}"),
        (alert.created_at, raised),
        (alert.resolved_at, f"Alert resolved: {title}"),
    )
    return [TimelineEvent(when, what, "alert", alert) for when, what in moments if when]


def incident_timeline(incident: Incident, alerts: list[Alert]) -> list[TimelineEvent]:
    """Everything known to have happened to the incident, oldest first."""
    events: list[TimelineEvent] = []
    if incident.created_at:
        events.append(
            TimelineEvent(incident.created_at, "Incident created in Defender", "incident")
        )
    for alert in alerts:
        events += _alert_events(alert)
    events += _comment_events(incident)
    by_alert = {a.alert_id: a for a in alerts}
    about_incident = Q(details__incident_id=incident.incident_id) | Q(
        details__incident_pk=incident.pk
    )
    actions = AuditEvent.objects.filter(customer_id=incident.customer_id).filter(
        (Q(action__startswith="incident.") & about_incident)
        | Q(action__startswith="alert.", details__alert_id__in=list(by_alert))
    )
    for event in actions.order_by("-created_at", "-id")[:TIMELINE_ACTIONS_LIMIT]:
        about = by_alert.get(str((event.details or {}).get("alert_id", "")))
        events.append(
            TimelineEvent(event.created_at, event.summary, "portal", about, by=event.actor_label)
        )
    if incident.last_updated_at:
        events.append(
            TimelineEvent(incident.last_updated_at, "Last updated in Defender", "incident")
        )
    order = {"incident": 0, "alert": 1, "comment": 2, "portal": 3}
    return sorted(events, key=lambda e: (e.when, order[e.kind]))
