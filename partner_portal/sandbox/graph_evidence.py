"""Graph's ``evidence`` items (``microsoft.graph.security.*Evidence``): converted from
Defender for Endpoint's evidence, and generated for the other Defender products.

Every item carries the common fields Graph sends (``@odata.type``, ``createdDateTime``,
``verdict``, ``remediationStatus``, ``remediationStatusDetails``, ``roles``,
``detailedRoles``, ``tags``) plus those of its type.
"""

from __future__ import annotations

import random
from typing import Any

from .model import Account, Device, format_ticks

NS = "#microsoft.graph.security."


def _hex(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def _uuid(rng: random.Random) -> str:
    h = _hex(rng, 32)
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _base(
    kind: str, at: str | None, verdict: str, roles: list[str] | None = None
) -> dict[str, Any]:
    return {
        "@odata.type": f"{NS}{kind}",
        "createdDateTime": at,
        "verdict": verdict,
        "remediationStatus": "none",
        "remediationStatusDetails": None,
        "roles": roles or [],
        "detailedRoles": [],
        "tags": [],
    }


def user_account(account: Account) -> dict[str, Any]:
    return {
        "accountName": account.user_name,
        "domainName": account.domain_name,
        "userSid": account.sid,
        "azureAdUserId": account.aad_user_id,
        "userPrincipalName": account.upn,
        "displayName": account.display_name,
    }


def user_evidence(account: Account, at: str | None, verdict: str = "suspicious") -> dict[str, Any]:
    return {**_base("userEvidence", at, verdict), "userAccount": user_account(account)}


def device_evidence(device: Device, at: str | None, users: list[Account]) -> dict[str, Any]:
    return {
        **_base("deviceEvidence", at, "suspicious", ["compromised"]),
        "mdeDeviceId": device.machine_id,
        "azureAdDeviceId": device.aad_device_id,
        "deviceDnsName": device.dns_name,
        "osPlatform": device.os_platform,
        "osBuild": device.os_build,
        "version": device.version,
        "healthStatus": "active",
        "riskScore": "medium",
        "rbacGroupName": device.rbac_group,
        "onboardingStatus": "onboarded",
        "defenderAvStatus": "updated",
        "ipInterfaces": [],
        "loggedOnUsers": [{"accountName": u.user_name, "domainName": u.domain_name} for u in users],
        "vmMetadata": None,
    }


def ip_evidence(address: str, at: str | None) -> dict[str, Any]:
    return {**_base("ipEvidence", at, "suspicious"), "ipAddress": address, "countryLetterCode": ""}


def url_evidence(url: str, at: str | None) -> dict[str, Any]:
    return {**_base("urlEvidence", at, "malicious"), "url": url}


def _file_details(entity: dict[str, Any]) -> dict[str, Any]:
    return {
        "sha1": entity.get("sha1"),
        "sha256": entity.get("sha256"),
        "fileName": entity.get("fileName"),
        "filePath": entity.get("filePath"),
        "fileSize": None,
        "filePublisher": None,
        "signer": None,
        "issuer": None,
    }


def from_mde(entity: dict[str, Any], device: Device | None) -> dict[str, Any]:
    """One Defender for Endpoint evidence entity as Graph shows it."""
    at = entity.get("evidenceCreationTime")
    kind = entity.get("entityType")
    verdict = "malicious" if entity.get("detectionStatus") else "suspicious"
    if kind == "Process":
        return {
            **_base("processEvidence", at, verdict),
            "processId": entity["processId"],
            "processCommandLine": entity["processCommandLine"],
            "processCreationDateTime": entity["processCreationTime"],
            "parentProcessId": entity["parentProcessId"],
            "parentProcessCreationDateTime": entity["parentProcessCreationTime"],
            "parentProcessImageFile": {
                "fileName": entity["parentProcessFileName"],
                "filePath": entity["parentProcessFilePath"],
            },
            "imageFile": _file_details(entity),
            "userAccount": {
                "accountName": entity["accountName"],
                "domainName": entity["domainName"],
                "userSid": entity["userSid"],
            },
            "mdeDeviceId": device.machine_id if device else None,
            "detectionStatus": str(entity.get("detectionStatus") or "detected").lower(),
        }
    if kind == "File":
        return {
            **_base("fileEvidence", at, verdict),
            "fileDetails": _file_details(entity),
            "mdeDeviceId": device.machine_id if device else None,
            "detectionStatus": str(entity.get("detectionStatus") or "detected").lower(),
        }
    if kind == "User":
        return {
            **_base("userEvidence", at, "suspicious"),
            "userAccount": {
                "accountName": entity["accountName"],
                "domainName": entity["domainName"],
                "userSid": entity["userSid"],
                "azureAdUserId": entity["aadUserId"],
                "userPrincipalName": entity["userPrincipalName"],
            },
        }
    if kind == "Ip":
        return ip_evidence(str(entity["ipAddress"]), at)
    if kind == "Url":
        return url_evidence(str(entity["url"]), at)
    if kind == "Registry":
        return {
            **_base("registryValueEvidence", at, "suspicious"),
            "registryKey": entity["registryKey"],
            "registryHive": entity["registryHive"],
            "registryValue": entity["registryValue"],
            "registryValueName": entity["registryValueName"],
            "registryValueType": entity["registryValueType"],
            "mdeDeviceId": device.machine_id if device else None,
        }
    return {**_base("unknownEvidence", at, "unknown"), "entity": entity}


def _public_ip(rng: random.Random) -> str:
    octets = [rng.choice([45, 91, 185, 194]), *(rng.randint(1, 254) for _ in range(3))]
    return ".".join(str(o) for o in octets)


def _bad_url(rng: random.Random) -> str:
    return f"https://{_hex(rng, 8)}.{rng.choice(['xyz', 'top', 'example.net'])}/login"


def for_product(
    product: str,
    rng: random.Random,
    at: int,
    account: Account,
    device: Device,
    domain: str,
) -> list[dict[str, Any]]:
    """Realistic evidence of an alert from ``product`` (a Graph serviceSource)."""
    when = format_ticks(at)
    user = user_evidence(account, when)
    if product == "microsoftDefenderForOffice365":
        url = _bad_url(rng)
        sender = f"billing@{_hex(rng, 6)}.example.net"
        message_id = _uuid(rng)
        return [
            user,
            {
                **_base("mailboxEvidence", when, "suspicious"),
                "primaryAddress": account.upn,
                "displayName": account.display_name,
                "userAccount": user_account(account),
            },
            {
                **_base("analyzedMessageEvidence", when, "malicious"),
                "networkMessageId": message_id,
                "internetMessageId": f"<{_hex(rng, 16)}@example.net>",
                "subject": rng.choice(["Invoice overdue", "Password expires today", "Shared file"]),
                "senderIp": _public_ip(rng),
                "p1Sender": {"emailAddress": sender, "displayName": "Billing"},
                "p2Sender": {"emailAddress": sender, "displayName": "Billing"},
                "recipientEmailAddress": account.upn,
                "receivedDateTime": when,
                "deliveryAction": rng.choice(["delivered", "junked", "blocked"]),
                "deliveryLocation": rng.choice(["inbox", "junkFolder", "quarantine"]),
                "urls": [url],
                "urlCount": 1,
                "threats": ["Phish"],
                "threatDetectionMethods": ["urlDetonationReputation"],
                "antiSpamDirection": "inbound",
                "language": "en",
                "attachmentsCount": 0,
            },
            url_evidence(url, when),
        ]
    if product == "microsoftDefenderForIdentity":
        return [user, device_evidence(device, when, [account]), ip_evidence(_public_ip(rng), when)]
    if product == "microsoftDefenderForCloudApps":
        app_id = _uuid(rng)
        return [
            user,
            ip_evidence(_public_ip(rng), when),
            {
                **_base("cloudApplicationEvidence", when, "suspicious"),
                "appId": rng.randint(10000, 99999),
                "displayName": rng.choice(["Microsoft Exchange Online", "Dropbox", "Box"]),
                "instanceId": 0,
                "instanceName": "",
                "saasAppId": rng.randint(10000, 99999),
            },
            {
                **_base("oauthApplicationEvidence", when, "suspicious"),
                "appId": app_id,
                "displayName": rng.choice(["Mail Sync Helper", "PDF Converter Pro"]),
                "objectId": _uuid(rng),
                "publisher": f"{_hex(rng, 5)} Ltd",
            },
        ]
    if product == "azureAdIdentityProtection":
        return [user, ip_evidence(_public_ip(rng), when)]
    if product == "dataLossPrevention":
        name = rng.choice(["salaries-2026.xlsx", "customers.csv", "contract-draft.docx"])
        return [
            user,
            {
                **_base("fileEvidence", when, "suspicious"),
                "fileDetails": {
                    "sha1": _hex(rng, 40),
                    "sha256": _hex(rng, 64),
                    "fileName": name,
                    "filePath": f"https://{domain.split('.')[0]}.sharepoint.com/Shared Documents",
                    "fileSize": rng.randint(10_000, 9_000_000),
                    "filePublisher": None,
                    "signer": None,
                    "issuer": None,
                },
                "detectionStatus": "detected",
            },
        ]
    # microsoftDefenderForCloud
    return [
        ip_evidence(_public_ip(rng), when),
        {
            **_base("azureResourceEvidence", when, "suspicious"),
            "resourceId": f"/subscriptions/{_uuid(rng)}/resourceGroups/prod/providers/"
            f"Microsoft.Compute/virtualMachines/{device.dns_name.split('.')[0]}",
            "resourceName": device.dns_name.split(".")[0],
            "resourceType": "Virtual Machine",
        },
    ]
