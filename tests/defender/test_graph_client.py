"""The Microsoft Graph security client, against HTTP-level fakes built from Microsoft's
example answers (``graph_payloads/``)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses

from partner_portal.defender import GRAPH_SECURITY_LIMITS, GraphClient
from partner_portal.defender import errors as e
from partner_portal.defender.clouds import Cloud, endpoints_for
from partner_portal.defender.graph_requests import without_expand
from partner_portal.defender.http import make_session
from partner_portal.defender.rate_limit import NO_LIMIT, RateLimiter
from partner_portal.defender.retry import RetryPolicy
from tests.waiting import wait_until

from .fakes import TENANT, FakeTime

PAYLOADS = Path(__file__).parent / "graph_payloads"
GRAPH = "https://graph.sandbox.test/v1.0"
ALERTS = f"{GRAPH}/security/alerts_v2"
INCIDENTS = f"{GRAPH}/security/incidents"
SINCE = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def payload(name: str) -> Any:
    return json.loads((PAYLOADS / name).read_text())


ALERT = payload("list_alerts_v2.json")["value"][0]
INCIDENT = payload("list_incidents.json")["value"][0]
INCIDENT_EXPANDED = payload("list_incidents_expand_alerts.json")["value"][0]


def alert(n: int, updated: str = "2026-03-01T12:00:01Z", **extra: Any) -> dict[str, Any]:
    data = copy.deepcopy(ALERT)
    data.update({"id": f"alert-{n}", "lastUpdateDateTime": updated, **extra})
    return data


def incident(n: int, *, expanded: bool = False) -> dict[str, Any]:
    data = copy.deepcopy(INCIDENT_EXPANDED if expanded else INCIDENT)
    data["id"] = str(n)
    return data


def envelope(items: list[Any], next_link: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.context": "...", "value": items}
    if next_link:
        body["@odata.nextLink"] = next_link
    return body


def graph_error(code: str, message: str) -> dict[str, Any]:
    return {
        "error": {
            "code": code,
            "message": message,
            "innerError": {"date": "2026-03-01T12:00:00", "request-id": "req-1"},
        }
    }


class Tokens:
    def __init__(self) -> None:
        self.calls: list[bool] = []

    def __call__(self, force_refresh: bool) -> str:
        self.calls.append(force_refresh)
        return f"token-{1 + sum(self.calls)}"


def client(
    fake: FakeTime | None = None, tokens: Tokens | None = None, **kwargs: Any
) -> GraphClient:
    fake = fake or FakeTime()
    kwargs.setdefault("limiter", NO_LIMIT)
    return GraphClient(
        GRAPH,
        TENANT,
        tokens or Tokens(),
        session=make_session(),
        clock=fake.clock,
        sleep=fake.sleep,
        jitter=lambda: 0.5,
        **kwargs,
    )


def query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def ids(pages: list[list[Any]]) -> list[str]:
    return [item.id for page in pages for item in page]


# -------------------------------------------------------------------- the client


@pytest.mark.parametrize(
    ("cloud", "host"),
    [
        (Cloud.COMMERCIAL, "https://graph.microsoft.com"),
        (Cloud.GCC_HIGH, "https://graph.microsoft.us"),
        (Cloud.DOD, "https://dod-graph.microsoft.us"),
    ],
)
def test_graph_lives_per_cloud(cloud: Cloud, host: str) -> None:
    endpoints = endpoints_for(cloud)
    assert GraphClient.base_url_for(endpoints) == f"{host}/v1.0"
    assert GraphClient.scope_for(endpoints) == f"{host}/.default"
    c = GraphClient.for_endpoints(endpoints, TENANT, Tokens(), session=make_session())
    assert c.limiter_key == f"graph:{TENANT}"


def test_limits_default_and_configurable() -> None:
    assert GRAPH_SECURITY_LIMITS == ((150, 60.0),)
    default = GraphClient(GRAPH, TENANT, Tokens(), session=make_session())
    assert isinstance(default.limiter, RateLimiter)
    assert default.limiter.limits == GRAPH_SECURITY_LIMITS
    tuned = GraphClient(GRAPH, TENANT, Tokens(), session=make_session(), limits=((60, 60.0),))
    assert isinstance(tuned.limiter, RateLimiter)
    assert tuned.limiter.limits == ((60, 60.0),)


@responses.activate
def test_limiter_keeps_150_a_minute() -> None:
    fake = FakeTime()
    c = client(fake, limiter=None)
    responses.add(responses.GET, f"{ALERTS}/a", json=alert(1))
    for _ in range(151):
        c.get_alert("a")
    assert fake.sleeps == [60.0]
    assert c.stats.limiter_waits == 1


@responses.activate
def test_prefer_header_and_bearer_on_every_call() -> None:
    responses.add(responses.GET, ALERTS, json=envelope([alert(1)]))
    responses.add(responses.GET, f"{ALERTS}/a", json=alert(1))
    responses.add(responses.POST, f"{GRAPH}/security/runHuntingQuery", json={"schema": []})
    c = client()
    list(c.iter_alert_pages(SINCE))
    c.get_alert("a")
    with pytest.raises(e.MalformedResponse):
        c.run_hunting_query("DeviceInfo")
    for call in responses.calls:
        assert call.request.headers["Prefer"] == "include-unknown-enum-members"
        assert call.request.headers["Authorization"] == "Bearer token-1"


# ------------------------------------------------------------------ alert paging


@responses.activate
def test_alert_listing_filters_orders_and_follows_next_link() -> None:
    link = f"{ALERTS}?$skiptoken=abc"
    responses.add(responses.GET, ALERTS, json=envelope([alert(1), alert(2)], link))
    responses.add(responses.GET, link, json=envelope([alert(3)]))
    c = client()
    pages = list(c.iter_alert_pages(SINCE, page_size=2))
    assert ids(pages) == ["alert-1", "alert-2", "alert-3"]
    assert query(responses.calls[0]) == {
        "$filter": "lastUpdateDateTime gt 2026-03-01T12:00:00Z",
        "$orderby": "lastUpdateDateTime asc",
        "$top": "2",
    }
    assert responses.calls[1].request.url == link
    assert (c.stats.pages, c.stats.items, c.stats.filter_restarts) == (2, 3, 0)
    assert pages[0][0].raw is not None and pages[0][0].title == ALERT["title"]


def three_linked_pages() -> list[str]:
    links = [ALERTS, f"{ALERTS}?$skiptoken=2", f"{ALERTS}?$skiptoken=3"]
    for n, url in enumerate(links, start=1):
        following = links[n] if n < len(links) else None
        responses.add(responses.GET, url, json=envelope([alert(n)], following))
    return links


@responses.activate
def test_the_next_page_is_asked_for_while_this_one_is_read_and_no_further() -> None:
    links = three_linked_pages()
    listing = client().iter_alert_pages(SINCE)
    assert ids([next(listing)]) == ["alert-1"]
    # Page 2 comes in the background while page 1 is with the caller; page 3 waits.
    wait_until(lambda: len(responses.calls) == 2, timeout=10, every=0.01)
    assert responses.calls[1].request.url == links[1]
    listing.close()  # the caller stops after page 1: page 3 is never asked for
    assert [c.request.url for c in responses.calls][1:] == links[1:2]


@responses.activate
def test_prefetched_pages_are_given_in_order_once() -> None:
    three_linked_pages()
    c = client()
    assert ids(list(c.iter_alert_pages(SINCE))) == ["alert-1", "alert-2", "alert-3"]
    assert (len(responses.calls), c.stats.pages, c.stats.items) == (3, 3, 3)


@responses.activate
def test_without_prefetch_each_page_is_asked_for_when_needed() -> None:
    three_linked_pages()
    c = client(prefetch=False)
    listing = c.iter_alert_pages(SINCE)
    assert ids([next(listing)]) == ["alert-1"]
    assert len(responses.calls) == 1
    assert ids(list(listing)) == ["alert-2", "alert-3"]
    assert (len(responses.calls), c.stats.pages, c.stats.items) == (3, 3, 3)


def test_page_size_bounded() -> None:
    with pytest.raises(ValueError, match="between 1 and 1000"):
        list(client().iter_alert_pages(SINCE, page_size=1001))


@responses.activate
def test_filter_advances_past_ties_without_loss_or_repeats() -> None:
    """Three alerts share 12:00:05; the hop bound cuts the run between them. The
    restart asks ``ge 12:00:05`` and leaves out those already given."""
    t1, t5, t9 = "2026-03-01T12:00:01Z", "2026-03-01T12:00:05.1234567Z", "2026-03-01T12:00:09Z"
    first = envelope([alert(1, t1), alert(2, t5)], f"{ALERTS}?$skiptoken=1")
    second = envelope([alert(3, t5), alert(2, t5)], f"{ALERTS}?$skiptoken=2")
    # After the restart, Microsoft sends the tied alerts again, then the rest.
    again = envelope([alert(2, t5), alert(3, t5)], f"{ALERTS}?$skiptoken=3")
    rest = envelope([alert(4, t5), alert(5, t9)])
    responses.add(responses.GET, ALERTS, json=first)
    responses.add(responses.GET, f"{ALERTS}?$skiptoken=1", json=second)
    responses.add(responses.GET, ALERTS, json=again)
    responses.add(responses.GET, f"{ALERTS}?$skiptoken=3", json=rest)
    # That page was full and had no link: once more from 12:00:09, which ends it.
    responses.add(responses.GET, ALERTS, json=envelope([alert(5, t9)]))
    c = client()
    c.max_hops = 2
    pages = list(c.iter_alert_pages(SINCE, page_size=2))
    assert ids(pages) == ["alert-1", "alert-2", "alert-3", "alert-4", "alert-5"]
    restart = query(responses.calls[2])
    assert restart["$filter"] == "lastUpdateDateTime ge 2026-03-01T12:00:05.123456Z"
    assert "$skip" not in restart
    last = query(responses.calls[4])["$filter"]
    assert last == "lastUpdateDateTime ge 2026-03-01T12:00:09Z"
    assert c.stats.filter_restarts == 2
    assert len(responses.calls) == 5


@responses.activate
def test_full_page_without_next_link_restarts_and_a_short_one_ends() -> None:
    t1, t2 = "2026-03-01T12:00:01Z", "2026-03-01T12:00:02Z"
    responses.add(responses.GET, ALERTS, json=envelope([alert(1, t1), alert(2, t2)]))
    responses.add(responses.GET, ALERTS, json=envelope([alert(2, t2), alert(3, t2)]))
    responses.add(responses.GET, ALERTS, json=envelope([alert(3, t2)]))
    c = client()
    pages = list(c.iter_alert_pages(SINCE, page_size=2))
    assert ids(pages) == ["alert-1", "alert-2", "alert-3"]
    assert [query(call)["$filter"] for call in responses.calls] == [
        "lastUpdateDateTime gt 2026-03-01T12:00:00Z",
        "lastUpdateDateTime ge 2026-03-01T12:00:02Z",
        "lastUpdateDateTime ge 2026-03-01T12:00:02Z",
    ]
    assert c.stats.filter_restarts == 2


def tied_alerts(count: int) -> Any:
    """Microsoft's answer when ``count`` alerts share one timestamp: the first ``$top``
    of them, and no next link."""
    tied = [alert(n, "2026-03-01T12:00:05Z") for n in range(1, count + 1)]

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        top = int(parse_qs(urlsplit(request.url).query)["$top"][0])
        return 200, {}, json.dumps(envelope(tied[:top]))

    return answer


@responses.activate
def test_ties_beyond_a_page_get_larger_pages() -> None:
    responses.add_callback(responses.GET, ALERTS, callback=tied_alerts(3))
    c = client()
    pages = list(c.iter_alert_pages(SINCE, page_size=2))
    assert ids(pages) == ["alert-1", "alert-2", "alert-3"]
    assert [query(call)["$top"] for call in responses.calls] == ["2", "2", "4"]


@responses.activate
def test_ties_beyond_the_largest_page_stop_with_a_typed_error_not_a_loop() -> None:
    responses.add_callback(responses.GET, ALERTS, callback=tied_alerts(10))
    c = client()
    c.max_page_size = 4
    with pytest.raises(e.PageLimitExceeded, match="cannot advance"):
        list(c.iter_alert_pages(SINCE, page_size=2))
    assert [query(call)["$top"] for call in responses.calls] == ["2", "2", "4", "4"]


@responses.activate
def test_an_alert_changed_again_during_the_listing_is_given_again() -> None:
    responses.add(
        responses.GET,
        ALERTS,
        json=envelope([alert(1, "2026-03-01T12:00:01Z")], f"{ALERTS}?$skiptoken=1"),
    )
    responses.add(
        responses.GET,
        f"{ALERTS}?$skiptoken=1",
        json=envelope([alert(1, "2026-03-01T12:00:01Z"), alert(1, "2026-03-01T12:00:03Z")]),
    )
    pages = list(client().iter_alert_pages(SINCE))
    assert [
        a.last_update_date_time.second for p in pages for a in p if a.last_update_date_time
    ] == [
        1,
        3,
    ]


@responses.activate
def test_page_bound_raises() -> None:
    responses.add(responses.GET, ALERTS, json=envelope([alert(1)], f"{ALERTS}?$skiptoken=1"))
    responses.add(
        responses.GET,
        f"{ALERTS}?$skiptoken=1",
        json=envelope([alert(2, "2026-03-01T12:00:02Z")], f"{ALERTS}?$skiptoken=2"),
    )
    with pytest.raises(e.PageLimitExceeded):
        list(client().iter_alert_pages(SINCE, max_pages=2))


@responses.activate
def test_next_link_to_another_host_refused() -> None:
    responses.add(
        responses.GET, ALERTS, json=envelope([alert(1)], "https://evil.test/v1.0/security")
    )
    with pytest.raises(e.MalformedResponse, match="outside the API host"):
        list(client().iter_alert_pages(SINCE))


@pytest.mark.parametrize(
    ("body", "calls"),
    [
        ({"items": []}, 2),
        ({"value": "nope"}, 2),
        # A bad item is found after the page arrived (the next one may be on its way
        # meanwhile); the page is then asked for again with the usual bounds.
        ({"value": [{"title": "no id"}]}, 3),
        ({"value": [], "@odata.nextLink": 5}, 2),
    ],
)
@responses.activate
def test_malformed_pages_raise_the_typed_error(body: Any, calls: int) -> None:
    responses.add(responses.GET, ALERTS, json=body)
    c = client(retry=RetryPolicy(max_attempts=2))
    with pytest.raises(e.MalformedResponse):
        list(c.iter_alert_pages(SINCE))
    assert len(responses.calls) == calls  # retried within the bounds, then raised


# ------------------------------------------------------------ errors and retries


@responses.activate
def test_429_waits_for_retry_after() -> None:
    fake = FakeTime()
    responses.add(
        responses.GET,
        f"{ALERTS}/a",
        status=429,
        headers={"Retry-After": "7"},
        json=graph_error("TooManyRequests", "Too many requests"),
    )
    responses.add(responses.GET, f"{ALERTS}/a", json=alert(1))
    c = client(fake)
    assert c.get_alert("a").id == "alert-1"
    assert fake.sleeps == [7.0]
    assert c.stats.throttled_waits == 1


@responses.activate
def test_429_without_retry_after_backs_off() -> None:
    fake = FakeTime()
    for _ in range(2):
        responses.add(
            responses.GET, f"{ALERTS}/a", status=429, json=graph_error("TooManyRequests", "Slow")
        )
    responses.add(responses.GET, f"{ALERTS}/a", json=alert(1))
    client(fake).get_alert("a")
    assert fake.sleeps == [0.75, 1.5]


@responses.activate
def test_429_storm_raises_throttled() -> None:
    responses.add(
        responses.GET, f"{ALERTS}/a", status=429, json=graph_error("TooManyRequests", "Slow")
    )
    with pytest.raises(e.Throttled) as raised:
        client(retry=RetryPolicy(max_throttled=2)).get_alert("a")
    assert raised.value.message == "Slow (request-id req-1)"


@responses.activate
def test_5xx_retried_then_succeeds() -> None:
    responses.add(responses.GET, f"{ALERTS}/a", status=503, json=graph_error("Unavailable", "x"))
    responses.add(responses.GET, f"{ALERTS}/a", status=500, body="<html>oops</html>")
    responses.add(responses.GET, f"{ALERTS}/a", json=alert(1))
    c = client()
    assert c.get_alert("a").id == "alert-1"
    assert c.stats.retries == 2


@responses.activate
def test_401_refreshes_the_token_once() -> None:
    tokens = Tokens()
    unauthorized = graph_error("InvalidAuthenticationToken", "Access token has expired.")
    responses.add(responses.GET, f"{ALERTS}/a", status=401, json=unauthorized)
    responses.add(responses.GET, f"{ALERTS}/a", json=alert(1))
    c = client(tokens=tokens)
    c.get_alert("a")
    assert tokens.calls == [False, True]
    assert responses.calls[1].request.headers["Authorization"] == "Bearer token-2"
    responses.add(responses.GET, f"{ALERTS}/b", status=401, json=unauthorized)
    responses.add(responses.GET, f"{ALERTS}/b", status=401, json=unauthorized)
    with pytest.raises(e.Unauthorized, match="Access token has expired"):
        c.get_alert("b")


@responses.activate
def test_403_names_the_permission_graph_names() -> None:
    message = (
        "Missing application roles. API required roles: "
        "SecurityAlert.Read.All,SecurityAlert.ReadWrite.All."
    )
    responses.add(responses.GET, f"{ALERTS}/a", status=403, json=graph_error("Forbidden", message))
    with pytest.raises(e.Forbidden) as raised:
        client().get_alert("a")
    assert raised.value.missing_permissions == (
        "SecurityAlert.Read.All",
        "SecurityAlert.ReadWrite.All",
    )
    assert "request-id req-1" in raised.value.message


@pytest.mark.parametrize(
    ("method", "url", "call", "permission"),
    [
        (
            "PATCH",
            f"{ALERTS}/a",
            lambda c: c.update_alert("a", status="new"),
            "SecurityAlert.ReadWrite.All",
        ),
        ("GET", INCIDENTS, lambda c: list(c.iter_incident_pages()), "SecurityIncident.Read.All"),
        (
            "POST",
            f"{INCIDENTS}/7/comments",
            lambda c: c.add_incident_comment("7", "x"),
            "SecurityIncident.ReadWrite.All",
        ),
        (
            "POST",
            f"{GRAPH}/security/runHuntingQuery",
            lambda c: c.run_hunting_query("DeviceInfo"),
            "ThreatHunting.Read.All",
        ),
    ],
)
@responses.activate
def test_403_without_a_name_gets_the_calls_permission(
    method: str, url: str, call: Any, permission: str
) -> None:
    responses.add(
        method, url, status=403, json=graph_error("Forbidden", "Insufficient privileges.")
    )
    with pytest.raises(e.Forbidden) as raised:
        call(client())
    assert raised.value.missing_permissions == (permission,)
    assert permission in raised.value.explanation


# ------------------------------------------------------------------ alert writes


@responses.activate
def test_get_alert_reads_microsofts_example() -> None:
    responses.add(
        responses.GET, f"{ALERTS}/da637578995287051192_756343937", json=payload("get_alert.json")
    )
    got = client().get_alert("da637578995287051192_756343937")
    assert got.id == "da637578995287051192_756343937"


@responses.activate
def test_update_alert_sends_camel_case_names_in_graphs_spelling() -> None:
    responses.add(responses.PATCH, f"{ALERTS}/a%2Fb", json=alert(1, status="resolved"))
    updated = client().update_alert(
        "a/b",
        status="Resolved",
        classification="TRUEPOSITIVE",
        determination="malware",
        assigned_to="soc@partner.example",
    )
    assert json.loads(responses.calls[0].request.body) == {
        "status": "resolved",
        "classification": "truePositive",
        "determination": "malware",
        "assignedTo": "soc@partner.example",
    }
    assert updated.status == "resolved"


def test_update_alert_validates() -> None:
    c = client()
    with pytest.raises(ValueError, match="nothing to update"):
        c.update_alert("a")
    with pytest.raises(ValueError, match="unknown alert status"):
        c.update_alert("a", status="unknownFutureValue")
    with pytest.raises(ValueError, match="unknown classification"):
        c.update_alert("a", classification="maybe")


@pytest.mark.parametrize("shape", ["value", "array"])
@responses.activate
def test_alert_comment_posts_the_documented_body_and_reads_both_answers(shape: str) -> None:
    comments = [
        {
            "comment": "Demo comment",
            "createdByDisplayName": "Partner Portal",
            "createdDateTime": "2026-03-01T12:00:00.123Z",
        },
        {"comment": "Second", "createdByDisplayName": "Partner Portal", "createdDateTime": None},
    ]
    answer: Any = {"@odata.context": "...", "value": comments} if shape == "value" else comments
    responses.add(responses.POST, f"{ALERTS}/a/comments", json=answer)
    got = client().add_alert_comment("a", "Second")
    assert json.loads(responses.calls[0].request.body) == {
        "@odata.type": "microsoft.graph.security.alertComment",
        "comment": "Second",
    }
    assert [c.comment for c in got] == ["Demo comment", "Second"]
    assert got[0].created_by_display_name == "Partner Portal"


@responses.activate
def test_comment_not_repeated_after_a_server_error_and_bad_answers_typed() -> None:
    responses.add(responses.POST, f"{ALERTS}/a/comments", status=500)
    with pytest.raises(e.ServerError):
        client().add_alert_comment("a", "once")
    assert len(responses.calls) == 1
    responses.add(responses.POST, f"{ALERTS}/b/comments", json={"value": "nope"})
    with pytest.raises(e.MalformedResponse):
        client().add_alert_comment("b", "x")
    responses.add(responses.POST, f"{ALERTS}/c/comments", json=[{"comment": 5}])
    with pytest.raises(e.MalformedResponse, match="comment"):
        client().add_alert_comment("c", "x")
    with pytest.raises(ValueError):
        client().add_alert_comment("a", "  ")


# -------------------------------------------------------------------- incidents


@responses.activate
def test_incident_listing_expands_alerts_and_follows_next_link() -> None:
    link = f"{INCIDENTS}?$expand=alerts&$skiptoken=1"
    responses.add(responses.GET, INCIDENTS, json=envelope([incident(1, expanded=True)], link))
    responses.add(responses.GET, link, json=envelope([incident(2, expanded=True)]))
    c = client()
    pages = list(c.iter_incident_pages(SINCE))
    assert ids(pages) == ["1", "2"]
    assert query(responses.calls[0]) == {
        "$filter": "lastUpdateDateTime gt 2026-03-01T12:00:00Z",
        "$expand": "alerts",
    }
    assert pages[0][0].alerts is not None and len(pages[0][0].alerts) == 1
    assert c.stats.expand_fallbacks == 0


@responses.activate
def test_incident_listing_without_expand() -> None:
    responses.add(responses.GET, INCIDENTS, json=envelope([incident(1)]))
    pages = list(client().iter_incident_pages(expand_alerts=False))
    assert pages[0][0].alerts is None
    assert "$expand" not in query(responses.calls[0])


@responses.activate
def test_expand_that_keeps_failing_falls_back_to_alerts_by_incident() -> None:
    """Microsoft's 500 on ``$expand=alerts`` with ``$filter`` must not stall a sync."""
    fails = graph_error("InternalServerError", "An internal server error occurred.")

    def incidents(request: Any) -> tuple[int, dict[str, str], str]:
        q = parse_qs(urlsplit(request.url).query)
        if "$expand" in q:
            return 500, {}, json.dumps(fails)
        if "$skiptoken" in q:
            return 200, {}, json.dumps(envelope([incident(3)]))
        return (
            200,
            {},
            json.dumps(
                envelope([incident(1), incident(2)], f"{INCIDENTS}?$expand=alerts&$skiptoken=1")
            ),
        )

    responses.add_callback(responses.GET, INCIDENTS, callback=incidents)
    for n in (1, 2, 3):
        responses.add(
            responses.GET,
            ALERTS,
            json=envelope([alert(10 + n, incidentId=str(n))]),
            match=[responses.matchers.query_param_matcher({"$filter": f"incidentId eq '{n}'"})],
        )
    c = client(retry=RetryPolicy(max_attempts=3))
    pages = list(c.iter_incident_pages(SINCE))
    assert ids(pages) == ["1", "2", "3"]
    assert [[a.id for a in (i.alerts or ())] for p in pages for i in p] == [
        ["alert-11"],
        ["alert-12"],
        ["alert-13"],
    ]
    assert c.stats.expand_fallbacks == 2
    incident_calls = [call for call in responses.calls if "/incidents" in call.request.url]
    # Three tries with $expand, then the same page without, then the next without.
    assert ["$expand" in query(call) for call in incident_calls] == [True, True, True, False, False]
    assert query(incident_calls[3])["$filter"] == "lastUpdateDateTime gt 2026-03-01T12:00:00Z"


@responses.activate
def test_server_errors_without_expand_still_raise() -> None:
    responses.add(responses.GET, INCIDENTS, status=500)
    with pytest.raises(e.ServerError):
        list(client(retry=RetryPolicy(max_attempts=2)).iter_incident_pages(expand_alerts=False))


@responses.activate
def test_get_incident_reads_one_incident_with_or_without_its_alerts() -> None:
    responses.add(responses.GET, f"{INCIDENTS}/2972395", json=payload("get_incident.json"))
    got = client().get_incident("2972395")
    assert got.id == "2972395" and got.alerts is None
    assert "%24expand" not in (responses.calls[0].request.url or "")

    responses.add(responses.GET, f"{INCIDENTS}/7", json=incident(7, expanded=True))
    expanded = client().get_incident("7", expand_alerts=True)
    query = parse_qs(urlsplit(responses.calls[1].request.url or "").query)
    assert query["$expand"] == ["alerts"]
    assert expanded.alerts is not None and len(expanded.alerts) > 0


@responses.activate
def test_update_incident_body() -> None:
    responses.add(responses.PATCH, f"{INCIDENTS}/2972395", json=payload("get_incident.json"))
    got = client().update_incident(
        "2972395",
        status="Active",
        classification="truePositive",
        determination="MultiStagedAttack",
        assigned_to="soc@partner.example",
        custom_tags=["Demo"],
    )
    assert json.loads(responses.calls[0].request.body) == {
        "status": "active",
        "classification": "truePositive",
        "determination": "multiStagedAttack",
        "assignedTo": "soc@partner.example",
        "customTags": ["Demo"],
    }
    assert got.id == "2972395"
    with pytest.raises(ValueError, match="unknown incident status"):
        client().update_incident("1", status="redirected")


@responses.activate
def test_incident_comment_answer_shapes() -> None:
    comment = {"comment": "c", "createdBy": "app", "createdTime": "2026-03-01T12:00:00Z"}
    responses.add(responses.POST, f"{INCIDENTS}/7/comments", json=[comment])
    got = client().add_incident_comment("7", "c")
    assert got[0].created_by_display_name == "app"
    assert responses.calls[0].request.url == f"{INCIDENTS}/7/comments"


# ---------------------------------------------------------------------- hunting


@responses.activate
def test_hunting_request_and_typed_result() -> None:
    responses.add(
        responses.POST,
        f"{GRAPH}/security/runHuntingQuery",
        json={
            "schema": [
                {"name": "Timestamp", "type": "DateTime"},
                {"name": "FileName", "type": "String"},
            ],
            "results": [{"Timestamp": "2026-03-01T12:00:00Z", "FileName": "a.exe"}],
        },
    )
    result = client().run_hunting_query("DeviceProcessEvents | take 1", timespan="P30D")
    assert json.loads(responses.calls[0].request.body) == {
        "Query": "DeviceProcessEvents | take 1",
        "Timespan": "P30D",
    }
    assert [(c.name, c.type) for c in result.schema] == [
        ("Timestamp", "DateTime"),
        ("FileName", "String"),
    ]
    assert result.columns == ("Timestamp", "FileName")
    assert result.results == [{"Timestamp": "2026-03-01T12:00:00Z", "FileName": "a.exe"}]
    responses.add(
        responses.POST, f"{GRAPH}/security/runHuntingQuery", json={"schema": [], "results": []}
    )
    client().run_hunting_query("x")
    assert json.loads(responses.calls[1].request.body) == {"Query": "x"}


@responses.activate
def test_hunting_bad_query_is_invalid_request_in_words() -> None:
    message = "Query could not be parsed at 'whre' on line [1,20]"
    responses.add(
        responses.POST,
        f"{GRAPH}/security/runHuntingQuery",
        status=400,
        json=graph_error("BadRequest", message),
    )
    with pytest.raises(e.InvalidRequest) as raised:
        client().run_hunting_query("DeviceInfo | whre x")
    assert message in raised.value.message
    assert raised.value.code == "BadRequest"


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"schema": {}, "results": []},
        {"schema": [{"name": 1}], "results": []},
        {"schema": [], "results": [1]},
    ],
)
@responses.activate
def test_hunting_malformed_answers(body: Any) -> None:
    responses.add(responses.POST, f"{GRAPH}/security/runHuntingQuery", json=body)
    with pytest.raises(e.MalformedResponse, match="hunting result"):
        client(retry=RetryPolicy(max_attempts=1)).run_hunting_query("x")


# ------------------------------------------------------------------ small parts


def test_without_expand_keeps_the_skip_token_as_written() -> None:
    link = f"{INCIDENTS}?%24expand=alerts&$filter=x%20gt%201&$skiptoken=a%2Bb%3D%3D"
    assert without_expand(link) == f"{INCIDENTS}?$filter=x%20gt%201&$skiptoken=a%2Bb%3D%3D"
    assert without_expand(f"{INCIDENTS}?$expand=alerts") == INCIDENTS


@responses.activate
def test_listing_everything_has_no_filter_then_advances() -> None:
    responses.add(responses.GET, ALERTS, json=envelope([alert(1)]))
    list(client().iter_alert_pages(page_size=5))
    assert "$filter" not in query(responses.calls[0])


@responses.activate
def test_alerts_of_an_incident_quote_the_id() -> None:
    responses.add(responses.GET, ALERTS, json=envelope([alert(1), alert(1)]))
    got = client().incident_alerts("it's")
    assert [a.id for a in got] == ["alert-1"]
    assert query(responses.calls[0]) == {"$filter": "incidentId eq 'it''s'"}


@responses.activate
def test_malformed_incident_page_raises_the_typed_error() -> None:
    bad = incident(1)
    bad["lastUpdateDateTime"] = "yesterday"
    responses.add(responses.GET, INCIDENTS, json=envelope([bad]))
    with pytest.raises(e.MalformedResponse, match="lastUpdateDateTime"):
        list(client(retry=RetryPolicy(max_attempts=1)).iter_incident_pages())


def test_stats_include_the_workarounds() -> None:
    stats = client().stats.as_dict()
    assert stats["filter_restarts"] == 0
    assert stats["expand_fallbacks"] == 0
