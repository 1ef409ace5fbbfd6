"""Planting chosen indicators: new alerts carry the given hash, address and domain in
their evidence, in the legacy API's shape and in Graph's; bad values are refused."""

from __future__ import annotations

from typing import Any

import pytest

from partner_portal.sandbox.testing import SandboxProcess
from tests.fixtures.sandbox import sandbox_fixture

from .helpers import api_get, msal_app

pytestmark = pytest.mark.sandbox

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
HASH = "AB" * 32

planting_sandbox = sandbox_fixture("planting", tenants=1, consented=1, alerts_per_tenant=1)


def test_planted_alerts_carry_the_indicators_through_both_apis(sandbox_factory: Any) -> None:
    sb = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=5)
    tid = str(sb.tenants[0]["tenant_id"])
    plant = {"sha256": HASH, "sha1": "cd" * 20, "ip": "45.77.12.34", "domain": "evil.example"}
    created = sb.control(
        "POST", f"/_sandbox/tenants/{tid}/alerts", json={"count": 2, "plant": plant}
    )
    assert created.status_code == 201, created.text
    ids = created.json()["ids"]
    assert len(ids) == 2

    legacy = api_get(sb, sb.token(tid), f"/api/alerts/{ids[0]}", params={"$expand": "evidence"})
    evidence = legacy.json()["evidence"]
    assert {"File", "Ip", "Url"} <= {e["entityType"] for e in evidence}
    assert any(e["sha256"] == HASH and e["sha1"] == "cd" * 20 for e in evidence)
    assert any(e["ipAddress"] == "45.77.12.34" for e in evidence)
    assert any(e["url"] == "https://evil.example/" for e in evidence)

    token = msal_app(sb, tid).acquire_token_for_client([GRAPH_SCOPE])["access_token"]
    graph = api_get(sb, token, f"/v1.0/security/alerts_v2/{ids[1]}").json()["evidence"]
    kinds = {e["@odata.type"]: e for e in graph}
    assert kinds["#microsoft.graph.security.fileEvidence"]["fileDetails"]["sha256"] == HASH
    assert kinds["#microsoft.graph.security.ipEvidence"]["ipAddress"] == "45.77.12.34"
    assert kinds["#microsoft.graph.security.urlEvidence"]["url"] == "https://evil.example/"


@pytest.mark.parametrize(
    ("plant", "words"),
    [
        ({"sha256": "nothex"}, "64 hexadecimal digits"),
        ({"ip": "not-an-address"}, "does not appear to be an IPv4 or IPv6 address"),
        ({"domain": "no spaces.example"}, "domain name"),
        ({"md5": "00"}, "not md5"),
        ([], "plant must be an object"),
    ],
)
def test_a_bad_plant_is_refused_in_words(
    planting_sandbox: SandboxProcess, plant: Any, words: str
) -> None:
    sb = planting_sandbox
    tid = str(sb.tenants[0]["tenant_id"])
    refused = sb.control("POST", f"/_sandbox/tenants/{tid}/alerts", json={"plant": plant})
    assert refused.status_code == 400
    assert words in refused.json()["error"]
