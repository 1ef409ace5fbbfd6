"""Deterministic generation of fictional customers and their Defender alerts.

Given the same seed, tenant and alert count, the same devices, accounts, alerts and
incidents come out on every start, so only what changed later needs to be saved.
"""

from __future__ import annotations

import functools
import random
import re
import uuid
from typing import Any

from .catalog import (
    ALERT_TEMPLATES,
    COMMENT_TEXTS,
    COMPANY_NAMES,
    DEVICE_PREFIXES,
    DEVICE_ROLES,
    FIRST_NAMES,
    LAST_NAMES,
    OS_PLATFORMS,
    PARTNER_ANALYSTS,
    RBAC_GROUPS,
    AlertTemplate,
)
from .model import (
    DOTNET_EPOCH_OFFSET,
    TICKS_PER_SECOND,
    Account,
    Alert,
    Device,
    Incident,
    TenantData,
    format_ticks,
    seeded,
)

SECOND = TICKS_PER_SECOND
MINUTE = 60 * SECOND
HOUR = 60 * MINUTE
DAY = 24 * HOUR
HISTORY_DAYS = 30

INVESTIGATION_STATES = [
    "SuccessfullyRemediated",
    "Benign",
    "Running",
    "PendingApproval",
    "PartiallyRemediated",
    "TerminatedBySystem",
]
DETERMINATIONS = {
    "TruePositive": ["Malware", "Apt", "MultiStagedAttack", "CompromisedAccount", "Other"],
    "InformationalExpectedActivity": ["SecurityTesting", "LineOfBusinessApplication"],
    "FalsePositive": ["NotMalicious", "InsufficientData", "Other"],
}
INCIDENT_TAGS = ["Ransomware", "Credential Phish", "Human-operated", "Commodity malware"]


def _uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _hex(rng: random.Random, length: int) -> str:
    return f"{rng.getrandbits(length * 4):0{length}x}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def tenant_identity(seed: int, index: int, taken_domains: set[str]) -> dict[str, Any]:
    """Name, domain, tenant ID and the two users of the ``index``-th customer tenant."""
    rng = seeded(f"{seed}:tenant:{index}")
    base = COMPANY_NAMES[index % len(COMPANY_NAMES)]
    name = base if index < len(COMPANY_NAMES) else f"{base} {index // len(COMPANY_NAMES) + 1}"
    slug = _slug(name)[:24]
    domain = f"{slug}.onmicrosoft.com"
    suffix = 2
    while domain in taken_domains:
        domain = f"{slug}{suffix}.onmicrosoft.com"
        suffix += 1
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    other_first, other_last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    if (other_first, other_last) == (first, last):
        other_first = FIRST_NAMES[(FIRST_NAMES.index(first) + 1) % len(FIRST_NAMES)]
    return {
        "tenant_id": _uuid(rng),
        "name": name,
        "domain": domain,
        "users": [
            {
                "upn": f"{first.lower()}.{last.lower()}@{domain}",
                "display_name": f"{first} {last}",
                "admin": True,
                "object_id": _uuid(rng),
            },
            {
                "upn": f"{other_first.lower()}.{other_last.lower()}@{domain}",
                "display_name": f"{other_first} {other_last}",
                "admin": False,
                "object_id": _uuid(rng),
            },
        ],
    }


def _netbios(domain: str) -> str:
    return domain.split(".")[0].upper()[:15]


def _accounts(rng: random.Random, domain: str) -> list[Account]:
    netbios = _netbios(domain)
    seen: set[str] = set()
    accounts = []
    for _ in range(14):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        user_name = (first[0] + last).lower()
        if user_name in seen:
            continue
        seen.add(user_name)
        rid = rng.randint(1100, 9999)
        accounts.append(
            Account(
                user_name=user_name,
                domain_name=netbios,
                upn=f"{first.lower()}.{last.lower()}@{domain}",
                display_name=f"{first} {last}",
                sid=f"S-1-5-21-{rng.randint(10**9, 4 * 10**9)}-{rng.randint(10**9, 4 * 10**9)}"
                f"-{rng.randint(10**9, 4 * 10**9)}-{rid}",
                aad_user_id=_uuid(rng),
            )
        )
    return accounts


def _devices(rng: random.Random, domain: str, anchor: int) -> list[Device]:
    short = domain.split(".")[0][:10]
    devices = []
    names: set[str] = set()
    for _ in range(rng.randint(12, 40)):
        prefix = rng.choice(DEVICE_PREFIXES)
        if prefix in {"desktop", "laptop"}:
            host = f"{prefix}-{_hex(rng, 7)}"
        else:
            host = f"{prefix}-{rng.choice(DEVICE_ROLES)}-{rng.randint(1, 40):02d}"
        if host in names:
            continue
        names.add(host)
        server = prefix in {"srv", "vm"}
        platform, version, build = OS_PLATFORMS[rng.randint(2, 3) if server else rng.randint(0, 1)]
        devices.append(
            Device(
                machine_id=_hex(rng, 40),
                dns_name=f"{host}.{short}.local",
                rbac_group="Servers" if server else rng.choice(RBAC_GROUPS),
                os_platform=platform,
                version=version,
                os_build=build,
                aad_device_id=None if server else _uuid(rng),
                first_seen=anchor - rng.randint(60, 700) * DAY,
            )
        )
    return devices


def _evidence(
    rng: random.Random, template: AlertTemplate, account: Account, at: int
) -> list[dict[str, Any]]:
    """Evidence entities with every key Defender uses, unused ones null."""
    items = []
    for kind in template.evidence:
        entity: dict[str, Any] = {
            "entityType": "",
            "evidenceCreationTime": format_ticks(at + rng.randint(0, 10**7)),
            "sha1": None,
            "sha256": None,
            "fileName": None,
            "filePath": None,
            "processId": None,
            "processCommandLine": None,
            "processCreationTime": None,
            "parentProcessId": None,
            "parentProcessCreationTime": None,
            "parentProcessFileName": None,
            "parentProcessFilePath": None,
            "ipAddress": None,
            "url": None,
            "registryKey": None,
            "registryHive": None,
            "registryValueType": None,
            "registryValue": None,
            "registryValueName": None,
            "accountName": None,
            "domainName": None,
            "userSid": None,
            "aadUserId": None,
            "userPrincipalName": None,
            "detectionStatus": None,
        }
        if kind in {"process", "file"}:
            name = template.process if kind == "process" else f"{_hex(rng, 6)}.exe"
            entity.update(
                sha1=_hex(rng, 40),
                sha256=_hex(rng, 64),
                fileName=name,
                filePath="C:\\Windows\\System32"
                if kind == "process"
                else f"C:\\Users\\{account.user_name}\\AppData\\Local\\Temp",
                detectionStatus=rng.choice(["Detected", "Blocked", "Prevented"]),
            )
        if kind == "process":
            entity.update(
                entityType="Process",
                processId=rng.randint(400, 30000),
                processCommandLine=template.command_line,
                processCreationTime=format_ticks(at - rng.randint(1, 600) * SECOND),
                parentProcessId=rng.randint(400, 30000),
                parentProcessCreationTime=format_ticks(at - rng.randint(601, 3600) * SECOND),
                parentProcessFileName="explorer.exe",
                parentProcessFilePath="C:\\Windows",
                accountName=account.user_name,
                domainName=account.domain_name,
                userSid=account.sid,
            )
        elif kind == "file":
            entity["entityType"] = "File"
        elif kind == "user":
            entity.update(
                entityType="User",
                accountName=account.user_name,
                domainName=account.domain_name,
                userSid=account.sid,
                aadUserId=account.aad_user_id,
                userPrincipalName=account.upn,
            )
        elif kind == "ip":
            entity.update(
                entityType="Ip",
                ipAddress=f"{rng.choice([45, 91, 185, 194])}.{rng.randint(1, 254)}."
                f"{rng.randint(1, 254)}.{rng.randint(1, 254)}",
            )
        elif kind == "url":
            entity.update(
                entityType="Url",
                url=f"https://{_hex(rng, 8)}.{rng.choice(['xyz', 'top', 'example.net'])}/login",
            )
        elif kind == "registry":
            entity.update(
                entityType="Registry",
                registryKey="SOFTWARE\\Microsoft\\Windows Defender\\Exclusions\\Paths",
                registryHive="HKEY_LOCAL_MACHINE",
                registryValueType="Dword",
                registryValue="00000000",
                registryValueName="C:\\",
            )
        items.append(entity)
    return items


@functools.cache
def _detector_id(title: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "sandbox-detector:" + title))


def _alert_id(rng: random.Random, created: int) -> str:
    return f"da{created + DOTNET_EPOCH_OFFSET}_{rng.randint(-(2**31), 2**31 - 1)}"


def build_alert(
    rng: random.Random,
    *,
    tenant_id: str,
    template: AlertTemplate,
    device: Device,
    account: Account,
    created: int,
    incident_id: int,
    final_status: str,
    updated: int,
) -> Alert:
    """One alert with consistent times; ``final_status`` decides the triage fields."""
    first_event = created - rng.randint(5, 900) * SECOND - rng.randint(0, SECOND)
    last_event = min(created - rng.randint(0, SECOND), first_event + rng.randint(0, 300) * SECOND)
    severity = rng.choice(template.severities)
    investigation_id: int | None = None
    investigation_state = "UnsupportedAlertType"
    if (
        template.detection_source in {"WindowsDefenderAtp", "WindowsDefenderAv"}
        and rng.random() < 0.6
    ):
        investigation_id = rng.randint(1000, 99999)
        investigation_state = rng.choice(INVESTIGATION_STATES)
    assigned_to = None
    classification = determination = None
    resolved = None
    if final_status in {"InProgress", "Resolved"}:
        assigned_to = rng.choice(PARTNER_ANALYSTS)
    if final_status == "Resolved":
        classification = rng.choice(list(DETERMINATIONS))
        determination = rng.choice(DETERMINATIONS[classification])
        resolved = updated
    comments = []
    if final_status != "New" and rng.random() < 0.3:
        for _ in range(rng.randint(1, 2)):
            comments.append(
                {
                    "comment": rng.choice(COMMENT_TEXTS),
                    "createdBy": assigned_to or rng.choice(PARTNER_ANALYSTS),
                    "createdTime": format_ticks(created + rng.randint(60, 3600) * SECOND),
                }
            )
    related_user = (
        {"userName": account.user_name, "domainName": account.domain_name}
        if "user" in template.evidence or "process" in template.evidence
        else None
    )
    data: dict[str, Any] = {
        "id": _alert_id(rng, created),
        "incidentId": incident_id,
        "investigationId": investigation_id,
        "assignedTo": assigned_to,
        "severity": severity,
        "status": final_status,
        "classification": classification,
        "determination": determination,
        "investigationState": investigation_state,
        "detectionSource": template.detection_source,
        "detectorId": _detector_id(template.title),
        "category": template.category,
        "threatFamilyName": template.threat_family,
        "threatName": template.threat_name,
        "title": template.title,
        "description": template.description,
        "alertCreationTime": format_ticks(created),
        "firstEventTime": format_ticks(first_event),
        "lastEventTime": format_ticks(last_event),
        "lastUpdateTime": format_ticks(updated),
        "resolvedTime": format_ticks(resolved),
        "machineId": device.machine_id,
        "computerDnsName": device.dns_name,
        "rbacGroupName": device.rbac_group,
        "aadTenantId": tenant_id,
        "mitreTechniques": list(template.mitre),
        "relatedUser": related_user,
        "comments": comments,
    }
    evidence = _evidence(rng, template, account, created)
    return Alert(
        data=data,
        evidence=evidence,
        created=created,
        updated=updated,
        last_event=last_event,
        device=device,
    )


def _incident_name(alerts_titles: list[str], categories: list[str], devices: int) -> str:
    where = "one endpoint" if devices == 1 else f"{devices} endpoints"
    if len(alerts_titles) == 1:
        return f"{alerts_titles[0]} on {where}"
    unique = list(dict.fromkeys(categories))
    if len(unique) == 1:
        return f"{unique[0]} incident on {where}"
    return f"Multi-stage incident involving {unique[0]} & {unique[1]} on {where}"


def generate_tenant(
    *, seed: int, tenant_id: str, domain: str, count: int, anchor: int
) -> tuple[TenantData, int]:
    """The seeded base data of a tenant: ``count`` alerts over the 30 days before ``anchor``.

    Returns the data and the next free incident ID.
    """
    rng = seeded(f"{seed}:data:{tenant_id}")
    data = TenantData(devices=_devices(rng, domain, anchor), accounts=_accounts(rng, domain))
    next_incident = rng.randint(1000, 60000)
    start = anchor - HISTORY_DAYS * DAY
    span = HISTORY_DAYS * DAY - HOUR
    pending: list[tuple[Alert, Incident]] = []
    while len(pending) < count:
        size = min(count - len(pending), rng.choices([1, 2, 3, 4, 5], [50, 20, 15, 10, 5])[0])
        incident_id = next_incident
        next_incident += rng.randint(1, 3)
        device = rng.choice(data.devices)
        account = rng.choice(data.accounts)
        begin = start + rng.randrange(span)
        age_days = (anchor - begin) / DAY
        # Older attacks are more likely to have been worked on already.
        status_weights = [60, 25, 15] if age_days < 2 else [25, 20, 55]
        templates = rng.sample(ALERT_TEMPLATES, size)
        incident = Incident(incident_id=incident_id, name="", created=begin)
        if rng.random() < 0.15:
            incident.tags.append(rng.choice(INCIDENT_TAGS))
        at = begin
        for template in templates:
            status = rng.choices(["New", "InProgress", "Resolved"], status_weights)[0]
            if status == "New":
                updated = at + rng.randint(1, 90) * SECOND + rng.randint(0, SECOND)
            else:
                updated = min(
                    anchor, at + rng.randint(10, 48 * 60) * MINUTE + rng.randint(0, SECOND)
                )
            if rng.random() < 0.2:  # some timestamps have whole seconds, as real ones do
                updated -= updated % SECOND
            alert = build_alert(
                rng,
                tenant_id=tenant_id,
                template=template,
                device=device if rng.random() < 0.85 else rng.choice(data.devices),
                account=account,
                created=at,
                incident_id=incident_id,
                final_status=status,
                updated=max(updated, at),
            )
            incident.alerts.append(alert)
            pending.append((alert, incident))
            at += rng.randint(1, 45) * MINUTE + rng.randint(0, SECOND)
        incident.name = _incident_name(
            [a.data["title"] for a in incident.alerts],
            [a.data["category"] for a in incident.alerts],
            len({a.data["machineId"] for a in incident.alerts}),
        )
        # The alerts are attached again below, in creation order.
        incident.alerts = []
        data.incidents[incident_id] = incident
    # Creation order is the API's order; alerts of one incident interleave with others.
    pending.sort(key=lambda pair: pair[0].created)
    seen: set[str] = set()
    for alert, incident in pending:
        if alert.id in seen:  # astronomically unlikely, but IDs must be unique
            alert.data["id"] = alert.id + "1"
        seen.add(alert.id)
        data.add(alert, incident)
    return data, next_incident


def arrival(
    rng: random.Random, data: TenantData, *, tenant_id: str, now: int, next_incident: int
) -> tuple[Alert, Incident, int]:
    """A brand-new alert created at ``now``: joins a recent active incident or starts one."""
    recent = [
        inc
        for inc in list(data.incidents.values())[-20:]
        if inc.status == "Active" and now - inc.created < DAY and inc.alerts
    ]
    if recent and rng.random() < 0.3:
        incident = rng.choice(recent)
        device = incident.alerts[-1].device or rng.choice(data.devices)
    else:
        incident = Incident(incident_id=next_incident, name="", created=now)
        next_incident += rng.randint(1, 3)
        device = rng.choice(data.devices)
    template = rng.choice(ALERT_TEMPLATES)
    alert = build_alert(
        rng,
        tenant_id=tenant_id,
        template=template,
        device=device,
        account=rng.choice(data.accounts),
        created=now,
        incident_id=incident.incident_id,
        final_status="New",
        updated=now,
    )
    if not incident.name:
        incident.name = f"{template.title} on one endpoint"
    while alert.id in data.by_id:
        alert.data["id"] = _alert_id(rng, now)
    data.add(alert, incident)
    return alert, incident, next_incident


def random_update(rng: random.Random, alert: Alert, now: int) -> None:
    """Move an alert along its triage the way an analyst or automation would."""
    status = alert.data["status"]
    if status in {"New", "Unknown"}:
        alert.data["status"] = "InProgress"
        alert.data["assignedTo"] = rng.choice(PARTNER_ANALYSTS)
    elif status == "InProgress":
        alert.data["status"] = "Resolved"
        classification = rng.choice(list(DETERMINATIONS))
        alert.data["classification"] = classification
        alert.data["determination"] = rng.choice(DETERMINATIONS[classification])
        alert.data["resolvedTime"] = format_ticks(now)
    else:
        # A resolved alert gets reopened now and then, as new activity shows up.
        alert.data["status"] = "New"
        alert.data["assignedTo"] = None
        alert.data["resolvedTime"] = None
    alert.touch(now)
