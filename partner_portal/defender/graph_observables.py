"""The observables of Graph alert evidence: what the product will index alerts by.

An analyst asks "which of my customers' alerts involve this hash / this sender / this
app?". :func:`evidence_observables` answers from an alert's typed evidence
(:mod:`.graph_evidence`) with file hashes (SHA-1, SHA-256), IP addresses, URLs and their
domains, e-mail senders (envelope and header), OAuth application IDs, user principal
names and device IDs (Defender's and Entra ID's).

Values are normalised so that one thing is one observable however Microsoft wrote it:
hashes, domains, addresses, UPNs and IDs in lower case (none of them is case-sensitive),
IP addresses in their standard form (``ipaddress``: compact IPv6). URLs are kept as sent
(their path may be case-sensitive) and their host is listed as a domain or an IP. A
device's loopback, link-local and unspecified interfaces are left out: every device has
them, so they would tie unrelated alerts together. Evidence of kinds this module does not
model (:class:`~.graph_evidence.UnknownEvidence`) gives none.
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from .graph_evidence import (
    AlertEvidence,
    AnalyzedMessageEvidence,
    DeviceEvidence,
    FileDetails,
    FileEvidence,
    IpEvidence,
    MailboxEvidence,
    OAuthApplicationEvidence,
    ProcessEvidence,
    RegistryValueEvidence,
    UrlEvidence,
    UserAccount,
    UserEvidence,
)

__all__ = ["Observable", "ObservableKind", "evidence_observables"]

ObservableKind = Literal[
    "sha1",
    "sha256",
    "ip",
    "url",
    "domain",
    "sender",
    "oauth_app_id",
    "upn",
    "mde_device_id",
    "azure_ad_device_id",
]


@dataclass(frozen=True, order=True)
class Observable:
    """Something an alert can be found by: ``Observable("sha256", "8963a1…")``."""

    kind: ObservableKind
    value: str


@functools.lru_cache(maxsize=8192)
def _address(value: str) -> tuple[str, bool] | None:
    """An IP address in its standard form and whether every device has it (loopback,
    link-local, unspecified); None if `value` is no address. Cached: a fleet's alerts
    name the same few thousand addresses again and again."""
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    common = address.is_loopback or address.is_link_local or address.is_unspecified
    return address.compressed, common


def evidence_observables(evidence: Iterable[AlertEvidence]) -> tuple[Observable, ...]:
    """The observables of some evidence, normalised (see above), each once, in the
    order the evidence names them."""
    found: dict[Observable, None] = {}

    def add(kind: ObservableKind, value: str | None) -> None:
        if value and (value := value.strip()):
            found.setdefault(Observable(kind, value if kind == "url" else value.lower()), None)

    def add_ip(value: str | None, *, device: bool = False) -> None:
        address = _address((value or "").strip())
        if address is None:
            add("ip", value)
        elif not device or not address[1]:
            add("ip", address[0])

    def add_url(value: str | None) -> None:
        if not value or not value.strip():
            return
        add("url", value)
        try:
            host = urlsplit(value.strip() if "://" in value else f"//{value.strip()}").hostname
        except ValueError:
            return
        if host:
            address = _address(host)
            if address is None:
                add("domain", host.rstrip("."))
            else:
                add("ip", address[0])

    def add_file(details: FileDetails | None) -> None:
        if details is not None:
            add("sha1", details.sha1)
            add("sha256", details.sha256)

    def add_user(account: UserAccount | None) -> None:
        if account is not None:
            add("upn", account.user_principal_name)

    for item in evidence:
        if isinstance(item, FileEvidence | ProcessEvidence | RegistryValueEvidence):
            add("mde_device_id", item.mde_device_id)
        if isinstance(item, FileEvidence):
            add_file(item.file_details)
        elif isinstance(item, ProcessEvidence):
            add_file(item.image_file)
            add_file(item.parent_process_image_file)
            add_user(item.user_account)
        elif isinstance(item, DeviceEvidence):
            add("mde_device_id", item.mde_device_id)
            add("azure_ad_device_id", item.azure_ad_device_id)
            for address in (*item.ip_interfaces, item.last_ip_address):
                add_ip(address, device=True)
            add_ip(item.last_external_ip_address, device=True)
        elif isinstance(item, IpEvidence):
            add_ip(item.ip_address)
        elif isinstance(item, UrlEvidence):
            add_url(item.url)
        elif isinstance(item, AnalyzedMessageEvidence):
            for sender in (item.p1_sender, item.p2_sender):
                if sender is not None:
                    add("sender", sender.email_address)
                    add("domain", sender.domain_name)
            add_ip(item.sender_ip)
            for url in item.urls:
                add_url(url)
        elif isinstance(item, UserEvidence):
            add_user(item.user_account)
        elif isinstance(item, MailboxEvidence):
            add("upn", item.upn)
            add_user(item.user_account)
        elif isinstance(item, OAuthApplicationEvidence):
            add("oauth_app_id", item.app_id)
    return tuple(found)
