"""In-memory shapes of the sandbox's Defender data: devices, accounts, alerts, incidents.

Times are kept as integers of 100-nanosecond ticks since the Unix epoch, the resolution
Defender's timestamps have (7 fraction digits), so filters compare integers and the JSON
keeps every digit. Each alert caches its serialised JSON, because pages of 10,000 alerts
are served by joining those bytes rather than encoding dictionaries again.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import threading
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .catalog import SEVERITY_RANK

TICKS_PER_SECOND = 10_000_000
# .NET ticks count from 0001-01-01; Defender alert IDs embed them.
DOTNET_EPOCH_OFFSET = 621_355_968_000_000_000

_DT_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,7})\d*)?)?)?"
    r"(Z|[+-]\d{2}:\d{2})?$"
)


def seeded(key: str) -> random.Random:
    """A reproducible random stream for generated data and faults (never for secrets)."""
    return random.Random(key)  # noqa: S311 - reproducible demo data, not security


def now_ticks() -> int:
    """Current time in ticks."""
    return time.time_ns() // 100


def format_ticks(ticks: int | None) -> str | None:
    """ISO 8601 in UTC with ``Z`` and up to 7 fraction digits, trailing zeros trimmed."""
    if ticks is None:
        return None
    seconds, fraction = divmod(ticks, TICKS_PER_SECOND)
    # gmtime and plain formatting are several times faster than datetime.strftime, which
    # matters when tens of thousands of alerts are generated at start-up.
    t = time.gmtime(seconds)
    text = (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}"
        f"T{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )
    if fraction:
        text += "." + f"{fraction:07d}".rstrip("0")
    return text + "Z"


def parse_datetime(text: str) -> int:
    """Parse an ISO 8601 date or date-time (naive means UTC) into ticks.

    Raises ValueError on anything else.
    """
    match = _DT_RE.match(text.strip())
    if not match:
        raise ValueError(f"not a date-time: {text!r}")
    year, month, day, hour, minute, second, fraction, zone = match.groups()
    tz = dt.UTC
    if zone and zone != "Z":
        sign = 1 if zone[0] == "+" else -1
        tz = dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    moment = dt.datetime(
        int(year),
        int(month),
        int(day),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        tzinfo=tz,
    )
    whole = int(moment.timestamp())
    frac = int((fraction or "").ljust(7, "0") or 0)
    return whole * TICKS_PER_SECOND + frac


def dumps(value: Any) -> bytes:
    """Compact JSON, as the Defender APIs send it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(slots=True)
class Account:
    """A user account of a customer tenant as it appears in alerts."""

    user_name: str
    domain_name: str  # NetBIOS name, as relatedUser reports it
    upn: str
    display_name: str
    sid: str
    aad_user_id: str


@dataclass(slots=True)
class Device:
    """An onboarded machine of a customer tenant."""

    machine_id: str
    dns_name: str
    rbac_group: str
    os_platform: str
    version: str
    os_build: int
    aad_device_id: str | None
    first_seen: int


@dataclass(slots=True)
class Alert:
    """One Defender for Endpoint alert; ``data`` holds the API fields except evidence."""

    data: dict[str, Any]
    evidence: list[dict[str, Any]]
    created: int
    updated: int
    last_event: int
    device: Device | None
    _plain: bytes | None = None
    _expanded: bytes | None = None
    #: Moves whenever any alert is added or changed, so that what is built from the
    #: alerts (Graph's listing) can tell in one comparison whether it still holds.
    revision: ClassVar[int] = 0

    @property
    def id(self) -> str:
        return str(self.data["id"])

    def json(self, *, expanded: bool) -> bytes:
        """The alert as the API serialises it, built once and reused until it changes."""
        if expanded:
            if self._expanded is None:
                self._expanded = dumps({**self.data, "evidence": self.evidence})
            return self._expanded
        if self._plain is None:
            self._plain = dumps({**self.data, "evidence": []})
        return self._plain

    def touch(self, ticks: int) -> None:
        """Record a change: new lastUpdateTime and a fresh serialisation next time."""
        self.updated = ticks
        self.data["lastUpdateTime"] = format_ticks(ticks)
        self._plain = None
        self._expanded = None
        Alert.revision += 1


@dataclass(slots=True)
class Incident:
    """A Defender XDR incident grouping alerts of one attack."""

    incident_id: int
    name: str
    created: int
    tags: list[str] = field(default_factory=list)
    comments: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[Alert] = field(default_factory=list)

    @property
    def last_update(self) -> int:
        return max([self.created, *(a.updated for a in self.alerts)])

    @property
    def status(self) -> str:
        if self.alerts and all(a.data["status"] == "Resolved" for a in self.alerts):
            return "Resolved"
        return "Active"

    @property
    def severity(self) -> str:
        if not self.alerts:
            return "Informational"
        return max((a.data["severity"] for a in self.alerts), key=lambda s: SEVERITY_RANK[s])

    @property
    def assigned_to(self) -> str | None:
        for alert in self.alerts:
            if alert.data["assignedTo"]:
                return str(alert.data["assignedTo"])
        return None


@dataclass
class TenantData:
    """All generated and changed Defender data of one customer tenant."""

    devices: list[Device]
    accounts: list[Account]
    alerts: list[Alert] = field(default_factory=list)
    by_id: dict[str, Alert] = field(default_factory=dict)
    incidents: dict[int, Incident] = field(default_factory=dict)
    lock: threading.RLock = field(default_factory=threading.RLock)

    def add(self, alert: Alert, incident: Incident) -> None:
        self.alerts.append(alert)
        self.by_id[alert.id] = alert
        Alert.revision += 1
        incident.alerts.append(alert)
        self.incidents.setdefault(incident.incident_id, incident)
