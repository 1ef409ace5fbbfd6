"""Planting chosen indicators: new alerts that carry a given file hash, IP address,
domain or URL in their evidence, so that tests and the demo can make several tenants
share an attacker's traces (``POST /_sandbox/tenants/{id}/alerts`` with ``"plant"``).

The planted items are Defender for Endpoint evidence entities, with every key the
generator's have (``File``, ``Ip`` and ``Url``); Graph's ``alerts_v2`` shows them as
``fileEvidence``, ``ipEvidence`` and ``urlEvidence`` through the same conversion as
every endpoint alert's (``graph_evidence.from_mde``), so both APIs carry them. A domain
is planted as a URL on it (Defender reports domains inside URLs).
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from .model import format_ticks

FIELDS = ("sha256", "sha1", "ip", "domain", "url")
_HEX = {"sha256": 64, "sha1": 40}
_DOMAIN = re.compile(r"^(?=.{4,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
# The keys every evidence entity of the legacy API has, unused ones null.
_KEYS = (
    "sha1", "sha256", "fileName", "filePath", "processId", "processCommandLine",
    "processCreationTime", "parentProcessId", "parentProcessCreationTime",
    "parentProcessFileName", "parentProcessFilePath", "ipAddress", "url", "registryKey",
    "registryHive", "registryValueType", "registryValue", "registryValueName",
    "accountName", "domainName", "userSid", "aadUserId", "userPrincipalName",
    "detectionStatus",
)  # fmt: skip


def parse_plant(payload: object) -> dict[str, str]:
    """The indicators asked for, checked; ValueError (a 400) on anything else."""
    if not isinstance(payload, dict) or not payload:
        raise ValueError(f"plant must be an object with any of {', '.join(FIELDS)}")
    unknown = sorted(set(payload) - set(FIELDS))
    if unknown:
        raise ValueError(f"plant takes {', '.join(FIELDS)}, not {', '.join(unknown)}")
    wanted: dict[str, str] = {}
    for name, value in payload.items():
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"plant.{name} must be a non-empty string")
        value = value.strip()
        if name in _HEX and not re.fullmatch(f"[0-9a-fA-F]{{{_HEX[name]}}}", value):
            raise ValueError(f"plant.{name} must be {_HEX[name]} hexadecimal digits")
        if name == "ip":
            value = str(ipaddress.ip_address(value))
        if name == "domain" and not _DOMAIN.match(value.lower()):
            raise ValueError("plant.domain must be a domain name such as evil.example")
        if name == "url" and not value.startswith(("http://", "https://")):
            raise ValueError("plant.url must start with http:// or https://")
        wanted[name] = value
    return wanted


def planted_evidence(wanted: dict[str, str], *, at: int) -> list[dict[str, Any]]:
    """Evidence entities (legacy shape) carrying the indicators in `wanted`."""
    when = format_ticks(at)

    def entity(kind: str, **values: Any) -> dict[str, Any]:
        return {
            "entityType": kind, "evidenceCreationTime": when,
            **dict.fromkeys(_KEYS), **values,
        }  # fmt: skip

    items = []
    if "sha256" in wanted or "sha1" in wanted:
        items.append(
            entity(
                "File", sha256=wanted.get("sha256"), sha1=wanted.get("sha1"),
                fileName="planted.exe", filePath="C:\\Users\\Public\\Downloads",
                detectionStatus="Detected",
            )
        )  # fmt: skip
    if "ip" in wanted:
        items.append(entity("Ip", ipAddress=wanted["ip"]))
    if "domain" in wanted:
        items.append(entity("Url", url=f"https://{wanted['domain'].lower()}/"))
    if "url" in wanted:
        items.append(entity("Url", url=wanted["url"]))
    return items
