"""The sandbox's Microsoft Graph security API: tokens, alerts_v2, incidents, hunting,
limits and faults, with plain requests and MSAL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from partner_portal.sandbox import graph_enums
from partner_portal.sandbox.testing import SandboxProcess

from .helpers import MDE_SCOPE, api_get, msal_app

pytestmark = pytest.mark.sandbox

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
GRAPH_ROLES_ORDER = (
    "SecurityAlert.Read.All",
    "SecurityAlert.ReadWrite.All",
    "SecurityIncident.Read.All",
    "SecurityIncident.ReadWrite.All",
    "ThreatHunting.Read.All",
)
GRAPH_ROLES = {
    "SecurityAlert.Read.All",
    "SecurityAlert.ReadWrite.All",
    "SecurityIncident.Read.All",
    "SecurityIncident.ReadWrite.All",
    "ThreatHunting.Read.All",
}


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    process = SandboxProcess(
        Path(tmp_path_factory.mktemp("graph")),
        tenants=2,
        consented=2,
        alerts_per_tenant=60,
        arrival_rate=0,
        seed=11,
    )
    with process:
        yield process


def graph_token(sandbox: SandboxProcess, tenant: str) -> str:
    result = msal_app(sandbox, tenant).acquire_token_for_client([GRAPH_SCOPE])
    assert "access_token" in result, result
    return str(result["access_token"])


def claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def call(
    sandbox: SandboxProcess, token: str, method: str, path: str, body: Any = None
) -> requests.Response:
    with sandbox.session() as session:
        return session.request(
            method,
            sandbox.url + path,
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )


def assert_graph_error(response: requests.Response, status: int, code: str | None = None) -> None:
    assert response.status_code == status, response.text
    error = response.json()["error"]
    assert set(error) == {"code", "message", "innerError"}
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    assert error["message"]
    if code:
        assert error["code"] == code


@pytest.fixture(scope="module")
def tenant(graph: SandboxProcess) -> str:
    return str(graph.tenants[0]["tenant_id"])


@pytest.fixture(scope="module")
def token(graph: SandboxProcess, tenant: str) -> str:
    return graph_token(graph, tenant)


#: What a client that knows Graph's newer enum members sends (as the product's does).
NEWER_MEMBERS = {"Prefer": "include-unknown-enum-members"}


def all_alerts(
    sandbox: SandboxProcess,
    token: str,
    params: dict[str, Any],
    headers: dict[str, str] | None = None,
) -> list[dict]:
    url: str | None = "/v1.0/security/alerts_v2"
    found: list[dict] = []
    first = True
    while url:
        response = api_get(sandbox, token, url, params if first else None, headers)
        assert response.status_code == 200, response.text
        body = response.json()
        found += body["value"]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(sandbox.url)
            url = url[len(sandbox.url) :]
        first = False
    return found


def test_graph_token_and_config(graph: SandboxProcess, tenant: str, token: str) -> None:
    assert graph.config["graph_url"] == graph.url
    payload = claims(token)
    assert payload["aud"] == "https://graph.microsoft.com"
    assert payload["ver"] == "1.0"
    assert set(payload["roles"]) == GRAPH_ROLES
    # The resource app ID works as well, and MDE tokens carry no Graph role.
    by_id = msal_app(graph, tenant).acquire_token_for_client(
        ["00000003-0000-0000-c000-000000000000/.default"]
    )
    assert claims(by_id["access_token"])["aud"] == "https://graph.microsoft.com"
    mde = claims(graph.token(tenant, MDE_SCOPE))
    assert not set(mde["roles"]) & GRAPH_ROLES


def test_alerts_paging_products_and_evidence(graph: SandboxProcess, token: str) -> None:
    everything = all_alerts(graph, token, {"$top": "7", "$count": "true"}, NEWER_MEMBERS)
    first = api_get(graph, token, "/v1.0/security/alerts_v2", {"$top": "7", "$count": "true"})
    assert first.json()["@odata.count"] == len(everything)
    assert len(first.json()["value"]) == 7
    assert len({a["id"] for a in everything}) == len(everything)
    products = {a["serviceSource"] for a in everything}
    assert products >= {
        "microsoftDefenderForEndpoint",
        "microsoftDefenderForOffice365",
        "microsoftDefenderForIdentity",
        "microsoftDefenderForCloudApps",
        "azureAdIdentityProtection",
        "dataLossPrevention",
        "microsoftDefenderForCloud",
    }
    kinds = {e["@odata.type"].rsplit(".", 1)[1] for a in everything for e in a["evidence"]}
    assert kinds >= {
        "deviceEvidence", "fileEvidence", "processEvidence", "registryValueEvidence",
        "userEvidence", "mailboxEvidence", "analyzedMessageEvidence", "ipEvidence",
        "urlEvidence", "cloudApplicationEvidence", "oauthApplicationEvidence",
    }  # fmt: skip
    # $top is clamped to 1,000; the same data comes back on a restart (seeded).
    big = api_get(graph, token, "/v1.0/security/alerts_v2", {"$top": "5000"})
    assert len(big.json()["value"]) == len(everything)


def test_alert_filters_and_order(graph: SandboxProcess, token: str) -> None:
    everything = all_alerts(graph, token, {})
    times = sorted(a["lastUpdateDateTime"] for a in everything)
    middle = times[len(times) // 2]
    newer = all_alerts(
        graph,
        token,
        {"$filter": f"lastUpdateDateTime gt {middle}", "$orderby": "lastUpdateDateTime asc"},
    )
    assert newer and all(a["lastUpdateDateTime"] > middle for a in newer)
    stamps = [a["lastUpdateDateTime"] for a in newer]
    assert stamps == sorted(stamps)
    desc = all_alerts(graph, token, {"$orderby": "lastUpdateDateTime desc"})
    assert [a["lastUpdateDateTime"] for a in desc] == sorted(times, reverse=True)
    high = all_alerts(graph, token, {"$filter": "severity eq 'high' and status ne 'resolved'"})
    assert all(a["severity"] == "high" and a["status"] != "resolved" for a in high)
    office = all_alerts(
        graph, token, {"$filter": "serviceSource eq 'microsoftDefenderForOffice365'"}
    )
    assert office and {a["serviceSource"] for a in office} == {"microsoftDefenderForOffice365"}
    incident = everything[0]["incidentId"]
    same = all_alerts(graph, token, {"$filter": f"incidentId eq '{incident}'"})
    assert same and {a["incidentId"] for a in same} == {incident}
    nobody = all_alerts(graph, token, {"$filter": "assignedTo eq 'nobody@example.com'"})
    assert nobody == []
    bad = api_get(graph, token, "/v1.0/security/alerts_v2", {"$filter": "title eq 'x'"})
    assert_graph_error(bad, 400, "BadRequest")


def test_endpoint_alert_same_in_both_apis(graph: SandboxProcess, tenant: str, token: str) -> None:
    mde_token = graph.token(tenant, MDE_SCOPE)
    mde_alert = api_get(graph, mde_token, "/api/alerts", {"$top": "1"}).json()["value"][0]
    response = api_get(graph, token, f"/v1.0/security/alerts_v2/{mde_alert['id']}")
    assert response.status_code == 200, response.text
    alert = response.json()
    assert alert["id"] == mde_alert["id"]
    assert alert["providerAlertId"] == mde_alert["id"]
    assert alert["serviceSource"] == "microsoftDefenderForEndpoint"
    # Graph names the detection source in its own enum ("WindowsDefenderAv" → "antivirus").
    assert alert["detectionSource"] in graph_enums.DETECTION_SOURCE
    assert alert["incidentId"] == str(mde_alert["incidentId"])
    assert alert["title"] == mde_alert["title"]
    assert any(e["@odata.type"].endswith("deviceEvidence") for e in alert["evidence"])


def test_patch_and_comments_reach_ground_truth(
    graph: SandboxProcess, tenant: str, token: str
) -> None:
    alerts = all_alerts(graph, token, {})
    endpoint = next(a for a in alerts if a["serviceSource"] == "microsoftDefenderForEndpoint")
    other = next(a for a in alerts if a["serviceSource"] != "microsoftDefenderForEndpoint")
    for alert in (endpoint, other):
        path = f"/v1.0/security/alerts_v2/{alert['id']}"
        patched = call(
            graph,
            token,
            "PATCH",
            path,
            {"status": "inProgress", "classification": "truePositive", "assignedTo": "soc@x.com"},
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["status"] == "inProgress"
        assert patched.json()["lastUpdateDateTime"] > alert["lastUpdateDateTime"]
        before = len(patched.json()["comments"])
        body = {"@odata.type": "microsoft.graph.security.alertComment", "comment": "seen"}
        first = call(graph, token, "POST", path + "/comments", body)
        assert first.status_code == 200, first.text
        second = call(graph, token, "POST", path + "/comments", [{"comment": "again"}])
        comments = second.json()["value"]
        assert len(comments) == before + 2
        assert [c["comment"] for c in comments[-2:]] == ["seen", "again"]
        bad = call(graph, token, "PATCH", path, {"status": "closed"})
        assert_graph_error(bad, 400, "BadRequest")
    truth = graph.control("GET", f"/_sandbox/tenants/{tenant}/graph/ground-truth").json()
    by_id = {a["id"]: a for a in truth["alerts"]}
    for alert in (endpoint, other):
        assert by_id[alert["id"]]["status"] == "inProgress"
        assert by_id[alert["id"]]["assignedTo"] == "soc@x.com"
        assert by_id[alert["id"]]["comments"][-1]["comment"] == "again"
    # The endpoint alert changed for the MDE API too.
    mde = graph.control("GET", f"/_sandbox/ground-truth?tenant={tenant}").json()["value"]
    same = next(a for a in mde if a["id"] == endpoint["id"])
    assert same["status"] == "InProgress" and same["classification"] == "TruePositive"
    missing = call(graph, token, "PATCH", "/v1.0/security/alerts_v2/nope", {"status": "new"})
    assert_graph_error(missing, 404, "NotFound")


def test_incidents_expand_merged_and_patch(graph: SandboxProcess, tenant: str, token: str) -> None:
    response = api_get(
        graph, token, "/v1.0/security/incidents", {"$expand": "alerts", "$top": "1000"}
    )
    assert response.status_code == 200, response.text
    incidents = response.json()["value"]
    assert incidents and all(i["alerts"] for i in incidents)
    multi = [i for i in incidents if len({a["serviceSource"] for a in i["alerts"]}) > 1]
    assert multi, "some incidents span several products"
    merged = [i for i in incidents if i["status"] == "redirected"]
    assert merged and all(i["redirectIncidentId"] for i in merged)
    plain = api_get(graph, token, "/v1.0/security/incidents", {"$top": "2"}).json()
    assert "alerts" not in plain["value"][0] and "@odata.nextLink" in plain
    active = api_get(
        graph, token, "/v1.0/security/incidents", {"$filter": "status eq 'active'"}
    ).json()["value"]
    assert active and {i["status"] for i in active} == {"active"}
    target = active[0]["id"]
    path = f"/v1.0/security/incidents/{target}"
    patched = call(graph, token, "PATCH", path, {"status": "resolved", "customTags": ["sandbox"]})
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "resolved"
    comments = call(graph, token, "POST", path + "/comments", {"comment": "closed by test"})
    assert comments.json()["value"][-1]["comment"] == "closed by test"
    truth = graph.control("GET", f"/_sandbox/tenants/{tenant}/graph/ground-truth").json()
    found = next(i for i in truth["incidents"] if i["id"] == target)
    assert found["status"] == "resolved" and found["customTags"] == ["sandbox"]
    assert found["comments"][-1]["comment"] == "closed by test"


def test_expand_500_fault(graph: SandboxProcess, tenant: str, token: str) -> None:
    assert graph.control("PUT", "/_sandbox/faults", {"tenant": tenant, "expand_500": 1}).ok
    try:
        failing = api_get(
            graph,
            token,
            "/v1.0/security/incidents",
            {"$expand": "alerts", "$filter": "status eq 'active'"},
        )
        assert_graph_error(failing, 500)
        only_filter = api_get(
            graph, token, "/v1.0/security/incidents", {"$filter": "status eq 'active'"}
        )
        assert only_filter.status_code == 200
        only_expand = api_get(graph, token, "/v1.0/security/incidents", {"$expand": "alerts"})
        assert only_expand.status_code == 200
    finally:
        graph.control("PUT", "/_sandbox/faults", {"tenant": tenant})


def test_rate_limit_150_per_minute(graph: SandboxProcess) -> None:
    tenant = str(graph.tenants[1]["tenant_id"])
    token = graph_token(graph, tenant)
    graph.control("POST", "/_sandbox/stats/reset")
    statuses = []
    with graph.session() as session:
        for _ in range(152):
            response = session.get(
                graph.url + "/v1.0/security/alerts_v2?$top=1",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            )
            statuses.append(response.status_code)
    assert statuses[:150] == [200] * 150
    assert statuses[150] == 429
    assert int(response.headers["Retry-After"]) >= 1
    assert_graph_error(response, 429, "TooManyRequests")
    stats = graph.control("GET", f"/_sandbox/stats?tenant={tenant}").json()
    assert "graph_alerts" in str(stats)
    graph.control("POST", "/_sandbox/stats/reset")


def test_consent_scope_graph_only_and_defender_only(graph: SandboxProcess) -> None:
    created = graph.control(
        "POST", "/_sandbox/tenants", {"alerts": 5, "consented": True, "consent_scope": "defender"}
    ).json()
    tid = created["tenant_id"]
    assert created["consent_scope"] == "defender"
    assert not set(created["roles"]) & GRAPH_ROLES
    token = graph_token(graph, tid)
    assert "roles" not in claims(token)
    refused = api_get(graph, token, "/v1.0/security/alerts_v2")
    assert_graph_error(refused, 403, "Forbidden")
    assert "SecurityAlert.Read.All" in refused.json()["error"]["message"]
    # Widening the scope takes a new consent.
    graph.control("PUT", f"/_sandbox/tenants/{tid}/consent-scope", {"scope": "both"})
    assert "roles" not in claims(graph_token(graph, tid))
    graph.control("POST", f"/_sandbox/tenants/{tid}/consent")
    assert set(claims(graph_token(graph, tid))["roles"]) == GRAPH_ROLES
    # Graph only: the MDE token has no role and the MDE API refuses it.
    graph.control("PUT", f"/_sandbox/tenants/{tid}/consent-scope", {"scope": "graph"})
    mde = graph.token(tid, MDE_SCOPE)
    assert "roles" not in claims(mde)
    assert api_get(graph, mde, "/api/alerts").status_code == 403
    ok = api_get(graph, graph_token(graph, tid), "/v1.0/security/alerts_v2")
    assert ok.status_code == 200
    bad = graph.control("PUT", f"/_sandbox/tenants/{tid}/consent-scope", {"scope": "x"})
    assert bad.status_code == 400
    # A read-only Graph token cannot PATCH.
    minted = graph.control(
        "POST",
        "/_sandbox/token",
        {"tenant": tid, "api": "graph", "roles": ["SecurityAlert.Read.All"]},
    ).json()["access_token"]
    alert_id = ok.json()["value"][0]["id"]
    write = call(graph, minted, "PATCH", f"/v1.0/security/alerts_v2/{alert_id}", {"status": "new"})
    assert_graph_error(write, 403, "Forbidden")
    unauth = api_get(graph, "not-a-token", "/v1.0/security/alerts_v2")
    assert_graph_error(unauth, 401, "InvalidAuthenticationToken")


def hunt(
    sandbox: SandboxProcess, token: str, query: str, *, sdk: bool = False, span: str = "P60D"
) -> requests.Response:
    if sdk:
        path = "/v1.0/security/microsoft.graph.security.runHuntingQuery"
        return call(sandbox, token, "POST", path, {"query": query, "timespan": span})
    path = "/v1.0/security/runHuntingQuery"
    return call(sandbox, token, "POST", path, {"Query": query, "Timespan": span})


def test_hunting_subset(graph: SandboxProcess, token: str) -> None:
    info = hunt(graph, token, "AlertInfo | take 5")
    assert info.status_code == 200, info.text
    body = info.json()
    assert {"name": "AlertId", "type": "String"} in body["schema"]
    assert len(body["results"]) == 5
    high = hunt(graph, token, 'AlertInfo | where Severity == "High" | project AlertId, Severity')
    rows = high.json()["results"]
    assert rows and all(set(r) == {"AlertId", "Severity"} and r["Severity"] == "High" for r in rows)
    assert [c["name"] for c in high.json()["schema"]] == ["AlertId", "Severity"]
    by_source = hunt(graph, token, "AlertInfo | summarize count() by ServiceSource", sdk=True)
    assert by_source.status_code == 200, by_source.text
    counts = {r["ServiceSource"]: r["count_"] for r in by_source.json()["results"]}
    assert counts["Microsoft Defender for Endpoint"] > 0
    assert "Microsoft Defender for Office 365" in counts
    evidence = hunt(graph, token, 'AlertEvidence | where EntityType contains "user" | take 3')
    assert all(r["EntityType"] == "User" for r in evidence.json()["results"])
    devices = hunt(graph, token, "DeviceInfo | where OSBuild > 0 | where Timestamp > ago(400d)")
    assert devices.status_code == 200 and devices.json()["results"]
    recent = hunt(graph, token, "AlertInfo | where Timestamp > ago(1d)", span="P1D")
    assert recent.status_code == 200
    for bad in (
        "AlertInfo | join DeviceInfo on DeviceId",
        "SecretTable | take 1",
        "AlertInfo | where Severity > 3",
        "AlertInfo | project Nope",
        "AlertInfo | summarize dcount(AlertId)",
    ):
        response = hunt(graph, token, bad)
        assert_graph_error(response, 400, "BadRequest")
    assert_graph_error(hunt(graph, token, "AlertInfo", span="yesterday"), 400, "BadRequest")


def test_hunting_quota(graph: SandboxProcess) -> None:
    tenant = str(graph.tenants[1]["tenant_id"])
    token = graph_token(graph, tenant)
    graph.control("POST", "/_sandbox/stats/reset")
    statuses = [hunt(graph, token, "DeviceInfo | take 1").status_code for _ in range(46)]
    assert statuses[:45] == [200] * 45 and statuses[45] == 429
    graph.control("POST", "/_sandbox/stats/reset")


def test_common_faults_in_graph_shape(graph: SandboxProcess, tenant: str, token: str) -> None:
    assert graph.control("PUT", "/_sandbox/faults", {"tenant": tenant, "rate_503": 1}).ok
    try:
        response = api_get(graph, token, "/v1.0/security/alerts_v2")
        assert_graph_error(response, 503, "ServiceUnavailable")
    finally:
        graph.control("PUT", "/_sandbox/faults", {"tenant": tenant})
    assert api_get(graph, token, "/v1.0/security/alerts_v2").status_code == 200
    unknown = api_get(graph, token, "/v1.0/security/nothing")
    assert_graph_error(unknown, 404, "NotFound")


def test_restart_keeps_graph_data_and_changes(sandbox_factory: Any, tmp_path: Path) -> None:
    state = tmp_path / "state"
    sb = sandbox_factory(state_dir=state, tenants=1, consented=1, alerts_per_tenant=30)
    tid = str(sb.tenants[0]["tenant_id"])
    token = graph_token(sb, tid)
    sb.control("POST", f"/_sandbox/tenants/{tid}/alerts", json={"count": 3})  # arrivals
    before = all_alerts(sb, token, {})
    other = next(a for a in before if a["serviceSource"] != "microsoftDefenderForEndpoint")
    path = f"/v1.0/security/alerts_v2/{other['id']}"
    assert call(sb, token, "PATCH", path, {"status": "resolved"}).status_code == 200
    assert call(sb, token, "POST", path + "/comments", {"comment": "kept"}).status_code == 200
    incident = api_get(sb, token, "/v1.0/security/incidents").json()["value"][0]["id"]
    tags = {"customTags": ["kept"]}
    assert call(sb, token, "PATCH", f"/v1.0/security/incidents/{incident}", tags).ok
    truth = sb.control("GET", f"/_sandbox/tenants/{tid}/graph/ground-truth").json()
    scoped = sb.control("PUT", f"/_sandbox/tenants/{tid}/consent-scope", {"scope": "graph"})
    assert scoped.json()["roles"] == list(GRAPH_ROLES_ORDER)  # narrowed at once
    sb.stop()

    again = sandbox_factory(state_dir=state, tenants=1, alerts_per_tenant=30)
    truth_again = again.control("GET", f"/_sandbox/tenants/{tid}/graph/ground-truth").json()
    assert [a["id"] for a in truth_again["alerts"]] == [a["id"] for a in truth["alerts"]]
    changed = next(a for a in truth_again["alerts"] if a["id"] == other["id"])
    assert changed["status"] == "resolved" and changed["comments"][-1]["comment"] == "kept"
    kept = next(i for i in truth_again["incidents"] if i["id"] == incident)
    assert kept["customTags"] == ["kept"]
    assert truth_again == truth
    detail = again.control("GET", f"/_sandbox/tenants/{tid}").json()
    assert detail["consent_scope"] == "graph" and set(detail["roles"]) == GRAPH_ROLES


def test_a_listing_shows_alerts_changed_or_added_after_an_earlier_listing(
    sandbox_factory: Any, tmp_path: Path
) -> None:
    """Listings reuse each alert's serialisation and the sorted order; a change through
    either API, a change by the sandbox itself and a new alert each show at once."""
    sb = sandbox_factory(state_dir=tmp_path / "state", tenants=1, consented=1, alerts_per_tenant=40)
    tid = str(sb.tenants[0]["tenant_id"])
    token = graph_token(sb, tid)
    ordered = {"$orderby": "lastUpdateDateTime asc", "$top": "7"}

    def listed_as_now(moved: str) -> dict[str, dict[str, Any]]:
        listed = all_alerts(sb, token, ordered, NEWER_MEMBERS)  # as the ground truth shows
        truth = sb.control("GET", f"/_sandbox/tenants/{tid}/graph/ground-truth").json()
        by_id = {a["id"]: a for a in listed}
        assert len(by_id) == len(listed)
        assert by_id == {a["id"]: a for a in truth["alerts"]}  # every alert as it is now
        stamps = [a["lastUpdateDateTime"] for a in listed]
        assert stamps == sorted(stamps) and listed[-1]["id"] == moved  # changed last
        return by_id

    before = all_alerts(sb, token, ordered, NEWER_MEMBERS)
    endpoint = next(a for a in before if a["serviceSource"] == "microsoftDefenderForEndpoint")
    other = next(a for a in before if a["serviceSource"] != "microsoftDefenderForEndpoint")

    mde_path = f"/api/alerts/{endpoint['id']}"
    assert call(sb, sb.token(tid), "PATCH", mde_path, {"assignedTo": "mde@x.com"}).ok
    assert listed_as_now(endpoint["id"])[endpoint["id"]]["assignedTo"] == "mde@x.com"

    graph_path = f"/v1.0/security/alerts_v2/{other['id']}"
    assert call(sb, token, "PATCH", graph_path, {"assignedTo": "graph@x.com"}).ok
    assert listed_as_now(other["id"])[other["id"]]["assignedTo"] == "graph@x.com"

    updated = sb.control("PATCH", f"/_sandbox/tenants/{tid}/alerts", json={"count": 1}).json()
    listed_as_now(updated["ids"][0])

    added = sb.control("POST", f"/_sandbox/tenants/{tid}/alerts", json={"count": 1}).json()
    assert len(listed_as_now(added["ids"][0])) == len(before) + 1
