"""The product's Graph client (real MSAL tokens through the product's token code, real
HTTPS with the sandbox's CA) on every error path the sandbox can produce: missing
consent, a token for another API, unknown objects, refused values, throttling, server
errors, broken pages, the ``$expand=alerts`` fault, hunting refusals and runaway paging.

Waits the client would sleep are recorded instead (``Sleeps``); a fault that must end
after the first wait is lifted by that wait, so no test depends on time passing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from partner_portal.defender import GraphClient
from partner_portal.defender import errors as e
from partner_portal.defender.clouds import MDE_RESOURCE
from partner_portal.defender.retry import RetryPolicy
from partner_portal.sandbox.testing import SandboxProcess
from tests.fixtures.sandbox import sandbox_fixture

from .helpers import graph_client

pytestmark = pytest.mark.sandbox

# Tenants: 0 for faults, 1 for incidents and hunting, 2 for objects and paging (so no
# test spends another's 150 calls a minute).
errors_sandbox = sandbox_fixture(
    "graph-errors", tenants=3, consented=3, alerts_per_tenant=40, seed=31
)
LONG_AGO = datetime(2000, 1, 1, tzinfo=UTC)


class Sleeps:
    """Stands in for ``time.sleep``: records each wait; ``then`` runs after the first."""

    def __init__(self, then: Callable[[], None] | None = None) -> None:
        self.seconds: list[float] = []
        self._then = then

    def __call__(self, seconds: float) -> None:
        self.seconds.append(seconds)
        if self._then is not None:
            then, self._then = self._then, None
            then()


def tenant(sb: SandboxProcess, n: int) -> str:
    return str(sb.tenants[n]["tenant_id"])


def client(sb: SandboxProcess, n: int, sleeps: Sleeps | None = None, **kwargs: Any) -> GraphClient:
    kwargs.setdefault("jitter", lambda: 0.0)
    return graph_client(sb, tenant(sb, n), sleep=sleeps or Sleeps(), **kwargs)


def set_faults(sb: SandboxProcess, tid: str, **faults: float) -> None:
    answer = sb.control("PUT", "/_sandbox/faults", {"tenant": tid, **faults})
    assert answer.status_code == 200, answer.text


@pytest.fixture
def faults(errors_sandbox: SandboxProcess) -> Iterator[Callable[..., None]]:
    """Sets tenant 0's faults; they are lifted after the test whatever happens."""
    tid = tenant(errors_sandbox, 0)
    yield lambda **f: set_faults(errors_sandbox, tid, **f)
    set_faults(errors_sandbox, tid)


def calls(sb: SandboxProcess, tid: str, api: str, count: str = "calls_total") -> int:
    """Calls of ``api`` the sandbox counted for the tenant (valid token, any answer), in
    all or (``calls_last_minute``) in the last minute."""
    stats = sb.control("GET", f"/_sandbox/stats?tenant={tid}").json()
    return int(stats["apis"][api][count])


def truth(sb: SandboxProcess, tid: str) -> dict[str, Any]:
    return dict(sb.control("GET", f"/_sandbox/tenants/{tid}/graph/ground-truth").json())


def an_alert(sb: SandboxProcess, n: int) -> str:
    return str(truth(sb, tenant(sb, n))["alerts"][0]["id"])


# ------------------------------------------------------------------- tokens and consent


def test_defender_only_consent_is_forbidden_naming_the_graph_permission(
    errors_sandbox: SandboxProcess,
) -> None:
    created = errors_sandbox.control(
        "POST", "/_sandbox/tenants", {"alerts": 5, "consented": True, "consent_scope": "defender"}
    ).json()
    graph = graph_client(errors_sandbox, created["tenant_id"])
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: list(graph.iter_alert_pages()), "SecurityAlert.Read.All"),
        (lambda: list(graph.iter_incident_pages()), "SecurityIncident.Read.All"),
        (lambda: graph.update_incident("1", status="active"), "SecurityIncident.ReadWrite.All"),
        (lambda: graph.run_hunting_query("AlertInfo | take 1"), "ThreatHunting.Read.All"),
    ]
    for call, permission in cases:
        with pytest.raises(e.Forbidden) as info:
            call()
        assert info.value.status == 403
        assert permission in info.value.missing_permissions
        assert permission in info.value.explanation
        assert "consent again" in info.value.explanation
    # Each refusal is asked once more with a fresh token (roles are fixed at issue), and
    # not retried otherwise.
    assert graph.stats.retries == 0 and graph.stats.token_refreshes == len(cases)


def test_an_mde_token_sent_to_graph_is_unauthorized_after_one_fresh_token(
    errors_sandbox: SandboxProcess,
) -> None:
    graph = graph_client(errors_sandbox, tenant(errors_sandbox, 2), resource=MDE_RESOURCE)
    with pytest.raises(e.Unauthorized) as info:
        graph.get_alert(an_alert(errors_sandbox, 2))
    assert info.value.status == 401
    assert info.value.code == "InvalidAuthenticationToken"
    assert "audience 'https://api.securitycenter.microsoft.com'" in info.value.message
    assert graph.stats.token_refreshes == 1 and graph.stats.api_calls == 2


# ------------------------------------------------------------------ objects and values


def test_unknown_alerts_and_incidents_are_not_found(errors_sandbox: SandboxProcess) -> None:
    graph = client(errors_sandbox, 2)
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: graph.get_alert("da-no-such-alert"), "Alert with id 'da-no-such-alert'"),
        (lambda: graph.update_alert("da-no-such-alert", status="resolved"), "da-no-such-alert"),
        (lambda: graph.add_alert_comment("da-no-such-alert", "seen"), "da-no-such-alert"),
        (lambda: graph.update_incident("987654321", status="resolved"), "Incident with id"),
        (lambda: graph.add_incident_comment("987654321", "seen"), "987654321"),
    ]
    for call, words in cases:
        with pytest.raises(e.NotFound) as info:
            call()
        assert info.value.status == 404 and info.value.code == "NotFound"
        assert words in info.value.message and "was not found" in info.value.message
    assert graph.stats.retries == 0 and graph.stats.api_calls == len(cases)


def test_a_value_graph_refuses_is_an_invalid_request_in_words(
    errors_sandbox: SandboxProcess,
) -> None:
    tid = tenant(errors_sandbox, 2)
    before = truth(errors_sandbox, tid)
    alert = before["alerts"][-1]
    incident = before["incidents"][-1]
    graph = client(errors_sandbox, 2)
    # The reference page's spelling "clean"; Graph's enum says notMalicious.
    with pytest.raises(e.InvalidRequest) as info:
        graph.update_alert(alert["id"], classification="falsePositive", determination="clean")
    assert info.value.status == 400 and info.value.code == "BadRequest"
    assert "Invalid value 'clean' for 'determination'" in info.value.message
    assert "notMalicious" in info.value.message
    assert "(request-id " in info.value.message  # Graph's request ID, for support
    with pytest.raises(e.InvalidRequest) as info:
        graph.update_incident(incident["id"], determination="compromisedUser")
    assert "Invalid value 'compromisedUser' for 'determination'" in info.value.message
    assert "compromisedAccount" in info.value.message
    after = truth(errors_sandbox, tid)
    assert after["alerts"][-1] == alert and after["incidents"][-1] == incident  # unchanged
    assert graph.stats.retries == 0


# ------------------------------------------------------------------- throttling, 5xx


def test_a_throttled_call_waits_as_graph_says_then_succeeds(
    errors_sandbox: SandboxProcess, faults: Callable[..., None]
) -> None:
    tid = tenant(errors_sandbox, 0)
    alert_id = an_alert(errors_sandbox, 0)
    faults(rate_429=1, retry_after_seconds=7)
    sleeps = Sleeps(then=lambda: set_faults(errors_sandbox, tid))
    graph = client(errors_sandbox, 0, sleeps)
    before = calls(errors_sandbox, tid, "graph_alerts")
    assert graph.get_alert(alert_id).id == alert_id
    assert sleeps.seconds == [7.0]  # Retry-After, not the client's own backoff
    assert graph.stats.throttled_waits == 1 and graph.stats.throttled_seconds == 7.0
    assert calls(errors_sandbox, tid, "graph_alerts") - before == 2


def test_throttling_beyond_the_bound_is_a_throttle_error(
    errors_sandbox: SandboxProcess, faults: Callable[..., None]
) -> None:
    tid = tenant(errors_sandbox, 0)
    alert_id = an_alert(errors_sandbox, 0)
    faults(rate_429=1, retry_after_seconds=7)
    sleeps = Sleeps()
    graph = client(errors_sandbox, 0, sleeps, retry=RetryPolicy(max_throttled=3))
    before = calls(errors_sandbox, tid, "graph_alerts")
    with pytest.raises(e.Throttled) as info:
        graph.get_alert(alert_id)
    assert info.value.status == 429 and info.value.code == "TooManyRequests"
    assert info.value.retry_after == 7.0 and info.value.retryable
    assert "Maximum admitted 150 per Minute" in info.value.message
    assert sleeps.seconds == [7.0, 7.0, 7.0]
    assert calls(errors_sandbox, tid, "graph_alerts") - before == 4


def test_server_errors_are_retried_within_bounds_then_raised(
    errors_sandbox: SandboxProcess, faults: Callable[..., None]
) -> None:
    tid = tenant(errors_sandbox, 0)
    alert_id = an_alert(errors_sandbox, 0)
    policy = RetryPolicy(max_attempts=3, backoff_base=0.5)
    faults(rate_500=1)
    sleeps = Sleeps()
    graph = client(errors_sandbox, 0, sleeps, retry=policy)
    before = calls(errors_sandbox, tid, "graph_alerts")
    with pytest.raises(e.ServerError) as info:
        graph.get_alert(alert_id)
    assert info.value.status == 500 and info.value.code == "InternalServerError"
    assert sleeps.seconds == [0.25, 0.5]  # backoff: half of 0.5 * 2**n without jitter
    assert graph.stats.retries == 2
    assert calls(errors_sandbox, tid, "graph_alerts") - before == 3
    # A comment that may have been stored is not sent again.
    with pytest.raises(e.ServerError):
        graph.add_alert_comment(alert_id, "may be stored")
    assert calls(errors_sandbox, tid, "graph_alerts") - before == 4
    assert graph.stats.retries == 2
    # A 503 that passes is retried once, then the call succeeds.
    faults(rate_503=1)
    sleeps = Sleeps(then=lambda: set_faults(errors_sandbox, tid))
    graph = client(errors_sandbox, 0, sleeps, retry=policy)
    assert graph.get_alert(alert_id).id == alert_id
    assert graph.stats.retries == 1 and len(sleeps.seconds) == 1


@pytest.mark.parametrize(
    ("fault", "error", "words"),
    [
        ("rate_malformed", e.MalformedResponse, ("answer is not valid JSON",)),
        ("rate_truncated", e.TransportError, ("GET https://", "/security/alerts_v2?", "failed")),
    ],
)
def test_a_broken_page_is_a_typed_error_after_whole_pages_only(
    errors_sandbox: SandboxProcess,
    faults: Callable[..., None],
    fault: str,
    error: type[e.ApiError],
    words: tuple[str, ...],
) -> None:
    # Page by page (no prefetch), so the fault meets the second page's request.
    policy = RetryPolicy(max_attempts=2, backoff_base=0.01)
    graph = client(errors_sandbox, 0, retry=policy, prefetch=False)
    pages = graph.iter_alert_pages(page_size=10)
    first = next(pages)
    assert len(first) == 10
    faults(**{fault: 1})
    with pytest.raises(error) as info:
        next(pages)
    assert all(w in str(info.value) for w in words)
    # Nothing of the broken page was given: only the whole first page.
    assert graph.stats.items == 10 and graph.stats.pages == 1
    assert graph.stats.retries == 1


# ------------------------------------------------------------------ incidents, hunting


def test_expand_500_falls_back_to_each_incidents_alerts(errors_sandbox: SandboxProcess) -> None:
    tid = tenant(errors_sandbox, 1)
    set_faults(errors_sandbox, tid, expand_500=1)
    try:
        sleeps = Sleeps()
        policy = RetryPolicy(max_attempts=2, backoff_base=0.01)
        graph = client(errors_sandbox, 1, sleeps, retry=policy)
        pages = list(graph.iter_incident_pages(LONG_AGO, page_size=10))
    finally:
        set_faults(errors_sandbox, tid)
    incidents = [i for page in pages for i in page]
    known = truth(errors_sandbox, tid)
    assert {i.id for i in incidents} == {i["id"] for i in known["incidents"]}
    grouped: dict[str, set[str]] = {}
    for alert in known["alerts"]:
        grouped.setdefault(alert["incidentId"], set()).add(alert["id"])
    assert {i.id: {a.id for a in i.alerts} for i in incidents} == grouped
    assert any(len(i.alerts) > 1 for i in incidents)
    # The first page failed with $expand (retried once), then every page went without it.
    assert graph.stats.expand_fallbacks == len(pages) > 1
    assert len(sleeps.seconds) == 1


def test_hunting_refusals_are_typed_and_worded(errors_sandbox: SandboxProcess) -> None:
    graph = client(errors_sandbox, 1)
    with pytest.raises(e.InvalidRequest) as info:
        graph.run_hunting_query("AlertInfo | join DeviceInfo on DeviceId")
    assert info.value.status == 400 and "join" in info.value.message
    with pytest.raises(e.InvalidRequest) as info:
        graph.run_hunting_query("AlertInfo | take 1", timespan="yesterday")
    assert "Timespan 'yesterday'" in info.value.message
    assert graph.stats.retries == 0


def test_the_hunting_quota_is_a_throttle_error(errors_sandbox: SandboxProcess) -> None:
    tid = tenant(errors_sandbox, 1)
    sleeps = Sleeps()
    graph = client(errors_sandbox, 1, sleeps, retry=RetryPolicy(max_throttled=2))
    used = calls(errors_sandbox, tid, "graph_hunting", "calls_last_minute")
    for _ in range(45 - used):
        assert graph.run_hunting_query("DeviceInfo | take 1").results
    with pytest.raises(e.Throttled) as info:
        graph.run_hunting_query("DeviceInfo | take 1")
    assert "Maximum admitted 45 per Minute" in info.value.message
    assert info.value.retry_after is not None and 0 < info.value.retry_after <= 60
    assert len(sleeps.seconds) == 2 and graph.stats.throttled_waits == 2


# ------------------------------------------------------------------------------ paging


def test_the_page_cap_stops_a_listing_in_words(errors_sandbox: SandboxProcess) -> None:
    graph = client(errors_sandbox, 2)
    given: list[int] = []
    with pytest.raises(e.PageLimitExceeded) as info:
        for page in graph.iter_alert_pages(page_size=5, max_pages=3):
            given.append(len(page))
    assert "more than 3 pages" in str(info.value)
    assert given == [5, 5, 5]


def test_deep_paging_restarts_from_the_watermark_and_gives_each_alert_once(
    errors_sandbox: SandboxProcess,
) -> None:
    tid = tenant(errors_sandbox, 2)
    graph = client(errors_sandbox, 2)
    graph.max_hops = 2  # a run of two pages, then a new $filter from the last timestamp
    ids = [a.id for page in graph.iter_alert_pages(page_size=5) for a in page]
    assert len(ids) == len(set(ids))
    assert set(ids) == {a["id"] for a in truth(errors_sandbox, tid)["alerts"]}
    assert graph.stats.filter_restarts >= len(ids) // 10 - 1 > 0


large_sandbox = sandbox_fixture(
    "graph-large", timeout=120, tenants=1, consented=1, alerts_per_tenant=3_000, seed=37
)


def test_deep_paging_through_a_large_tenant(large_sandbox: SandboxProcess) -> None:
    tid = tenant(large_sandbox, 0)
    graph = client(large_sandbox, 0)
    graph.max_hops = 2
    ids = [a.id for page in graph.iter_alert_pages(page_size=250) for a in page]
    expected = {a["id"] for a in truth(large_sandbox, tid)["alerts"]}
    assert len(expected) > 3_000
    assert len(ids) == len(set(ids)) and set(ids) == expected
    # Runs of 500 alerts: one new $filter per run after the first.
    assert graph.stats.filter_restarts >= len(expected) // 500
