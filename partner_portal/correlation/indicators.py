"""What an alert can be tied to other customers' alerts by: its shareable indicators.

From a stored alert's evidence (`Alert.raw`) this module takes what the same attacker
would leave at several customers: file hashes (SHA-256, SHA-1), public IP addresses,
URLs, domains, e-mail senders, OAuth application IDs, and each MITRE technique the
alert names together with the detector that raised it (a technique alone is everywhere;
the same detector firing on the same technique at three customers is a pattern).

Graph alerts are read with the protocol core's typed evidence and observables
(`defender.graph_observables`, which already normalises case and IP forms); alerts of
the legacy Defender for Endpoint API carry flat evidence objects, read here for the
same fields. What every customer shares anyway is left out, or it would tie everyone
together: private, loopback and other non-public addresses, Microsoft's own domains
(and URLs and senders on them), user names and device IDs (they belong to one customer).
"""

from __future__ import annotations

import functools
import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from typing import Any
from urllib.parse import urlsplit

from partner_portal.correlation.models import IndicatorKind
from partner_portal.defender import DefenderError, evidence_observables, parse_graph_evidence

#: Domains (and their subdomains) every Microsoft customer's alerts mention.
MICROSOFT_DOMAINS = (
    "microsoft.com", "microsoftonline.com", "windows.net", "windows.com", "office.com",
    "office.net", "office365.com", "outlook.com", "live.com", "azure.com", "azure.net",
    "sharepoint.com", "onmicrosoft.com", "msft.net", "msn.com", "bing.com",
    "windowsupdate.com", "microsoftazuread-sso.com", "msftauth.net", "msauth.net",
    "skype.com", "teams.microsoft.com", "aka.ms", "digicert.com",
)  # fmt: skip

Pair = tuple[str, str]


def microsoft_domain(domain: str) -> bool:
    domain = domain.lower().rstrip(".")
    return any(domain == known or domain.endswith("." + known) for known in MICROSOFT_DOMAINS)


@functools.lru_cache(maxsize=8192)
def public_ip(value: str) -> str | None:
    """The address in its standard form if it is a public one, else None."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return None
    return address.compressed if address.is_global else None


def _url_host(url: str) -> str:
    try:
        return urlsplit(url if "://" in url else f"//{url}").hostname or ""
    except ValueError:
        return ""


def shareable(kind: str, value: str) -> Pair | None:
    """(kind, value) normalised if it can tie customers together, else None."""
    value = value.strip()
    if not value:
        return None
    if kind == IndicatorKind.IP:
        address = public_ip(value)
        return (kind, address) if address else None
    if kind == IndicatorKind.DOMAIN:
        value = value.lower().rstrip(".")
        return None if microsoft_domain(value) or "." not in value else (kind, value)
    if kind == IndicatorKind.URL:
        host = _url_host(value)
        if not host or microsoft_domain(host):
            return None
        try:
            ipaddress.ip_address(host)
        except ValueError:
            return (kind, value)
        return (kind, value) if public_ip(host) else None
    if kind == IndicatorKind.SENDER:
        value = value.lower()
        return None if microsoft_domain(value.rpartition("@")[2]) else (kind, value)
    if kind in (IndicatorKind.SHA256, IndicatorKind.SHA1, IndicatorKind.OAUTH_APP):
        return (kind, value.lower())
    return None


def _graph_pairs(evidence: list[Any]) -> Iterator[Pair]:
    items = []
    for data in evidence:
        try:
            items.append(parse_graph_evidence(data))
        except DefenderError:
            continue  # an unusable item is shown raw on the page; it ties nothing
    for observable in evidence_observables(items):
        yield observable.kind, observable.value


# The legacy API's flat evidence: field name -> kind.
_MDE_FIELDS = {"sha256": "sha256", "sha1": "sha1", "ipAddress": "ip", "url": "url"}


def _mde_pairs(evidence: list[Any]) -> Iterator[Pair]:
    for item in evidence:
        if not isinstance(item, Mapping):
            continue
        for name, kind in _MDE_FIELDS.items():
            value = item.get(name)
            if isinstance(value, str):
                yield kind, value
                if kind == "url" and (host := _url_host(value)):
                    yield "domain", host


def _collect(pairs: Iterable[Pair], detector: object, techniques: Iterable[object]) -> list[Pair]:
    found: dict[Pair, None] = {}
    for kind, value in pairs:
        pair = shareable(kind, value)
        if pair is not None:
            found.setdefault(pair, None)
    if isinstance(detector, str) and detector.strip():
        for technique in techniques:
            if isinstance(technique, str) and technique.strip():
                value = f"{technique.strip().upper()} · {detector.strip().lower()}"
                found.setdefault((IndicatorKind.TECHNIQUE.value, value), None)
    return list(found)


def alert_indicators(*, raw: Mapping[str, Any], mitre_techniques: list[str]) -> list[Pair]:
    """The shareable indicators of one stored alert (its row's `raw`), each once."""
    evidence = raw.get("evidence") or []
    if not isinstance(evidence, list):
        evidence = []
    graph = any(isinstance(item, dict) and "@odata.type" in item for item in evidence)
    pairs = (_graph_pairs if graph else _mde_pairs)(evidence)
    return _collect(pairs, raw.get("detectorId"), mitre_techniques or [])
