"""The values in an alert's evidence that a suppression rule may name, normalised so that
comparing is exact: file hashes, devices, users, IP addresses and URLs or domains.

Both shapes Defender sends are read. Microsoft Graph's `alerts_v2` types each item by
`@odata.type` and nests details (a file's hashes under `fileDetails`, a process's image
under `imageFile`, an account under `userAccount`); the Defender for Endpoint API sends
flat entities (`entityType` "File", "Process", "User", "Ip", "Url") and names the device
and user on the alert itself (`machineId`, `computerDnsName`, `relatedUser`), which the
portal keeps in columns.

Normalising is the same for a rule's values (as the form saves them) and for an alert's:
hashes, device names and IDs, user names and domains are compared without regard to case;
an IP address in its canonical form (`ipaddress`: "::ffff:0:1" and "2001:DB8::0001" are
written one way); a URL with its scheme and host in lower case, its path as sent. A rule's
domain matches the host of any URL in the evidence. Nothing else is loosened: "pc01" does
not match "pc01.contoso.local", and a domain does not match its subdomains.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

#: The evidence conditions a rule may set, in the order the form shows them.
KINDS = ("file_hashes", "devices", "users", "ip_addresses", "urls")
KIND_LABELS = {
    "file_hashes": "File hash",
    "devices": "Device",
    "users": "User",
    "ip_addresses": "IP address",
    "urls": "URL or domain",
}
_HASH = re.compile(r"^(?:[0-9a-f]{32}|[0-9a-f]{40}|[0-9a-f]{64})$")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_DOMAIN = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*$")


@dataclass(frozen=True)
class EvidenceValues:
    """An alert's evidence values of each kind, normalised."""

    file_hashes: frozenset[str] = frozenset()
    devices: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    ip_addresses: frozenset[str] = frozenset()
    urls: frozenset[str] = frozenset()

    def of(self, kind: str) -> frozenset[str]:
        values: frozenset[str] = getattr(self, kind)
        return values


NO_EVIDENCE = EvidenceValues()


# --- normalising -------------------------------------------------------------------------------
def norm_hash(value: str) -> str:
    """A SHA-256, SHA-1 or MD5 in lower-case hex; ValueError for anything else."""
    text = value.strip().casefold()
    if not _HASH.match(text):
        raise ValueError(f"{value!r} is not a SHA-256, SHA-1 or MD5 hash in hexadecimal.")
    return text


def norm_name(value: str) -> str:
    """A device name or ID, or a user's UPN or account name: case-folded, trimmed."""
    return value.strip().rstrip(".").casefold()


def norm_ip(value: str) -> str:
    """An IP address in canonical form; ValueError for anything else."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address.") from None


def norm_url(value: str) -> str:
    """A URL with its scheme and host in lower case, or a bare domain in lower case;
    ValueError for text that is neither."""
    text = value.strip()
    if "://" in text:
        parts = urlsplit(text)
        if not parts.scheme or not parts.hostname:
            raise ValueError(f"{value!r} is not a URL.")
        host = parts.netloc.rpartition("@")[2].casefold()
        return urlunsplit((parts.scheme.casefold(), host, parts.path, parts.query, ""))
    domain = text.rstrip(".").casefold()
    if not _DOMAIN.match(domain):
        raise ValueError(f"{value!r} is neither a URL (with https://) nor a domain.")
    return domain


NORMALISERS = {
    "file_hashes": norm_hash,
    "devices": norm_name,
    "users": norm_name,
    "ip_addresses": norm_ip,
    "urls": norm_url,
}


def normalised(kind: str, values: Iterable[str]) -> list[str]:
    """A rule's values of one kind, normalised, each once, in the order given; raises
    ValueError naming the first value that is not of the kind."""
    seen: dict[str, None] = {}
    for value in values:
        if str(value).strip():
            seen[NORMALISERS[kind](str(value))] = None
    return list(seen)


# --- reading an alert --------------------------------------------------------------------------
def _at(item: Mapping[str, Any], path: str) -> str:
    value: Any = item
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return ""
        value = value.get(step)
    return value if isinstance(value, str) else ""


def _kind(item: Mapping[str, Any]) -> str:
    odata = item.get("@odata.type")
    if isinstance(odata, str):
        return odata.rpartition(".")[2].casefold()
    entity = item.get("entityType")
    return str(entity).casefold() if isinstance(entity, str) else ""


_HASH_PATHS = ("sha256", "sha1", "md5")
_FILE_PREFIXES = {
    "fileevidence": ("fileDetails",),
    "processevidence": ("imageFile", "parentProcessImageFile"),
    "file": ("",),
    "process": ("",),
}


class _Collector:
    def __init__(self) -> None:
        self.found: dict[str, set[str]] = {kind: set() for kind in KINDS}

    def add(self, kind: str, *values: str) -> None:
        for value in values:
            if not value or not value.strip():
                continue
            try:
                self.found[kind].add(NORMALISERS[kind](value))
            except ValueError:
                continue  # evidence Defender sent in a shape no rule can name

    def account(self, account: Mapping[str, Any] | None) -> None:
        if not isinstance(account, Mapping):
            return
        name, domain = _at(account, "accountName"), _at(account, "domainName")
        self.add("users", _at(account, "userPrincipalName"), name)
        if name and domain:
            self.add("users", f"{domain}\\{name}")

    def url(self, text: str) -> None:
        self.add("urls", text)
        if "://" in text:
            self.add("urls", urlsplit(text.strip()).hostname or "")

    def item(self, item: Mapping[str, Any]) -> None:
        kind = _kind(item)
        for prefix in _FILE_PREFIXES.get(kind, ()):
            paths = (f"{prefix}.{path}" if prefix else path for path in _HASH_PATHS)
            self.add("file_hashes", *(_at(item, path) for path in paths))
        self.add("devices", _at(item, "mdeDeviceId"))
        if kind == "deviceevidence":
            self.add("devices", _at(item, "deviceDnsName"), _at(item, "azureAdDeviceId"))
        elif kind in {"processevidence", "userevidence"}:
            self.account(item.get("userAccount"))
        elif kind == "user":
            self.account(item)
        elif kind == "mailboxevidence":
            self.add("users", _at(item, "upn"), _at(item, "primaryAddress"))
        elif kind in {"ipevidence", "ip"}:
            self.add("ip_addresses", _at(item, "ipAddress"))
        elif kind in {"urlevidence", "url"}:
            self.url(_at(item, "url"))
        elif kind == "analyzedmessageevidence":
            self.add("ip_addresses", _at(item, "senderIp"))
            urls = item.get("urls")
            for url in urls if isinstance(urls, list) else ():
                if isinstance(url, str):
                    self.url(url)


def evidence_values(
    raw: Mapping[str, Any] | None,
    *,
    machine_id: str = "",
    computer_dns_name: str = "",
    related_user: str = "",
) -> EvidenceValues:
    """The normalised evidence values of one alert: its stored JSON's `evidence`, and the
    device and user the legacy API names on the alert."""
    found = _Collector()
    found.add("devices", machine_id, computer_dns_name)
    found.add("users", related_user)
    if related_user and "\\" in related_user:
        found.add("users", related_user.rpartition("\\")[2])
    items = raw.get("evidence") if isinstance(raw, Mapping) else None
    for item in items if isinstance(items, list) else ():
        if isinstance(item, Mapping):
            found.item(item)
    return EvidenceValues(**{kind: frozenset(values) for kind, values in found.found.items()})


def alert_evidence(alert: Any) -> EvidenceValues:
    """The evidence values of a stored `Alert` (its `raw` must be loaded)."""
    return evidence_values(
        alert.raw,
        machine_id=alert.machine_id,
        computer_dns_name=alert.computer_dns_name,
        related_user=alert.related_user,
    )


def choices_of(values: EvidenceValues) -> dict[str, list[str]]:
    """An alert's values of each kind, sorted, for "suppress alerts like this"."""
    return {kind: sorted(values.of(kind)) for kind in KINDS}
