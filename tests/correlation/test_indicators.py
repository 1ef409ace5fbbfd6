"""Which indicators of an alert can tie customers together, and which cannot."""

from __future__ import annotations

import json
from pathlib import Path

from partner_portal.correlation.indicators import alert_indicators, shareable

PAYLOADS = Path(__file__).resolve().parent.parent / "defender" / "graph_payloads"
HASH = "8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec"


def _graph(*evidence: dict, detector: str = "") -> dict:
    return (
        {"detectorId": detector, "evidence": list(evidence)}
        if detector
        else {"evidence": list(evidence)}
    )


def test_microsofts_documented_alert_gives_its_hash_and_technique_with_detector() -> None:
    alert = json.loads((PAYLOADS / "list_alerts_v2.json").read_text())["value"][0]
    found = alert_indicators(raw=alert, mitre_techniques=alert["mitreTechniques"])
    assert ("sha256", HASH) in found
    assert ("technique", "T1564.001 · e0da400f-affd-43ef-b1d5-afc2eb6f2756") in found
    # The device's address 1.1.1.1 is public; its device ID is the customer's own.
    assert ("ip", "1.1.1.1") in found
    assert not [pair for pair in found if pair[0] in ("mde_device_id", "upn")]
    assert len(found) == len(set(found))


def test_private_addresses_and_microsofts_domains_tie_nothing() -> None:
    raw = _graph(
        {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "10.1.2.3"},
        {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "192.168.0.9"},
        {"@odata.type": "#microsoft.graph.security.urlEvidence", "url": "https://login.microsoftonline.com/x"},
        {"@odata.type": "#microsoft.graph.security.urlEvidence", "url": "http://10.0.0.5/payload"},
        {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "203.0.113.7"},
        {"@odata.type": "#microsoft.graph.security.urlEvidence", "url": "https://evil-cdn.example.net/a.ps1"},
    )  # fmt: skip
    found = alert_indicators(raw=raw, mitre_techniques=["T1059"])
    assert found == [
        ("url", "https://evil-cdn.example.net/a.ps1"),
        ("domain", "evil-cdn.example.net"),
    ]
    # 203.0.113.7 is a documentation range, not a public address; no detector, no technique.
    assert shareable("ip", "8.8.8.8") == ("ip", "8.8.8.8")
    assert shareable("ip", "127.0.0.1") is None
    assert shareable("domain", "Sub.Office365.com.") is None
    assert shareable("sender", "no-reply@microsoft.com") is None
    assert shareable("sender", "Billing@Evil.Example") == ("sender", "billing@evil.example")


def test_legacy_endpoint_evidence_gives_the_same_kinds() -> None:
    raw = {
        "detectorId": "abc",
        "evidence": [
            {"entityType": "File", "sha1": "AA" * 20, "sha256": HASH.upper()},
            {"entityType": "Ip", "ipAddress": "8.8.4.4"},
            {"entityType": "Url", "url": "http://bad.example.org/x"},
            {"entityType": "User", "accountName": "alice", "domainName": "CORP"},
        ],
    }
    found = alert_indicators(raw=raw, mitre_techniques=["t1105"])
    assert found == [
        ("sha256", HASH),
        ("sha1", "aa" * 20),
        ("ip", "8.8.4.4"),
        ("url", "http://bad.example.org/x"),
        ("domain", "bad.example.org"),
        ("technique", "T1105 · abc"),
    ]


def test_malformed_evidence_is_skipped_not_raised() -> None:
    raw = {
        "evidence": [
            {"@odata.type": "#microsoft.graph.security.fileEvidence", "fileDetails": 7},
            "x",
        ]
    }
    assert alert_indicators(raw=raw, mitre_techniques=[]) == []
    assert alert_indicators(raw={"evidence": "not a list"}, mitre_techniques=[]) == []
