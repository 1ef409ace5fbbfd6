"""Call limits (429 with Retry-After) and every injected fault, observed from a client."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Iterator

import pytest
import requests

from partner_portal.sandbox.testing import SandboxProcess
from tests.fixtures.sandbox import sandbox_fixture

from .helpers import XDR_SCOPE, aadsts, secret_form, token_request

pytestmark = pytest.mark.sandbox


# One instance for the fault tests, so they do not disturb the shared one.
faulty = sandbox_fixture("faulty", tenants=2, consented=2, alerts_per_tenant=40, no_rate_limit=True)


@pytest.fixture
def tenant(faulty: SandboxProcess) -> Iterator[tuple[str, str]]:
    tenant_id = faulty.tenants[0]["tenant_id"]
    yield tenant_id, faulty.token(tenant_id)
    faulty.control("PUT", "/_sandbox/faults", json={})


def _set(sb: SandboxProcess, tenant: str | None = None, **rates: float) -> None:
    payload = {"tenant": tenant, **rates} if tenant else rates
    response = sb.control("PUT", "/_sandbox/faults", json=payload)
    assert response.status_code == 200, response.text


def _get(sb: SandboxProcess, token: str, path: str = "/api/alerts", **kwargs) -> requests.Response:
    kwargs.setdefault("timeout", 30)
    with sb.session() as session:
        return session.get(sb.url + path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


def test_rate_limit_after_100_calls_a_minute(sandbox_factory) -> None:
    sb = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=3)
    tenant = sb.tenants[0]["tenant_id"]
    token = sb.token(tenant)
    with sb.session() as session:
        headers = {"Authorization": f"Bearer {token}"}
        codes = [
            session.get(f"{sb.url}/api/alerts", headers=headers).status_code for _ in range(100)
        ]
        assert set(codes) == {200}
        throttled = session.get(f"{sb.url}/api/alerts", headers=headers)
        assert throttled.status_code == 429
        retry_after = int(throttled.headers["Retry-After"])
        assert 1 <= retry_after <= 60
        error = throttled.json()["error"]
        assert error["code"] == "TooManyRequests"
        assert error["message"] == (
            "API calls quota exceeded! Maximum admitted 100 per Minute. "
            f"You can send requests again in {retry_after} seconds."
        )
        # Incidents have their own, lower limit.
        xdr = {"Authorization": f"Bearer {sb.token(tenant, XDR_SCOPE)}"}
        codes = [session.get(f"{sb.url}/api/incidents", headers=xdr).status_code for _ in range(51)]
        assert codes[:50] == [200] * 50 and codes[50] == 429
    stats = sb.control("GET", f"/_sandbox/stats?tenant={tenant}").json()
    assert stats["apis"]["alerts"]["max_calls_per_minute"] == 101
    assert stats["apis"]["alerts"]["throttled"] == 1
    assert stats["apis"]["incidents"]["throttled"] == 1
    assert stats["token_requests"] == 2
    # Switching limits off (and resetting the windows) lets calls through again.
    assert sb.control("POST", "/_sandbox/rate-limit", json={"enabled": False}).json() == {
        "enabled": False
    }
    assert _get(sb, token).status_code == 200
    sb.control("POST", "/_sandbox/stats/reset")
    assert sb.control("GET", "/_sandbox/stats").json()["apis"]["alerts"]["calls_total"] == 0


def test_429_with_retry_after(faulty: SandboxProcess, tenant: tuple[str, str]) -> None:
    tenant_id, token = tenant
    _set(faulty, tenant_id, rate_429=1.0, retry_after_seconds=3)
    response = _get(faulty, token)
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "3"
    assert "again in 3 seconds" in response.json()["error"]["message"]
    # Another tenant is not affected by a per-tenant setting.
    other = faulty.tenants[1]["tenant_id"]
    assert _get(faulty, faulty.token(other)).status_code == 200


def test_429_without_retry_after(faulty: SandboxProcess, tenant: tuple[str, str]) -> None:
    tenant_id, token = tenant
    _set(faulty, tenant_id, rate_429_no_retry_after=1.0)
    messages = set()
    for _ in range(12):
        response = _get(faulty, token)
        assert response.status_code == 429
        assert "Retry-After" not in response.headers
        messages.add(response.json()["error"]["message"])
    assert any("seconds" in m for m in messages)
    assert any("seconds" not in m for m in messages)  # the variant with no hint at all


@pytest.mark.parametrize(("kind", "status"), [("rate_500", 500), ("rate_503", 503)])
def test_server_errors(
    faulty: SandboxProcess, tenant: tuple[str, str], kind: str, status: int
) -> None:
    tenant_id, token = tenant
    _set(faulty, tenant_id, **{kind: 1.0})
    response = _get(faulty, token)
    assert response.status_code == status
    assert response.json()["error"]["code"] in {"InternalServerError", "ServiceUnavailable"}


def test_dropped_connection(faulty: SandboxProcess, tenant: tuple[str, str]) -> None:
    tenant_id, token = tenant
    _set(faulty, tenant_id, rate_drop=1.0)
    with pytest.raises(requests.ConnectionError):
        _get(faulty, token)


def test_slow_answer(faulty: SandboxProcess, tenant: tuple[str, str]) -> None:
    tenant_id, token = tenant
    _set(faulty, tenant_id, rate_slow=1.0, slow_seconds=0.6)
    began = time.monotonic()
    response = _get(faulty, token)
    assert response.status_code == 200
    assert time.monotonic() - began >= 0.6
    with pytest.raises(requests.Timeout):
        _get(faulty, token, timeout=0.2)


def test_malformed_json(faulty: SandboxProcess, tenant: tuple[str, str]) -> None:
    tenant_id, token = tenant
    _set(faulty, tenant_id, rate_malformed=1.0)
    response = _get(faulty, token)
    assert response.status_code == 200
    with pytest.raises(ValueError):
        response.json()


def test_truncated_page(faulty: SandboxProcess, tenant: tuple[str, str]) -> None:
    tenant_id, token = tenant
    _set(faulty, tenant_id, rate_truncated=1.0)
    with pytest.raises(requests.exceptions.ChunkedEncodingError):
        _get(faulty, token)
    # What arrives is valid JSON with fewer alerts than Content-Length announced.
    host, port = faulty.url.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=faulty.ca_file)
    connection = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
    connection.request("GET", "/api/alerts", headers={"Authorization": f"Bearer {token}"})
    response = connection.getresponse()
    announced = int(response.headers["Content-Length"])
    with pytest.raises(http.client.IncompleteRead) as raised:
        response.read()
    connection.close()
    partial = raised.value.partial
    assert len(partial) < announced
    assert len(json.loads(partial)["value"]) == 20  # half of the 40 alerts


def test_token_endpoint_faults(faulty: SandboxProcess, tenant: tuple[str, str]) -> None:
    tenant_id, _ = tenant
    _set(faulty, tenant_id, rate_token_503=1.0)
    unavailable = token_request(faulty, tenant_id, secret_form(faulty))
    assert unavailable.status_code == 503
    assert aadsts(unavailable) == 90055
    _set(faulty, tenant_id, rate_token_throttle=1.0, retry_after_seconds=4)
    throttled = token_request(faulty, tenant_id, secret_form(faulty))
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "4"
    assert aadsts(throttled) == 90055


def test_faults_spare_control_api_and_are_reproducible(
    faulty: SandboxProcess, tenant: tuple[str, str]
) -> None:
    tenant_id, token = tenant
    truth = faulty.control("GET", f"/_sandbox/ground-truth?tenant={tenant_id}")

    def run() -> list[int]:
        _set(faulty, rate_500=0.5)  # for every tenant
        assert (
            faulty.control("GET", f"/_sandbox/ground-truth?tenant={tenant_id}").json()
            == truth.json()
        )
        assert faulty.control("GET", "/_sandbox/health").status_code == 200
        return [_get(faulty, token).status_code for _ in range(16)]

    first, second = run(), run()
    assert first == second
    assert set(first) == {200, 500}
    snapshot = faulty.control("GET", "/_sandbox/faults").json()
    assert snapshot["global"]["rate_500"] == 0.5
    _set(faulty)  # all zero clears
    assert faulty.control("GET", "/_sandbox/faults").json()["global"]["rate_500"] == 0
    assert {_get(faulty, token).status_code for _ in range(5)} == {200}


def test_bad_fault_settings_are_refused(faulty: SandboxProcess) -> None:
    for payload in ({"rate_500": 0.7, "rate_503": 0.7}, {"rate_typo": 0.1}, {"rate_500": -1},
                    {"profile": "nope"}):  # fmt: skip
        assert faulty.control("PUT", "/_sandbox/faults", json=payload).status_code == 400
    ok = faulty.control("PUT", "/_sandbox/faults", json={"profile": "flaky"})
    assert ok.json()["global"]["rate_503"] > 0
    faulty.control("PUT", "/_sandbox/faults", json={})
