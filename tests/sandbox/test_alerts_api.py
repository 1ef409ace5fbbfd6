"""The sandbox's Defender APIs: OData on alerts and incidents, paging, PATCH, token checks."""

from __future__ import annotations

import re
import time

import jwt
import pytest

from partner_portal.sandbox.model import parse_datetime
from partner_portal.sandbox.testing import SandboxProcess
from tests.waiting import wait_for_next_second

from .helpers import XDR_SCOPE, api_get

pytestmark = pytest.mark.sandbox

ALERT_KEYS = {
    "id", "incidentId", "investigationId", "assignedTo", "severity", "status",
    "classification", "determination", "investigationState", "detectionSource", "detectorId",
    "category", "threatFamilyName", "threatName", "title", "description", "alertCreationTime",
    "firstEventTime", "lastEventTime", "lastUpdateTime", "resolvedTime", "machineId",
    "computerDnsName", "rbacGroupName", "aadTenantId", "mitreTechniques", "relatedUser",
    "comments", "evidence",
}  # fmt: skip
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$")


@pytest.fixture(scope="module")
def mde(sandbox: SandboxProcess) -> tuple[str, str]:
    tenant = sandbox.tenants[0]["tenant_id"]
    return tenant, sandbox.token(tenant)


def _alerts(sandbox: SandboxProcess, token: str, **params: object) -> list[dict]:
    response = api_get(sandbox, token, "/api/alerts", params)
    assert response.status_code == 200, response.text
    return response.json()["value"]


def _truth(sandbox: SandboxProcess, tenant: str) -> list[dict]:
    return sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant}").json()["value"]


def test_alert_shape_and_envelope(sandbox: SandboxProcess, mde: tuple[str, str]) -> None:
    tenant, token = mde
    response = api_get(sandbox, token, "/api/alerts")
    body = response.json()
    assert body["@odata.context"] == f"{sandbox.url}/api/$metadata#Alerts"
    assert "@odata.nextLink" not in body  # 50 alerts fit in one page
    alerts = body["value"]
    assert len(alerts) == 50
    assert {a["aadTenantId"] for a in alerts} == {tenant}
    for alert in alerts:
        assert set(alert) == ALERT_KEYS
        assert alert["evidence"] == []
        assert re.fullmatch(r"[0-9a-f]{40}", alert["machineId"])
        assert re.fullmatch(r"da\d{18}_-?\d+", alert["id"])
        assert TIMESTAMP.match(alert["alertCreationTime"])
        assert TIMESTAMP.match(alert["lastUpdateTime"])
    assert any(len(a["alertCreationTime"]) == len("2024-01-01T10:00:00.1234567Z") for a in alerts)
    created = [parse_datetime(a["alertCreationTime"]) for a in alerts]
    assert created == sorted(created)  # creation order
    # Several alerts share incidents.
    incident_ids = [a["incidentId"] for a in alerts]
    assert len(set(incident_ids)) < len(incident_ids)
    assert api_get(sandbox, token, "/api/v1.0/alerts").json()["value"] == alerts


def test_expand_evidence(sandbox: SandboxProcess, mde: tuple[str, str]) -> None:
    _, token = mde
    expanded = _alerts(sandbox, token, **{"$expand": "evidence"})
    assert sum(len(a["evidence"]) for a in expanded) > 50
    assert {e["entityType"] for a in expanded for e in a["evidence"]} >= {"Process", "User"}
    bad = api_get(sandbox, token, "/api/alerts", {"$expand": "machines"})
    assert bad.status_code == 400
    assert bad.json()["error"]["code"] == "ODataError"


@pytest.mark.parametrize(
    ("expression", "check"),
    [
        ("severity eq 'High'", lambda a: a["severity"] == "High"),
        ("severity ne 'High'", lambda a: a["severity"] != "High"),
        (
            "status eq 'New' and severity eq 'Medium'",
            lambda a: a["status"] == "New" and a["severity"] == "Medium",
        ),
        (
            "(status eq 'New' or status eq 'InProgress') and category ne 'Malware'",
            lambda a: a["status"] in {"New", "InProgress"} and a["category"] != "Malware",
        ),
        ("assignedTo eq null", lambda a: a["assignedTo"] is None),
        (
            "detectionSource eq 'WindowsDefenderAv'",
            lambda a: a["detectionSource"] == "WindowsDefenderAv",
        ),
    ],
)
def test_filter_operators(sandbox: SandboxProcess, mde: tuple[str, str], expression, check) -> None:
    tenant, token = mde
    everything = _truth(sandbox, tenant)
    expected = [a["id"] for a in everything if check(a)]
    got = [a["id"] for a in _alerts(sandbox, token, **{"$filter": expression})]
    assert got == expected
    assert 0 < len(got) < len(everything) or expression == "assignedTo eq null"


@pytest.mark.parametrize("op", ["gt", "ge", "lt", "le", "eq"])
def test_filter_on_times(sandbox: SandboxProcess, mde: tuple[str, str], op: str) -> None:
    tenant, token = mde
    everything = _truth(sandbox, tenant)
    pivot = everything[25]["lastUpdateTime"]
    at = parse_datetime(pivot)
    compare = {
        "gt": lambda v: v > at,
        "ge": lambda v: v >= at,
        "lt": lambda v: v < at,
        "le": lambda v: v <= at,
        "eq": lambda v: v == at,
    }[op]
    expected = [a["id"] for a in everything if compare(parse_datetime(a["lastUpdateTime"]))]
    unquoted = _alerts(sandbox, token, **{"$filter": f"lastUpdateTime {op} {pivot}"})
    quoted = _alerts(sandbox, token, **{"$filter": f"lastUpdateTime {op} '{pivot}'"})
    assert [a["id"] for a in unquoted] == expected == [a["id"] for a in quoted]
    assert expected


def test_filter_on_ids_and_creation(sandbox: SandboxProcess, mde: tuple[str, str]) -> None:
    tenant, token = mde
    first = _truth(sandbox, tenant)[0]
    by_id = _alerts(sandbox, token, **{"$filter": f"id eq '{first['id']}'"})
    assert [a["id"] for a in by_id] == [first["id"]]
    by_incident = _alerts(sandbox, token, **{"$filter": f"incidentId eq {first['incidentId']}"})
    assert first["id"] in [a["id"] for a in by_incident]
    since = _alerts(sandbox, token, **{"$filter": "alertCreationTime ge 2000-01-01T00:00:00Z"})
    assert len(since) == 50


@pytest.mark.parametrize(
    "expression",
    [
        "severity eq High",  # unquoted string
        "colour eq 'red'",  # unknown property
        "lastUpdateTime gt 'yesterday'",  # not a date
        "status eq 'Open'",  # not an enum value
        "(severity eq 'High'",  # unbalanced
        "severity like 'High'",  # unknown operator
        "incidentId eq '12'",  # wrong type
    ],
)
def test_bad_filters_give_odata_error(
    sandbox: SandboxProcess, mde: tuple[str, str], expression: str
) -> None:
    _, token = mde
    response = api_get(sandbox, token, "/api/alerts", {"$filter": expression})
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "ODataError"
    assert error["message"] and error["target"]


def test_top_limit_and_skip(sandbox: SandboxProcess, mde: tuple[str, str]) -> None:
    tenant, token = mde
    everything = [a["id"] for a in _truth(sandbox, tenant)]
    assert api_get(sandbox, token, "/api/alerts", {"$top": 10001}).status_code == 400
    assert api_get(sandbox, token, "/api/alerts", {"$top": -1}).status_code == 400
    assert len(_alerts(sandbox, token, **{"$top": 10000})) == 50
    page = api_get(sandbox, token, "/api/alerts", {"$top": 7, "$skip": 10}).json()
    assert [a["id"] for a in page["value"]] == everything[10:17]
    assert "@odata.nextLink" not in page  # with $top, the client pages itself


def test_next_link_paging_returns_each_alert_once(sandbox_factory) -> None:
    sb = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=95, page_size=20)
    tenant = sb.tenants[0]["tenant_id"]
    token = sb.token(tenant)
    expected = [a["id"] for a in _truth(sb, tenant)]
    url = f"{sb.url}/api/alerts?$filter=lastUpdateTime ge 2000-01-01T00:00:00Z"
    seen: list[str] = []
    pages = 0
    with sb.session() as session:
        while url:
            body = session.get(url, headers={"Authorization": f"Bearer {token}"}).json()
            seen += [a["id"] for a in body["value"]]
            url = body.get("@odata.nextLink")
            pages += 1
            if url:
                assert url.startswith(sb.url + "/api/alerts?") and "$skip=" in url
    assert pages == 5
    assert seen == expected


def test_updated_alert_keeps_its_place(sandbox_factory) -> None:
    sb = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=30)
    tenant = sb.tenants[0]["tenant_id"]
    token = sb.token(tenant)
    before = [a["id"] for a in _alerts(sb, token)]
    updated = sb.control("PATCH", f"/_sandbox/tenants/{tenant}/alerts", json={"count": 3}).json()[
        "ids"
    ]
    created = sb.control("POST", f"/_sandbox/tenants/{tenant}/alerts", json={"count": 2}).json()[
        "ids"
    ]
    after = _alerts(sb, token)
    assert [a["id"] for a in after] == before + created
    newest = max(
        parse_datetime(a["lastUpdateTime"]) for a in after if a["id"] not in updated + created
    )
    for alert in after:
        if alert["id"] in updated:
            assert parse_datetime(alert["lastUpdateTime"]) > newest


def test_get_one_alert_and_404(sandbox: SandboxProcess, mde: tuple[str, str]) -> None:
    tenant, token = mde
    first = _truth(sandbox, tenant)[0]
    one = api_get(sandbox, token, f"/api/alerts/{first['id']}", {"$expand": "evidence"})
    assert one.json() == first
    missing = api_get(sandbox, token, "/api/alerts/da000_1")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "NotFound"


def test_patch_alert(sandbox_factory) -> None:
    sb = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=10)
    tenant = sb.tenants[0]["tenant_id"]
    token = sb.token(tenant)
    alert = _alerts(sb, token)[0]
    with sb.session() as session:
        url = f"{sb.url}/api/alerts/{alert['id']}"
        headers = {"Authorization": f"Bearer {token}"}
        response = session.patch(
            url,
            json={
                "status": "Resolved",
                "assignedTo": "secops@partner.example",
                "classification": "TruePositive",
                "determination": "Malware",
                "comment": "Contained by the partner.",
            },
            headers=headers,
        )
        assert response.status_code == 200, response.text
        patched = response.json()
        assert patched["status"] == "Resolved"
        assert patched["classification"] == "TruePositive"
        assert patched["resolvedTime"] is not None
        assert parse_datetime(patched["lastUpdateTime"]) > parse_datetime(alert["lastUpdateTime"])
        assert patched["comments"][-1]["comment"] == "Contained by the partner."
        assert patched["comments"][-1]["createdBy"] == sb.config["client_id"]
        for body in (
            {"Status": "New"},
            {"status": "Closed"},
            {"colour": "red"},
            {},
            {"assignedTo": 5},
        ):
            bad = session.patch(url, json=body, headers=headers)
            assert bad.status_code == 400, body
            assert bad.json()["error"]["code"] == "InvalidInput"
        gone = session.patch(f"{sb.url}/api/alerts/da1_1", json={"status": "New"}, headers=headers)
        assert gone.status_code == 404
    # The change survives a restart of the sandbox with the same state folder.
    sb.stop()
    sb.start()
    again = api_get(sb, sb.token(tenant), f"/api/alerts/{alert['id']}").json()
    assert again["status"] == "Resolved"
    assert again["lastUpdateTime"] == patched["lastUpdateTime"]


def test_patch_needs_readwrite_role(sandbox_factory) -> None:
    sb = sandbox_factory(tenants=1, consented=0, alerts_per_tenant=5)
    tenant = sb.tenants[0]["tenant_id"]
    sb.control("POST", f"/_sandbox/tenants/{tenant}/consent", json={"roles": ["Alert.Read.All"]})
    token = sb.token(tenant)
    alert = _alerts(sb, token)[0]
    with sb.session() as session:
        response = session.patch(
            f"{sb.url}/api/alerts/{alert['id']}",
            json={"status": "InProgress"},
            headers={"Authorization": f"Bearer {token}"},
        )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "Forbidden"
    assert "Alert.ReadWrite.All" in response.json()["error"]["message"]


def test_bad_tokens_give_401(sandbox: SandboxProcess, mde: tuple[str, str]) -> None:
    tenant, token = mde
    expired = sandbox.control("POST", "/_sandbox/token", json={"tenant": tenant, "expires_in": -60})
    xdr_token = sandbox.token(tenant, XDR_SCOPE)
    for bad in (token[:-4] + "AAAA", expired.json()["access_token"], xdr_token, "nonsense"):
        response = api_get(sandbox, bad, "/api/alerts")
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "Unauthorized"
    with sandbox.session() as session:
        assert session.get(f"{sandbox.url}/api/alerts").status_code == 401


def test_a_token_seen_before_is_still_refused_once_it_expires(
    sandbox: SandboxProcess, mde: tuple[str, str]
) -> None:
    """A token's checked signature is remembered; its lifetime is checked on every call."""
    tenant, _ = mde
    minted = sandbox.control("POST", "/_sandbox/token", json={"tenant": tenant, "expires_in": 2})
    token = minted.json()["access_token"]
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    assert api_get(sandbox, token, "/api/alerts").status_code == 200
    assert api_get(sandbox, token, "/api/alerts").status_code == 200  # the remembered one
    deadline = time.monotonic() + 60
    while (response := api_get(sandbox, token, "/api/alerts")).status_code == 200:
        assert time.monotonic() < deadline, "the expired token was still accepted"
        time.sleep(0.2)
    assert time.time() >= expires
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "The access token has expired."
    # A token whose signature was refused is not remembered as good by its look-alike.
    forged = token[:-4] + "AAAA"
    assert api_get(sandbox, forged, "/api/alerts").status_code == 401


def test_token_without_alert_role_gives_403(sandbox: SandboxProcess, mde: tuple[str, str]) -> None:
    tenant, _ = mde
    minted = sandbox.control("POST", "/_sandbox/token", json={"tenant": tenant, "roles": []})
    response = api_get(sandbox, minted.json()["access_token"], "/api/alerts")
    assert response.status_code == 403
    assert "Alert.Read.All" in response.json()["error"]["message"]


def test_incidents(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]["tenant_id"]
    token = sandbox.token(tenant, XDR_SCOPE)
    body = api_get(sandbox, token, "/api/incidents").json()
    assert body["@odata.context"] == f"{sandbox.url}/api/$metadata#Incidents"
    incidents = body["value"]
    truth = sandbox.control("GET", f"/_sandbox/ground-truth/incidents?tenant={tenant}").json()
    assert incidents == truth["value"]
    alerts = _truth(sandbox, tenant)
    assert sum(len(i["alerts"]) for i in incidents) == len(alerts)
    for incident in incidents:
        assert isinstance(incident["incidentId"], int)
        assert incident["status"] in {"Active", "Resolved", "Redirected"}
        member_ids = {a["id"] for a in alerts if a["incidentId"] == incident["incidentId"]}
        assert {a["alertId"] for a in incident["alerts"]} == member_ids
        for alert in incident["alerts"]:
            assert alert["serviceSource"] == "MicrosoftDefenderForEndpoint"
            assert alert["devices"] and "entities" in alert
    resolved = api_get(sandbox, token, "/api/incidents", {"$filter": "status eq 'Resolved'"}).json()
    assert [i["incidentId"] for i in resolved["value"]] == [
        i["incidentId"] for i in incidents if i["status"] == "Resolved"
    ]
    assert api_get(sandbox, token, "/api/incidents", {"$top": 101}).status_code == 400
    assert len(api_get(sandbox, token, "/api/incidents", {"$top": 3}).json()["value"]) == 3
    mde_token = sandbox.token(tenant)
    assert api_get(sandbox, mde_token, "/api/incidents").status_code == 401


def test_ground_truth_equals_api_output(sandbox: SandboxProcess, mde: tuple[str, str]) -> None:
    tenant, token = mde
    before = sandbox.control("GET", f"/_sandbox/stats?tenant={tenant}").json()
    truth = _truth(sandbox, tenant)
    after = sandbox.control("GET", f"/_sandbox/stats?tenant={tenant}").json()
    assert after["apis"]["alerts"]["calls_total"] == before["apis"]["alerts"]["calls_total"]
    assert _alerts(sandbox, token, **{"$expand": "evidence"}) == truth


def test_tokens_issued_before_consent_was_removed_are_refused(sandbox_factory) -> None:
    import time

    sb = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=3)
    tenant = sb.tenants[0]["tenant_id"]
    old_token = sb.token(tenant)
    issued = time.time()
    assert api_get(sb, old_token, "/api/alerts").status_code == 200
    wait_for_next_second(issued)  # "iat" counts whole seconds: remove consent in a later one
    sb.control("DELETE", f"/_sandbox/tenants/{tenant}/consent").raise_for_status()
    removed = time.time()
    refused = api_get(sb, old_token, "/api/alerts")
    assert refused.status_code == 401
    assert refused.json()["error"]["code"] == "Unauthorized"
    sb.control("POST", f"/_sandbox/tenants/{tenant}/consent").raise_for_status()
    wait_for_next_second(removed)  # the new token is issued in a later second than the removal
    assert api_get(sb, old_token, "/api/alerts").status_code == 401
    assert api_get(sb, sb.token(tenant), "/api/alerts").status_code == 200
