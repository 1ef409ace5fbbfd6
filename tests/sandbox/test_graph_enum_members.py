"""Graph's evolvable enums in the sandbox: members added after ``unknownFutureValue``
are shown, filtered on and accepted only for requests with
``Prefer: include-unknown-enum-members``; the product's Graph client sends it."""

from __future__ import annotations

from typing import Any

import pytest
import requests

from partner_portal.defender import graph_vocab
from partner_portal.sandbox import graph_enums
from partner_portal.sandbox.testing import SandboxProcess
from tests.fixtures.sandbox import sandbox_fixture

from .helpers import api_get, graph_client

pytestmark = pytest.mark.sandbox

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
PREFER = {"Prefer": "include-unknown-enum-members"}
ALERTS = "/v1.0/security/alerts_v2"
INCIDENTS = "/v1.0/security/incidents"

enum_sandbox = sandbox_fixture(
    "graph-enums", tenants=1, consented=1, alerts_per_tenant=60, seed=23, page_size=10_000
)


@pytest.fixture(scope="module")
def tenant(enum_sandbox: SandboxProcess) -> str:
    return str(enum_sandbox.tenants[0]["tenant_id"])


@pytest.fixture(scope="module")
def token(enum_sandbox: SandboxProcess, tenant: str) -> str:
    return enum_sandbox.token(tenant, GRAPH_SCOPE)


@pytest.fixture(scope="module")
def truth(enum_sandbox: SandboxProcess, tenant: str) -> dict[str, Any]:
    answer = enum_sandbox.control("GET", f"/_sandbox/tenants/{tenant}/graph/ground-truth")
    return dict(answer.json())


def by_id(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {i["id"]: i for i in items}


def cloud_ids(truth: dict[str, Any]) -> set[str]:
    return {a["id"] for a in truth["alerts"] if a["serviceSource"] == "microsoftDefenderForCloud"}


def waiting_incident(truth: dict[str, Any]) -> str:
    found = [i["id"] for i in truth["incidents"] if i["status"] == "awaitingAction"]
    assert len(found) == 1, "the sandbox has one incident awaiting action"
    return str(found[0])


def send(
    sb: SandboxProcess, token: str, method: str, path: str, body: Any, prefer: bool
) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}", **(PREFER if prefer else {})}
    with sb.session() as session:
        return session.request(method, sb.url + path, json=body, headers=headers, timeout=30)


def rest(alert: dict[str, Any]) -> dict[str, Any]:
    """An alert without the properties that hold newer members in the sandbox's data."""
    return {
        k: v for k, v in alert.items() if k not in {"serviceSource", "detectionSource", "evidence"}
    }


def error_message(response: requests.Response) -> str:
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] == "BadRequest"
    return str(response.json()["error"]["message"])


def test_the_data_holds_newer_members(truth: dict[str, Any]) -> None:
    # Every alert's enumerated values are members of Graph's enums (endpoint alerts too:
    # Defender for Endpoint's "WindowsDefenderAtp" is Graph's microsoftDefenderForEndpoint).
    for name, members in graph_enums.ALERT_ENUMS.items():
        assert {a[name] for a in truth["alerts"]} <= set(members), name
    cloud = [a for a in truth["alerts"] if a["id"] in cloud_ids(truth)]
    assert len(cloud) >= 3
    newer_detections = graph_enums.ALERT_NEWER["detectionSource"]
    assert {a["detectionSource"] for a in cloud} <= newer_detections
    remediation = {a["evidence"][0]["remediationStatus"] for a in cloud}
    assert remediation and remediation <= graph_enums.EVIDENCE_NEWER["remediationStatus"]
    waiting_incident(truth)


def test_newer_members_read_as_the_sentinel_without_the_preference(
    enum_sandbox: SandboxProcess, token: str, truth: dict[str, Any]
) -> None:
    plain = api_get(enum_sandbox, token, ALERTS)
    asked = api_get(enum_sandbox, token, ALERTS, headers=PREFER)
    assert plain.status_code == asked.status_code == 200, plain.text
    assert "Preference-Applied" not in plain.headers
    assert asked.headers["Preference-Applied"] == "include-unknown-enum-members"
    seen_plain, seen_asked = by_id(plain.json()["value"]), by_id(asked.json()["value"])
    real = by_id(truth["alerts"])
    assert set(seen_plain) == set(seen_asked) == set(real)
    for alert_id in cloud_ids(truth):
        hidden, shown = seen_plain[alert_id], seen_asked[alert_id]
        assert hidden["serviceSource"] == hidden["detectionSource"] == "unknownFutureValue"
        assert hidden["evidence"][0]["remediationStatus"] == "unknownFutureValue"
        assert shown["serviceSource"] == "microsoftDefenderForCloud"
        assert shown["detectionSource"] == real[alert_id]["detectionSource"]
        assert shown["evidence"] == real[alert_id]["evidence"]
        assert rest(hidden) == rest(shown) == rest(real[alert_id])  # the rest is the same
    others = set(real) - cloud_ids(truth)
    assert others and all(seen_plain[i] == seen_asked[i] == real[i] for i in others)
    one = sorted(cloud_ids(truth))[0]
    single = api_get(enum_sandbox, token, f"{ALERTS}/{one}")
    assert single.json()["serviceSource"] == "unknownFutureValue"
    single = api_get(enum_sandbox, token, f"{ALERTS}/{one}", headers=PREFER)
    assert single.json()["serviceSource"] == "microsoftDefenderForCloud"


def test_filter_on_newer_members_needs_the_preference(
    enum_sandbox: SandboxProcess, token: str, truth: dict[str, Any]
) -> None:
    def ids(filter_: str, headers: dict[str, str] | None = None) -> set[str]:
        answer = api_get(enum_sandbox, token, ALERTS, {"$filter": filter_}, headers)
        assert answer.status_code == 200, answer.text
        return {a["id"] for a in answer.json()["value"]}

    named = "serviceSource eq 'microsoftDefenderForCloud'"
    refused = api_get(enum_sandbox, token, ALERTS, {"$filter": named})
    message = error_message(refused)
    assert "microsoftDefenderForCloud" in message
    assert "Prefer: include-unknown-enum-members" in message
    assert ids(named, PREFER) == cloud_ids(truth)
    sentinel = "serviceSource eq 'unknownFutureValue'"
    assert ids(sentinel) == cloud_ids(truth)
    assert ids(sentinel, PREFER) == set()
    assert ids("serviceSource ne 'unknownFutureValue'") == set(by_id(truth["alerts"])) - cloud_ids(
        truth
    )


def test_incident_awaiting_action(
    enum_sandbox: SandboxProcess, token: str, truth: dict[str, Any]
) -> None:
    waiting = waiting_incident(truth)
    plain = api_get(enum_sandbox, token, INCIDENTS, {"$expand": "alerts"})
    asked = api_get(enum_sandbox, token, INCIDENTS, {"$expand": "alerts"}, PREFER)
    assert by_id(plain.json()["value"])[waiting]["status"] == "unknownFutureValue"
    assert by_id(asked.json()["value"])[waiting]["status"] == "awaitingAction"
    # Expanded alerts follow the same rule.
    sources_plain = {a["serviceSource"] for i in plain.json()["value"] for a in i["alerts"]}
    sources_asked = {a["serviceSource"] for i in asked.json()["value"] for a in i["alerts"]}
    assert (
        "unknownFutureValue" in sources_plain and "microsoftDefenderForCloud" not in sources_plain
    )
    assert (
        "microsoftDefenderForCloud" in sources_asked and "unknownFutureValue" not in sources_asked
    )
    path = f"{INCIDENTS}/{waiting}"
    assert api_get(enum_sandbox, token, path).json()["status"] == "unknownFutureValue"
    assert api_get(enum_sandbox, token, path, headers=PREFER).json()["status"] == "awaitingAction"
    status = {"$filter": "status eq 'awaitingAction'"}
    assert "Prefer: include-unknown-enum-members" in error_message(
        api_get(enum_sandbox, token, INCIDENTS, status)
    )
    found = api_get(enum_sandbox, token, INCIDENTS, status, PREFER).json()["value"]
    assert [i["id"] for i in found] == [waiting]


def test_patch_with_newer_members_and_the_sentinel(
    enum_sandbox: SandboxProcess, tenant: str, token: str, truth: dict[str, Any]
) -> None:
    incidents = [i for i in truth["incidents"] if i["status"] == "active"]
    target = f"{INCIDENTS}/{incidents[0]['id']}"
    without = send(enum_sandbox, token, "PATCH", target, {"status": "awaitingAction"}, False)
    assert "Prefer: include-unknown-enum-members" in error_message(without)
    # With the preference the member is known, yet only Microsoft sets it.
    with_it = send(enum_sandbox, token, "PATCH", target, {"status": "awaitingAction"}, True)
    assert "allowed: active, inProgress, resolved" in error_message(with_it)
    # unknownFutureValue leaves a property as it was; the rest of the body applies.
    body = {"classification": "unknownFutureValue", "assignedTo": "soc@example.com"}
    kept = send(enum_sandbox, token, "PATCH", target, body, False)
    assert kept.status_code == 200, kept.text
    assert kept.json()["classification"] == incidents[0]["classification"]
    assert kept.json()["assignedTo"] == "soc@example.com"
    alert = f"{ALERTS}/{sorted(cloud_ids(truth))[0]}"
    same = send(enum_sandbox, token, "PATCH", alert, {"status": "unknownFutureValue"}, False)
    assert same.status_code == 200, same.text
    assert same.json()["status"] == by_id(truth["alerts"])[alert.rsplit("/", 1)[1]]["status"]
    assert same.json()["serviceSource"] == "unknownFutureValue"
    assert (
        send(enum_sandbox, token, "PATCH", alert, {"status": "new"}, True).json()["serviceSource"]
        == "microsoftDefenderForCloud"
    )
    after = enum_sandbox.control("GET", f"/_sandbox/tenants/{tenant}/graph/ground-truth").json()
    changed = by_id(after["incidents"])[incidents[0]["id"]]
    assert changed["status"] == "active" and changed["assignedTo"] == "soc@example.com"


def test_the_product_client_reads_the_real_members(
    enum_sandbox: SandboxProcess, tenant: str, truth: dict[str, Any]
) -> None:
    client = graph_client(enum_sandbox, tenant)
    alerts = {a.id: a for page in client.iter_alert_pages() for a in page}
    real = by_id(truth["alerts"])
    assert set(alerts) == set(real)
    for alert_id in cloud_ids(truth):
        alert = alerts[alert_id]
        assert alert.service_source == "microsoftDefenderForCloud"
        assert alert.detection_source == real[alert_id]["detectionSource"]
        assert (
            alert.evidence[0].remediation_status
            == real[alert_id]["evidence"][0]["remediationStatus"]
        )
    # Every value the sandbox serves is one the product's vocabularies know.
    assert [a.unknown_values for a in alerts.values() if a.unknown_values] == []
    incidents = {i.id: i for page in client.iter_incident_pages() for i in page}
    assert incidents[waiting_incident(truth)].status == "awaitingAction"
    assert all(i.status != "unknownFutureValue" for i in incidents.values())


PAIRS = [
    (graph_enums.ALERT_STATUS, graph_vocab.GRAPH_ALERT_STATUSES),
    (graph_enums.ALERT_SEVERITY, graph_vocab.GRAPH_ALERT_SEVERITIES),
    (graph_enums.ALERT_CLASSIFICATION, graph_vocab.GRAPH_ALERT_CLASSIFICATIONS),
    (graph_enums.ALERT_DETERMINATION, graph_vocab.GRAPH_ALERT_DETERMINATIONS),
    (graph_enums.SERVICE_SOURCE, graph_vocab.GRAPH_SERVICE_SOURCES),
    (graph_enums.DETECTION_SOURCE, graph_vocab.GRAPH_DETECTION_SOURCES),
    (graph_enums.INCIDENT_STATUS, graph_vocab.GRAPH_INCIDENT_STATUSES),
    (graph_enums.EVIDENCE_VERDICT, graph_vocab.GRAPH_EVIDENCE_VERDICTS),
    (graph_enums.EVIDENCE_REMEDIATION_STATUS, graph_vocab.GRAPH_EVIDENCE_REMEDIATION_STATUSES),
]


@pytest.mark.parametrize(("served", "vocabulary"), PAIRS, ids=[v.name for _, v in PAIRS])
def test_sandbox_and_product_agree_on_the_sentinel(
    served: tuple[str, ...], vocabulary: graph_vocab.Vocabulary
) -> None:
    known = tuple(vocabulary)
    both = set(served) & set(known)
    assert "unknownFutureValue" in both
    later_served, later_known = graph_enums.newer(served), graph_enums.newer(known)
    assert both & later_served == both & later_known


def test_endpoint_determinations_are_graph_members_both_ways(
    enum_sandbox: SandboxProcess, tenant: str, truth: dict[str, Any]
) -> None:
    endpoint = next(
        a for a in truth["alerts"] if a["serviceSource"] == "microsoftDefenderForEndpoint"
    )
    client = graph_client(enum_sandbox, tenant)
    changed = client.update_alert(
        endpoint["id"], classification="falsePositive", determination="notEnoughDataToValidate"
    )
    assert changed.determination == "notEnoughDataToValidate" and not changed.unknown_values
    mde = enum_sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant}").json()["value"]
    same = next(a for a in mde if a["id"] == endpoint["id"])
    # Defender for Endpoint keeps its own spelling of the same determination.
    assert (same["classification"], same["determination"]) == ("FalsePositive", "InsufficientData")
