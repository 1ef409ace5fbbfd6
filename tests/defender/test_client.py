"""The Defender API clients: retries, throttling, limiting, typed errors and paging."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses

from partner_portal.defender import errors as e
from partner_portal.defender.http import make_session
from partner_portal.defender.mde import MDE_ALERT_LIMITS, MdeClient
from partner_portal.defender.paging import PageInfo
from partner_portal.defender.rate_limit import NO_LIMIT, RateLimiter
from partner_portal.defender.retry import RetryPolicy
from partner_portal.defender.xdr import XdrClient

from .fakes import API, TENANT, FakeTime, alert_json, page

ALERTS = f"{API}/api/alerts"


class Tokens:
    """A token source that records refreshes."""

    def __init__(self) -> None:
        self.calls: list[bool] = []

    def __call__(self, force_refresh: bool) -> str:
        self.calls.append(force_refresh)
        return f"token-{sum(self.calls)}"


def client(
    fake: FakeTime | None = None,
    *,
    limiter: Any = NO_LIMIT,
    retry: RetryPolicy | None = None,
    tokens: Tokens | None = None,
    cls: type[MdeClient] | type[XdrClient] = MdeClient,
) -> Any:
    fake = fake or FakeTime()
    return cls(
        API,
        TENANT,
        tokens or Tokens(),
        session=make_session(),
        limiter=limiter,
        retry=retry,
        clock=fake.clock,
        sleep=fake.sleep,
        jitter=lambda: 0.5,
    )


def query(call: Any) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(call.request.url).query).items()}


def error_body(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "target": "43f4cb08-8fac-4b65"}}


# ------------------------------------------------------------------------ transport


@responses.activate
def test_every_call_has_a_timeout_and_bearer() -> None:
    responses.add(responses.GET, ALERTS, json=page([alert_json(1)]))
    responses.add(responses.GET, f"{ALERTS}/x1", json=alert_json(1))
    c = client()
    list(c.iter_alerts())
    c.get_alert("x1")
    assert len(responses.calls) == 2
    for call in responses.calls:
        assert call.request.req_kwargs["timeout"] == c.timeout
        assert call.request.headers["Authorization"] == "Bearer token-0"
    assert c.stats.api_calls == 2


@responses.activate
def test_429_waits_for_retry_after() -> None:
    responses.add(
        responses.GET,
        ALERTS,
        status=429,
        json=error_body("TooManyRequests", "API calls quota exceeded!"),
        headers={"Retry-After": "7"},
    )
    responses.add(responses.GET, ALERTS, json=page([alert_json(1)]))
    fake = FakeTime()
    c = client(fake)
    assert len(list(c.iter_alerts())) == 1
    assert fake.sleeps == [7.0]
    assert (c.stats.throttled_waits, c.stats.throttled_seconds) == (1, 7.0)
    assert c.stats.retries == 0


@responses.activate
def test_429_seconds_from_message_only() -> None:
    responses.add(
        responses.GET,
        ALERTS,
        status=429,
        json=error_body(
            "TooManyRequests",
            "API calls quota exceeded! Maximum admitted 100 per 1m. "
            "You can send requests again in 8 seconds.",
        ),
    )
    responses.add(responses.GET, ALERTS, json=page([]))
    fake = FakeTime()
    c = client(fake)
    assert list(c.iter_alerts()) == []
    assert fake.sleeps == [8.0]


@responses.activate
def test_429_without_hint_backs_off_exponentially() -> None:
    for _ in range(3):
        responses.add(responses.GET, ALERTS, status=429, body="")
    responses.add(responses.GET, ALERTS, json=page([]))
    fake = FakeTime()
    c = client(fake, retry=RetryPolicy(backoff_base=2.0))
    list(c.iter_alerts())
    # jitter fixed at 0.5: 75 % of 2, 4, 8.
    assert fake.sleeps == [1.5, 3.0, 6.0]
    assert c.stats.throttled_waits == 3


@responses.activate
def test_429_http_date_retry_after() -> None:
    when = datetime.now(UTC).replace(microsecond=0).timestamp() + 30
    date = datetime.fromtimestamp(when, UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")
    responses.add(responses.GET, ALERTS, status=429, headers={"Retry-After": date})
    responses.add(responses.GET, ALERTS, json=page([]))
    fake = FakeTime()
    list(client(fake).iter_alerts())
    assert 25 <= fake.sleeps[0] <= 31


@responses.activate
def test_429_beyond_budget_raises_throttled() -> None:
    responses.add(
        responses.GET,
        ALERTS,
        status=429,
        json=error_body("TooManyRequests", "slow down"),
        headers={"Retry-After": "5000"},
    )
    fake = FakeTime()
    with pytest.raises(e.Throttled) as info:
        list(client(fake, retry=RetryPolicy(max_total_wait=600)).iter_alerts())
    assert info.value.retry_after == 5000
    assert fake.sleeps == []


@responses.activate
def test_429_storm_bounded_by_count() -> None:
    responses.add(responses.GET, ALERTS, status=429, headers={"Retry-After": "1"})
    fake = FakeTime()
    with pytest.raises(e.Throttled):
        list(client(fake, retry=RetryPolicy(max_throttled=4)).iter_alerts())
    assert fake.sleeps == [1.0] * 4
    assert len(responses.calls) == 5


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@responses.activate
def test_5xx_retried_then_succeeds(status: int) -> None:
    responses.add(responses.GET, ALERTS, status=status, json=error_body("InternalServerError", "x"))
    responses.add(responses.GET, ALERTS, status=status, body="<html>gateway</html>")
    responses.add(responses.GET, ALERTS, json=page([alert_json(1)]))
    fake = FakeTime()
    c = client(fake)
    assert len(list(c.iter_alerts())) == 1
    assert fake.sleeps == [0.75, 1.5]
    assert c.stats.retries == 2


@responses.activate
def test_5xx_bounded_then_server_error() -> None:
    responses.add(responses.GET, ALERTS, status=500, json=error_body("InternalServerError", "x"))
    fake = FakeTime()
    with pytest.raises(e.ServerError) as info:
        list(client(fake, retry=RetryPolicy(max_attempts=3)).iter_alerts())
    assert info.value.status == 500
    assert len(responses.calls) == 3
    assert len(fake.sleeps) == 2


@responses.activate
def test_total_wait_bound() -> None:
    responses.add(responses.GET, ALERTS, status=503)
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=100, max_total_wait=10, backoff_base=1.0)
    with pytest.raises(e.ServerError):
        list(client(fake, retry=policy).iter_alerts())
    assert sum(fake.sleeps) <= 10


@pytest.mark.parametrize(
    "exc",
    [
        requests.ConnectionError("Connection reset by peer"),
        requests.ReadTimeout("read timed out"),
        requests.exceptions.ChunkedEncodingError("truncated"),
    ],
)
@responses.activate
def test_connection_failures_retried_then_transport_error(exc: Exception) -> None:
    responses.add(responses.GET, ALERTS, body=exc)
    responses.add(responses.GET, ALERTS, json=page([alert_json(1)]))
    fake = FakeTime()
    assert len(list(client(fake).iter_alerts())) == 1
    assert len(fake.sleeps) == 1

    responses.replace(responses.GET, ALERTS, body=exc)
    with pytest.raises(e.TransportError) as info:
        list(client(FakeTime(), retry=RetryPolicy(max_attempts=2)).iter_alerts())
    assert info.value.status is None
    assert info.value.retryable


@responses.activate
def test_401_refreshes_token_once_then_unauthorized() -> None:
    responses.add(responses.GET, ALERTS, status=401, json=error_body("Unauthorized", "expired"))
    responses.add(responses.GET, ALERTS, json=page([alert_json(1)]))
    tokens = Tokens()
    c = client(tokens=tokens)
    assert len(list(c.iter_alerts())) == 1
    assert tokens.calls == [False, True]
    assert responses.calls[1].request.headers["Authorization"] == "Bearer token-1"
    assert c.stats.token_refreshes == 1

    responses.replace(responses.GET, ALERTS, status=401, json=error_body("Unauthorized", "no"))
    tokens = Tokens()
    with pytest.raises(e.Unauthorized):
        list(client(tokens=tokens).iter_alerts())
    assert tokens.calls == [False, True]


@responses.activate
def test_403_names_missing_permission() -> None:
    responses.add(
        responses.PATCH,
        f"{ALERTS}/a1",
        status=403,
        json=error_body(
            "Forbidden",
            "The application does not have any of the required application permissions "
            "(Alert.ReadWrite.All) to access the resource.",
        ),
    )
    tokens = Tokens()
    with pytest.raises(e.Forbidden) as info:
        client(tokens=tokens).update_alert("a1", status="Resolved")
    assert info.value.missing_permission == "Alert.ReadWrite.All"
    # Asked once more with a fresh token (one from before a re-consent lacks new roles).
    assert len(responses.calls) == 2 and tokens.calls == [False, True]


@responses.activate
def test_403_with_a_token_from_before_the_consent_succeeds_with_a_fresh_one() -> None:
    responses.add(
        responses.GET,
        ALERTS,
        status=403,
        json=error_body("Forbidden", "Missing application roles: Alert.Read.All"),
    )
    responses.add(responses.GET, ALERTS, json=page([alert_json(1)]))
    tokens = Tokens()
    c = client(tokens=tokens)
    assert len(list(c.iter_alerts())) == 1
    assert tokens.calls == [False, True] and c.stats.token_refreshes == 1
    assert responses.calls[1].request.headers["Authorization"] == "Bearer token-1"


@pytest.mark.parametrize(
    ("status", "cls"),
    [(400, e.InvalidRequest), (404, e.NotFound), (409, e.ApiError), (405, e.ApiError)],
)
@responses.activate
def test_other_statuses(status: int, cls: type[e.ApiError]) -> None:
    responses.add(responses.GET, f"{ALERTS}/a1", status=status, json=error_body("Code", "msg"))
    with pytest.raises(cls) as info:
        client().get_alert("a1")
    assert type(info.value) is cls
    assert (info.value.status, info.value.code, info.value.message) == (status, "Code", "msg")
    assert len(responses.calls) == 1


# -------------------------------------------------------------------------- limiting


def test_limiter_holds_under_100_per_minute() -> None:
    fake = FakeTime()
    limiter = RateLimiter(MDE_ALERT_LIMITS, clock=fake.clock, sleep=fake.sleep)
    stamps = []
    for _ in range(350):
        limiter.acquire("mde:t1")
        stamps.append(fake.now)
    for i, t in enumerate(stamps):
        in_window = sum(1 for s in stamps[i:] if s < t + 60)
        assert in_window <= 100
    assert stamps[99] == stamps[0]  # the first hundred go at once
    assert stamps[100] == pytest.approx(stamps[0] + 60)
    assert stamps[-1] - stamps[0] == pytest.approx(180)
    # Another tenant is not held up.
    before = fake.now
    limiter.acquire("mde:t2")
    assert fake.now == before


def test_limiter_hourly_window() -> None:
    fake = FakeTime()
    limiter = RateLimiter(MDE_ALERT_LIMITS, clock=fake.clock, sleep=fake.sleep)
    stamps = []
    for _ in range(1501):
        limiter.acquire("k")
        stamps.append(fake.now)
    assert stamps[1500] - stamps[0] >= 3600


def test_limiter_rejects_bad_limits() -> None:
    with pytest.raises(ValueError):
        RateLimiter([])
    with pytest.raises(ValueError):
        RateLimiter([(0, 60.0)])


@responses.activate
def test_client_uses_its_limiter_before_microsoft_must_say_so() -> None:
    responses.add(responses.GET, f"{ALERTS}/a", json=alert_json(1))
    fake = FakeTime()
    c = client(fake, limiter=None)  # default: the documented MDE limits
    for _ in range(150):
        c.get_alert("a")
    assert c.stats.limiter_waits == 1
    assert c.stats.limiter_seconds == pytest.approx(60)
    assert fake.now - 1000.0 == pytest.approx(60)


# --------------------------------------------------------------------------- paging


@responses.activate
def test_malformed_json_raises_and_yields_nothing_of_that_page() -> None:
    responses.add(responses.GET, ALERTS, json=page([alert_json(1)], f"{ALERTS}?$skiptoken=2"))
    responses.add(responses.GET, ALERTS, body='{"value": [{"id": "a"}, ')
    fake = FakeTime()
    c = client(fake, retry=RetryPolicy(max_attempts=2))
    seen: list[str] = []
    with pytest.raises(e.MalformedResponse):
        for alert in c.iter_alerts():
            seen.append(alert.id)
    assert seen == [alert_json(1)["id"]]
    assert len(fake.sleeps) == 1  # retried once: a truncated body can be transient


@pytest.mark.parametrize(
    ("body", "calls"),
    [
        ({"value": "nope"}, 3),
        ({"items": []}, 3),
        ([alert_json(1)], 3),
        # A bad item is found after the page arrived; the page is then asked for again
        # with the usual bounds.
        ({"value": [alert_json(1), {"title": "no id"}]}, 4),
        ({"value": [alert_json(1)], "@odata.nextLink": 5}, 3),
    ],
)
@responses.activate
def test_not_an_envelope_or_bad_item_raises_whole_page(body: Any, calls: int) -> None:
    responses.add(responses.GET, ALERTS, json=body)
    pages: list[Any] = []
    fake = FakeTime()
    c = client(fake, retry=RetryPolicy(max_attempts=3))
    with pytest.raises(e.MalformedResponse):
        for p in c.iter_alert_pages():
            pages.append(p)
    assert pages == []
    assert len(responses.calls) == calls  # asked again in case it was a passing fault
    assert c.stats.retries == 2


@responses.activate
def test_garbled_page_retried_then_good_page_used() -> None:
    responses.add(responses.GET, ALERTS, json={"value": {"not": "a list"}})
    responses.add(responses.GET, ALERTS, body="<html>proxy error</html>")
    responses.add(responses.GET, ALERTS, json=page([alert_json(1), alert_json(2)]))
    pages = list(client().iter_alert_pages())
    assert [len(p) for p in pages] == [2]


@responses.activate
def test_malformed_alert_from_get_and_no_retry_for_comment_patch() -> None:
    responses.add(responses.GET, f"{ALERTS}/a1", json={"title": "no id"})
    with pytest.raises(e.MalformedResponse):
        client(retry=RetryPolicy(max_attempts=2)).get_alert("a1")
    assert len(responses.calls) == 2
    responses.add(responses.PATCH, f"{ALERTS}/a1", json={"title": "no id"})
    with pytest.raises(e.MalformedResponse):
        client().update_alert("a1", comment="x")
    assert len(responses.calls) == 3


@responses.activate
def test_next_link_paging() -> None:
    first = [alert_json(i) for i in range(1, 4)]
    second = [alert_json(i) for i in range(4, 6)]
    next_url = f"{ALERTS}?$filter=lastUpdateTime+ge+2024-01-01T00:00:00Z&$skiptoken=abc"
    responses.add(responses.GET, ALERTS, json=page(first, next_url))
    responses.add(responses.GET, ALERTS, json=page(second))
    infos: list[PageInfo] = []
    c = client()
    pages = list(c.iter_alert_pages(since=datetime(2024, 1, 1, tzinfo=UTC), on_page=infos.append))
    assert [[a.id for a in p] for p in pages] == [
        [a["id"] for a in first],
        [a["id"] for a in second],
    ]
    assert query(responses.calls[0]) == {"$filter": "lastUpdateTime ge 2024-01-01T00:00:00Z"}
    assert responses.calls[1].request.url == next_url.replace(" ", "+")
    assert [(i.number, i.items, i.has_next, i.skip) for i in infos] == [
        (1, 3, True, None),
        (2, 2, False, None),
    ]
    assert (c.stats.pages, c.stats.items) == (2, 5)


@responses.activate
def test_next_link_to_other_origin_refused() -> None:
    responses.add(
        responses.GET, ALERTS, json=page([alert_json(1)], "https://evil.test/api/alerts?x=1")
    )
    with pytest.raises(e.MalformedResponse, match="outside"):
        list(client().iter_alerts())
    assert len(responses.calls) == 1


@responses.activate
def test_next_link_repeating_itself_refused() -> None:
    responses.add(responses.GET, ALERTS, json=page([alert_json(1)], f"{ALERTS}?$skiptoken=1"))
    responses.add(responses.GET, ALERTS, json=page([alert_json(2)], f"{ALERTS}?$skiptoken=1"))
    with pytest.raises(e.MalformedResponse, match="repeats"):
        list(client().iter_alerts())


@responses.activate
def test_top_skip_paging_stops_on_short_page() -> None:
    everything = [alert_json(i) for i in range(7)]

    def handler(request: requests.PreparedRequest) -> tuple[int, dict[str, str], str]:
        q = {k: v[0] for k, v in parse_qs(urlsplit(request.url or "").query).items()}
        top, skip = int(q["$top"]), int(q["$skip"])
        return 200, {}, json.dumps(page(everything[skip : skip + top]))

    responses.add_callback(responses.GET, ALERTS, callback=handler)
    infos: list[PageInfo] = []
    pages = list(client().iter_alert_pages(page_size=3, expand_evidence=True, on_page=infos.append))
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [query(c)["$skip"] for c in responses.calls] == ["0", "3", "6"]
    assert all(
        query(c)["$top"] == "3" and query(c)["$expand"] == "evidence" for c in responses.calls
    )
    assert [i.skip for i in infos] == [0, 3, 6]


@responses.activate
def test_top_skip_exact_multiple_ends_with_empty_page() -> None:
    responses.add(responses.GET, ALERTS, json=page([alert_json(1), alert_json(2)]))
    responses.add(responses.GET, ALERTS, json=page([]))
    pages = list(client().iter_alert_pages(page_size=2))
    assert [len(p) for p in pages] == [2, 0]


@responses.activate
def test_duplicates_across_pages_are_dropped() -> None:
    responses.add(responses.GET, ALERTS, json=page([alert_json(1), alert_json(2)]))
    responses.add(responses.GET, ALERTS, json=page([alert_json(2), alert_json(3)]))
    responses.add(responses.GET, ALERTS, json=page([]))
    ids = [a.id for a in client().iter_alerts(page_size=2)]
    assert len(ids) == len(set(ids)) == 3


@responses.activate
def test_duplicates_within_a_page_are_dropped_and_counted() -> None:
    responses.add(
        responses.GET,
        ALERTS,
        json=page([alert_json(1), alert_json(2), alert_json(1, title="changed"), alert_json(3)]),
    )
    responses.add(responses.GET, ALERTS, json=page([alert_json(3), alert_json(4)]))
    infos: list[PageInfo] = []
    pages = list(client().iter_alert_pages(page_size=4, on_page=infos.append))
    assert [[a.id for a in p] for p in pages] == [
        [alert_json(1)["id"], alert_json(2)["id"], alert_json(3)["id"]],
        [alert_json(4)["id"]],
    ]
    # The first copy of an alert is the one kept.
    assert pages[0][0].title == alert_json(1)["title"]
    assert [(i.items, i.new_items) for i in infos] == [(4, 3), (2, 1)]


@responses.activate
def test_page_bound_raises() -> None:
    responses.add(responses.GET, ALERTS, json=page([alert_json(1)], f"{ALERTS}?$skiptoken=1"))
    responses.add(responses.GET, ALERTS, json=page([alert_json(2)], f"{ALERTS}?$skiptoken=2"))
    responses.add(responses.GET, ALERTS, json=page([alert_json(3)], f"{ALERTS}?$skiptoken=3"))
    with pytest.raises(e.PageLimitExceeded):
        list(client().iter_alert_pages(max_pages=2))
    assert len(responses.calls) == 2


def test_page_size_and_since_checked() -> None:
    c = client()
    with pytest.raises(ValueError):
        list(c.iter_alert_pages(page_size=10_001))
    with pytest.raises(ValueError):
        list(c.iter_alert_pages(page_size=0))
    with pytest.raises(ValueError):
        list(c.iter_alert_pages(since=datetime(2024, 1, 1)))


# --------------------------------------------------------------------------- updates


@responses.activate
def test_update_alert_sends_case_sensitive_names() -> None:
    updated = alert_json(1, status="Resolved", classification="FalsePositive")
    responses.add(responses.PATCH, f"{ALERTS}/da637_1", json=updated)
    record = client().update_alert(
        "da637_1",
        status="Resolved",
        assigned_to="analyst@partner.example",
        classification="FalsePositive",
        determination="Other",
        comment="Benign admin script",
    )
    assert record.status == "Resolved"
    assert json.loads(responses.calls[0].request.body or b"") == {
        "status": "Resolved",
        "assignedTo": "analyst@partner.example",
        "classification": "FalsePositive",
        "determination": "Other",
        "comment": "Benign admin script",
    }


def test_update_alert_validates() -> None:
    c = client()
    with pytest.raises(ValueError):
        c.update_alert("a")
    with pytest.raises(ValueError):
        c.update_alert("a", status="Closed")
    with pytest.raises(ValueError):
        c.update_alert("a", classification="Maybe")


@responses.activate
def test_patch_with_comment_not_repeated_after_dropped_connection() -> None:
    responses.add(responses.PATCH, f"{ALERTS}/a1", body=requests.ConnectionError("reset"))
    with pytest.raises(e.TransportError):
        client().update_alert("a1", comment="once only")
    assert len(responses.calls) == 1


@responses.activate
def test_patch_404() -> None:
    responses.add(responses.PATCH, f"{ALERTS}/gone", status=404, json=error_body("NotFound", "x"))
    with pytest.raises(e.NotFound):
        client().update_alert("gone", status="InProgress")


# ----------------------------------------------------------------------------- XDR


def incident(n: int) -> dict[str, Any]:
    return {
        "incidentId": n,
        "incidentName": f"Incident {n}",
        "createdTime": "2024-01-01T00:00:00Z",
        "lastUpdateTime": "2024-01-01T00:00:00Z",
        "status": "Active",
        "severity": "High",
        "tags": [],
        "comments": [],
        "alerts": [],
    }


@responses.activate
def test_xdr_incidents_paging_and_limits() -> None:
    url = f"{API}/api/incidents"
    responses.add(responses.GET, url, json=page([incident(i) for i in range(100)]))
    responses.add(responses.GET, url, json=page([incident(i) for i in range(100, 130)]))
    c = client(cls=XdrClient)
    ids = [i.incident_id for i in c.iter_incidents(since=datetime(2024, 1, 1, tzinfo=UTC))]
    assert ids == list(range(130))
    assert query(responses.calls[0])["$top"] == "100"
    assert query(responses.calls[1])["$skip"] == "100"
    with pytest.raises(ValueError):
        list(c.iter_incident_pages(page_size=101))
    assert c.limiter_key == f"xdr:{TENANT}"


@responses.activate
def test_xdr_get_incident() -> None:
    responses.add(responses.GET, f"{API}/api/incidents/7", json=incident(7))
    assert client(cls=XdrClient).get_incident(7).incident_name == "Incident 7"


def test_base_url_checked() -> None:
    with pytest.raises(ValueError):
        MdeClient("api.test", TENANT, lambda _: "t", session=make_session())
    assert "token" not in repr(client())


@responses.activate
def test_alerts_by_id_are_fetched_in_batches_with_evidence() -> None:
    responses.add(responses.GET, ALERTS, json=page([alert_json(n) for n in range(1, 3)]))
    responses.add(responses.GET, ALERTS, json=page([alert_json(3)]))
    ids = [alert_json(n)["id"] for n in (1, 2, 3)] + ["o'brien"]
    found = list(client().iter_alerts_by_id(ids, batch_size=2))
    assert [a.id for a in found] == ids[:3]
    first, second = (query(call) for call in responses.calls)
    assert first["$filter"] == f"id eq '{ids[0]}' or id eq '{ids[1]}'"
    assert first["$expand"] == "evidence"
    assert second["$filter"] == f"id eq '{ids[2]}' or id eq 'o''brien'"
    with pytest.raises(ValueError):
        list(client().iter_alerts_by_id(ids, batch_size=0))


# ---------------------------------------------------------------------- JSON decoding


def _reference(body: bytes, content_type: str) -> tuple[str, str]:
    """What ``requests``' own ``response.json()`` (the standard decoder) makes of a body."""
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.headers["Content-Type"] = content_type
    response.encoding = requests.utils.get_encoding_from_headers(response.headers)
    try:
        return "ok", repr(response.json())
    except ValueError:
        return "error", ""
    except RecursionError:
        return "too deep", ""


BIG = 123456789012345678901234567890
JSON_BODIES = [
    b'{"value": [1, 2.5, "caf\xc3\xa9", null, true]}',
    b"   ",
    b'{"value": [',
    b"<html>proxy error</html>",
    b'\xef\xbb\xbf{"value": []}',
    b'{"big": ' + str(BIG).encode() + b"}",
    b'{"small": -' + str(BIG).encode() + b"}",
    b'{"u64": 18446744073709551615, "i64": -9223372036854775808}',
    b"[\n  1,\n  -" + str(BIG).encode() + b"\n]",
    str(BIG).encode(),
    b"\t" + str(-BIG).encode(),
    b'{"f": ' + str(BIG).encode() + b".5e3}",
    b'{"id": "a-1234567890123456789012345"}',
    b'{"x": NaN, "y": Infinity, "z": 1e400}',
    b'{"s": "\\ud800"}',
    b'{"s": "caf\xe9"}',
    b'{"s": "\xff\xfe"}',
    '{"s": "café"}'.encode("utf-16"),
    '{"s": "café"}'.encode("utf-16-le"),
    '{"s": "café"}'.encode("latin-1"),
    b'{"a": 1, "a": 2}',
    b"[" * 500 + b"]" * 500,
    b"[" * 2000 + b"]" * 2000,
]
CONTENT_TYPES = [
    "application/json",
    "application/json; odata.metadata=minimal; odata.streaming=true; charset=utf-8",
    "application/json; charset=UTF8",
    "application/json; charset=iso-8859-1",
    "text/plain",
    "application/octet-stream",
]


@pytest.mark.parametrize("content_type", CONTENT_TYPES)
@pytest.mark.parametrize("body", JSON_BODIES)
@responses.activate
def test_decoding_matches_requests_json(body: bytes, content_type: str) -> None:
    """Whatever the body and its declared charset, the client decodes a 200 answer to
    the same value as ``response.json()`` with the standard decoder (huge integers
    exact, NaN accepted, a byte order mark only without a declared UTF-8 charset, the
    declared charset honoured), and refuses it as malformed where that fails."""
    responses.add(responses.GET, f"{ALERTS}/a1", body=body, content_type=content_type)
    c = client(retry=RetryPolicy(max_attempts=1))
    try:
        outcome = "ok", repr(c._request("GET", "/api/alerts/a1"))
    except e.MalformedResponse:
        outcome = "error", ""
    except RecursionError:
        outcome = "too deep", ""
    assert outcome == _reference(body, content_type)


@pytest.mark.parametrize("big", [BIG, -BIG, 2**64, -(2**63) - 1])
@responses.activate
def test_integers_beyond_64_bits_are_kept_exact(big: int) -> None:
    extra = dict(alert_json(1), someCounter=big)
    responses.add(responses.GET, ALERTS, json=page([extra]))
    responses.add(responses.GET, f"{ALERTS}/x", json=extra)
    c = client()
    (listed,) = c.iter_alerts()
    fetched = c.get_alert("x")
    for record in (listed, fetched):
        assert record.raw["someCounter"] == big
        assert type(record.raw["someCounter"]) is int


@responses.activate
def test_nan_and_infinity_still_accepted_as_before() -> None:
    body = json.dumps(page([dict(alert_json(1), score=float("nan"), cap=float("inf"))]))
    responses.add(responses.GET, ALERTS, body=body, content_type="application/json")
    (alert,) = client().iter_alerts()
    assert alert.raw["score"] != alert.raw["score"]
    assert alert.raw["cap"] == float("inf")


@pytest.mark.parametrize(
    "body", [b'{"value": [', b"<html>proxy error</html>", b"\xff\xfe\x00", b"\xef\xbb\xbf{}"]
)
@responses.activate
def test_invalid_json_raises_malformed_after_retries(body: bytes) -> None:
    """Not JSON, or (with ``charset=utf-8`` declared, as Microsoft does) a body behind a
    byte order mark: refused as before, after the usual retries."""
    responses.add(
        responses.GET,
        f"{ALERTS}/a1",
        body=body,
        content_type="application/json; charset=utf-8",
    )
    fake = FakeTime()
    with pytest.raises(e.MalformedResponse) as info:
        client(fake, retry=RetryPolicy(max_attempts=3)).get_alert("a1")
    assert info.value.message == "answer is not valid JSON"
    assert len(responses.calls) == 3


@responses.activate
def test_bom_accepted_where_no_charset_is_declared() -> None:
    body = b"\xef\xbb\xbf" + json.dumps(alert_json(1)).encode()
    responses.add(responses.GET, f"{ALERTS}/a1", body=body, content_type="application/octet-stream")
    assert client().get_alert("a1").id == alert_json(1)["id"]


@responses.activate
def test_empty_success_body_is_none() -> None:
    responses.add(responses.DELETE, f"{ALERTS}/a1", body=b"", status=200)
    responses.add(responses.DELETE, f"{ALERTS}/a2", status=204)
    c = client()
    assert c._request("DELETE", "/api/alerts/a1") is None
    assert c._request("DELETE", "/api/alerts/a2") is None


@responses.activate
def test_non_utf8_bodies_decoded_as_before() -> None:
    latin = json.dumps(alert_json(1, title="Caf\u00e9 tool"), ensure_ascii=False)
    responses.add(
        responses.GET,
        f"{ALERTS}/a1",
        body=latin.encode("latin-1"),
        content_type="application/json; charset=iso-8859-1",
    )
    garbled = json.dumps(alert_json(2, title="tool X"), ensure_ascii=False).encode()
    responses.add(
        responses.GET,
        f"{ALERTS}/a2",
        body=garbled.replace(b"tool X", b"tool \xff"),
        content_type="application/json; charset=utf-8",
    )
    c = client()
    assert c.get_alert("a1").title == "Caf\u00e9 tool"
    assert c.get_alert("a2").title == "tool \ufffd"


@pytest.mark.parametrize(
    ("body", "content_type", "code", "message"),
    [
        (
            json.dumps(error_body("InvalidRequest", "Caf\u00e9 is 18446744073709551616")),
            "application/json",
            "InvalidRequest",
            "Caf\u00e9 is 18446744073709551616",
        ),
        (
            '{"error": {"code": "BadRequest", "message": "caf\u00e9"}}'.encode("latin-1"),
            "application/json; charset=iso-8859-1",
            "BadRequest",
            "caf\u00e9",
        ),
        (
            b'{"error": {"code": "BadRequest", "message": "bad \xff"}}',
            "application/json; charset=utf-8",
            "BadRequest",
            "bad \ufffd",
        ),
        (b"<html>Bad gateway</html>", "text/html", None, "<html>Bad gateway</html>"),
        (b"", "application/json", None, ""),
    ],
)
@responses.activate
def test_error_bodies_parsed_as_before(
    body: str | bytes, content_type: str, code: str | None, message: str
) -> None:
    responses.add(responses.GET, f"{ALERTS}/a1", status=400, body=body, content_type=content_type)
    with pytest.raises(e.InvalidRequest) as info:
        client().get_alert("a1")
    assert (info.value.code, info.value.message) == (code, message)
