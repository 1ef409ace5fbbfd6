"""Role-by-URL matrix over every URL the project serves.

Six roles (anonymous, an analyst scoped to customer A, an analyst with the explicit
"all customers" grant, onboarding staff, a portal admin, a SOC lead scoped to customer A)
open every URL pattern of the
URL conf, with path arguments filled from customer A's and customer B's real objects.
Each answer must carry the expected status, and nothing of customer B (its name, its
tenant, its alerts' titles and IDs, its incident, all seeded with a unique token) may
reach A's analyst or A's SOC lead: not in pages, exports, counts, charts data or live
updates.

URLs are found by walking the resolver, so a page added later is covered without
editing this file, provided its path arguments are named in ARGUMENTS. A URL missing
from EXPECTED gets the status its declared access policy implies.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from django.http import HttpResponse
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from partner_portal.alerts.models import Source, SyncStatus
from partner_portal.core.access import Role
from tenants.models import AuditEvent
from tests.alerts.factories import (
    AlertFactory,
    CustomerFactory,
    IncidentFactory,
    SavedViewFactory,
    SyncRunFactory,
    SyncStateFactory,
)
from tests.correlation.factories import IndicatorFactory, SightingFactory
from tests.factories import GroupFactory, UserFactory
from tests.hunting.factories import HuntFactory, HuntTargetFactory, SavedQueryFactory
from tests.notifications.factories import (
    ChannelFactory,
    CustomerTagFactory,
    PolicyFactory,
    SlaGoalFactory,
    SuppressionHitFactory,
    SuppressionRuleFactory,
)
from tests.tenants.factories import AnalystScopeFactory, AuditEventFactory, ConsentRequestFactory

pytestmark = pytest.mark.django_db

# Something of customer B that can appear nowhere by chance.
MARK = "Qz7Bravo"
B_TENANT = "bbbbbbbb-7777-4bbb-8bbb-bbbbbbbbbbbb"

ANON, ANALYST_A, ANALYST_ALL = "anonymous", "analyst A", "analyst all"
STAFF, ADMIN, LEAD_A = "staff", "admin", "SOC lead A"
ROLES = (ANON, ANALYST_A, ANALYST_ALL, STAFF, ADMIN, LEAD_A)


# --- the world ------------------------------------------------------------------------------
@dataclass
class World:
    customers: dict[str, Any]
    objects: dict[str, dict[str, Any]]
    clients: dict[str, Client]


def _seed_customer(label: str, name: str, tenant: str, scope_user: Any) -> dict[str, Any]:
    now = timezone.now()
    customer = CustomerFactory(
        display_name=name,
        tenant_id=tenant,
        contact_name=f"{name} contact",
        contact_email=f"soc@{label.lower()}.example",
    )
    alerts = [
        AlertFactory(
            customer=customer,
            alert_id=f"da6384{label}{n:04d}_{name}",
            title=f"{name} lateral activity {n}",
            severity=severity,
            status="New",
            incident_id=500,
            machine_id=("a" if label == "A" else "b") * 40,
            computer_dns_name=f"host{n}.{name}.example",
            created_at=now - timedelta(minutes=n + 1),
            last_updated_at=now - timedelta(minutes=n + 1),
            mitre_techniques=[f"T1{label}0{n}"],
        )
        for n, severity in enumerate(["High", "Medium", "Low"])
    ]
    incident = IncidentFactory(
        customer=customer, incident_id=500, name=f"{name} incident", status="Active",
        severity="High", alert_ids=[a.alert_id for a in alerts], created_at=now,
        synced_at=now - timedelta(minutes=1),  # settled: the queue's live poll reports it
    )  # fmt: skip
    run = SyncRunFactory(
        customer=customer, source=Source.ALERTS, status=SyncStatus.FAILED, api_calls=7,
        error_code="ServerError 500", error_message=f"{name} sync failed",
        finished_at=now,
    )  # fmt: skip
    SyncStateFactory(customer=customer, source=Source.ALERTS, last_run=run, consecutive_failures=1)
    consent = ConsentRequestFactory(
        customer=customer, public_id=f"pub-{label}-{name}", expires_at=now + timedelta(days=7)
    )
    scope = AnalystScopeFactory(user=scope_user, customer=customer)
    AuditEventFactory(
        actor_label="system", action="customer.registered", customer=customer,
        customer_name=name, summary=f"Registered {name}",
    )  # fmt: skip
    # A hunt and a saved query belong to the analyst who made them.
    hunt = HuntFactory(created_by=scope_user)
    HuntTargetFactory(hunt=hunt, customer=customer, columns=["Title"], rows=[{"Title": name}])
    saved = SavedQueryFactory(owner=scope_user)
    saved_view = SavedViewFactory(owner=scope_user, query=f"customer={customer.pk}")
    # Channels and policies are the partner's; a policy naming only B is B's.
    channel = ChannelFactory(name=f"Channel {label}")
    policy = PolicyFactory(name=f"Policy {label}", customers=[customer], channels=[channel])
    # A suppression rule naming only B, and the alert of B's it caught, are B's.
    rule = SuppressionRuleFactory(reason=f"Rule of {name}", customers=[customer])
    SuppressionHitFactory(
        rule=rule, customer=customer, alert_id=alerts[1].alert_id, title=alerts[1].title
    )
    # An SLA goal on a tag the customer carries, so its alerts have timers.
    tier = CustomerTagFactory(name=f"Tier {label}")
    tier.customers.add(customer)
    goal = SlaGoalFactory(tag=tier, severity="High", acknowledge_minutes=1)
    return {
        "customer": customer,
        "goal": goal,
        "alert": alerts[0],
        "incident": incident,
        "consent": consent,
        "scope": scope,
        "channel": channel,
        "policy": policy,
        "hunt": hunt,
        "saved": saved,
        "saved_view": saved_view,
        "rule": rule,
    }


def _client(user: Any | None) -> Client:
    # A crash is reported as the 500 it is, with the URL, rather than raised mid-matrix.
    client = Client(raise_request_exception=False)
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def world() -> World:
    analyst_a = UserFactory(username="analyst-a", roles=[Role.ANALYST])
    analyst_all = UserFactory(username="analyst-all", roles=[Role.ANALYST])
    AnalystScopeFactory(user=analyst_all, all_customers=True)
    analyst_b = UserFactory(username="analyst-b", roles=[Role.ANALYST])
    staff = UserFactory(username="staff", roles=[Role.ONBOARDING])
    admin = UserFactory(username="admin", roles=[Role.ADMIN])
    # A SOC lead is an analyst: scoped to A as A's analyst is (granted below).
    lead_a = UserFactory(username="lead-a", roles=[Role.SOC_LEAD])
    # A group's "all customers" grant must not reach A's analyst, who is not a member.
    other_team = GroupFactory(name="B team")
    AnalystScopeFactory(group=other_team, all_customers=True)
    objects = {
        "A": _seed_customer("A", "Alpha", "aaaaaaaa-1111-4aaa-8aaa-aaaaaaaaaaaa", analyst_a),
        "B": _seed_customer("B", MARK, B_TENANT, analyst_b),
    }
    # One file hash in an alert of each: a campaign for those who see both customers.
    shared = IndicatorFactory()
    AnalystScopeFactory(user=lead_a, customer=objects["A"]["customer"])
    for owned in objects.values():
        SightingFactory(indicator=shared, alert=owned["alert"])
        owned["campaign"] = shared
    clients = {
        ANON: _client(None),
        ANALYST_A: _client(analyst_a),
        ANALYST_ALL: _client(analyst_all),
        STAFF: _client(staff),
        ADMIN: _client(admin),
        LEAD_A: _client(lead_a),
    }
    return World({k: v["customer"] for k, v in objects.items()}, objects, clients)


# --- URL discovery ------------------------------------------------------------------------
@dataclass(frozen=True)
class Route:
    name: str  # "namespace:name"
    arguments: tuple[str, ...]
    view: Callable[..., Any]


def _walk(patterns: list[Any], namespace: str = "") -> Iterator[Route]:
    for entry in patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin":
                continue  # Django's admin applies its own staff check.
            inner = entry.namespace or namespace
            yield from _walk(entry.url_patterns, inner)
        elif isinstance(entry, URLPattern) and entry.name:
            name = f"{namespace}:{entry.name}" if namespace else entry.name
            yield Route(name, tuple(entry.pattern.regex.groupindex), entry.callback)


def all_routes() -> list[Route]:
    return list({route.name: route for route in _walk(get_resolver().url_patterns)}.values())


# Which object fills a path argument, per URL (or per argument name for any URL).
ARGUMENTS: dict[tuple[str, str], Callable[[dict[str, Any]], Any]] = {
    ("alerts:detail", "pk"): lambda o: o["alert"].pk,
    ("alerts:update", "pk"): lambda o: o["alert"].pk,
    ("alerts:evidence_state", "pk"): lambda o: o["alert"].pk,
    ("alerts:incident", "pk"): lambda o: o["incident"].pk,
    ("alerts:incident_update", "pk"): lambda o: o["incident"].pk,
    ("alerts:scope_revoke", "pk"): lambda o: o["scope"].pk,
    ("alerts:sync_progress", "pk"): lambda o: o["customer"].pk,
    ("alerts:import_history", "pk"): lambda o: o["customer"].pk,
    ("correlation:campaign", "key"): lambda o: o["campaign"].pk,
    ("hunting:delete", "pk"): lambda o: o["saved"].pk,
    ("alerts:saved_view_delete", "pk"): lambda o: o["saved_view"].pk,
    ("*", "public_id"): lambda o: o["consent"].public_id,
    # People pages: the customer's scoped analyst, and that analyst's own grant.
    ("*", "scope_pk"): lambda o: o["scope"].pk,
    # The set-password page with a link that does not work: it says so in words.
    ("password_set", "uidb64"): lambda o: "MQ",
    ("password_set", "token"): lambda o: "no-such-token",
}
for _name in ("hunt", "results", "export"):
    ARGUMENTS[(f"hunting:{_name}", "pk")] = lambda o: o["hunt"].pk
for _name in (
    "detail", "deactivate", "reactivate", "password_link", "second_factor_reset",
    "scope_grant", "scope_revoke",
):  # fmt: skip
    ARGUMENTS[(f"tenants:person_{_name}", "pk")] = lambda o: o["scope"].user.pk
for _name in ("channel_detail", "channel_edit", "channel_test"):
    ARGUMENTS[(f"notifications:{_name}", "pk")] = lambda o: o["channel"].pk
for _name in ("policy_edit", "policy_move", "policy_preview"):
    ARGUMENTS[(f"notifications:{_name}", "pk")] = lambda o: o["policy"].pk
for _name in ("suppression_detail", "suppression_edit", "suppression_end"):
    ARGUMENTS[(f"notifications:{_name}", "pk")] = lambda o: o["rule"].pk
ARGUMENTS[("notifications:sla_goal_delete", "pk")] = lambda o: o["goal"].pk
for _name in ("detail", "edit", "new_link", "email_link", "verify", "offboard", "delete"):
    ARGUMENTS[(f"tenants:customer_{_name}", "pk")] = lambda o: o["customer"].pk


def url_for(route: Route, owner: dict[str, Any]) -> str:
    kwargs = {}
    for argument in route.arguments:
        fill = ARGUMENTS.get((route.name, argument)) or ARGUMENTS.get(("*", argument))
        if fill is None:
            pytest.fail(
                f"{route.name} takes <{argument}>: say in ARGUMENTS which object fills it, "
                "so that the matrix covers it"
            )
        kwargs[argument] = fill(owner)
    return reverse(route.name, kwargs=kwargs)


# Query strings a URL needs to answer at all (the live poll needs its mark).
QUERY = {"alerts:live": "since_id=0", "alerts:incident_live": "mark=0"}


# --- expected status ---------------------------------------------------------------------------
LOGIN = 302


def _row(
    anon: int, a: int, all_: int, staff: int, admin: int, lead: int | None = None
) -> dict[str, int]:
    """A's SOC lead answers as A's analyst unless `lead` says otherwise."""
    return {
        ANON: anon, ANALYST_A: a, ANALYST_ALL: all_, STAFF: staff, ADMIN: admin,
        LEAD_A: a if lead is None else lead,
    }  # fmt: skip


ANALYST_PAGE = _row(LOGIN, 200, 200, 403, 200)
ANALYST_POST = _row(LOGIN, 405, 405, 403, 405)
STAFF_PAGE = _row(LOGIN, 403, 403, 200, 200)
STAFF_POST = _row(LOGIN, 403, 403, 405, 405)
ADMIN_PAGE = _row(LOGIN, 403, 403, 403, 200)
ADMIN_POST = _row(LOGIN, 403, 403, 403, 405)
SIGNED_IN = _row(LOGIN, 200, 200, 200, 200)
# Policies and suppression rules: portal admins and SOC leads change them.
LEAD_PAGE = _row(LOGIN, 403, 403, 403, 200, lead=200)
LEAD_POST = _row(LOGIN, 403, 403, 403, 405, lead=405)

# For A's objects; with B's objects A's analyst gets 404 on every analyst page (below).
EXPECTED: dict[str, dict[str, int] | None] = {
    "home": SIGNED_IN,
    "healthz": None,  # public; 503 while a service is down, which is its job
    "login": _row(200, LOGIN, LOGIN, LOGIN, LOGIN),  # signed-in users are sent on
    "logout": _row(405, 405, 405, 405, 405),
    "password_change": SIGNED_IN,
    "preferences": SIGNED_IN,
    "second_factor": SIGNED_IN,
    "second_factor_verify": _row(LOGIN, 302, 302, 302, 302),  # no authenticator: sent on
    "alerts:list": ANALYST_PAGE,
    "alerts:counts": ANALYST_PAGE,
    "alerts:live": ANALYST_PAGE,
    "alerts:export_csv": ANALYST_PAGE,
    "alerts:export_json": ANALYST_PAGE,
    "alerts:charts": ANALYST_PAGE,
    "alerts:chart_data": ANALYST_PAGE,
    "alerts:detail": ANALYST_PAGE,
    "alerts:update": ANALYST_POST,
    "alerts:evidence_state": ANALYST_PAGE,
    "alerts:bulk": ANALYST_POST,
    "alerts:saved_view_create": ANALYST_POST,
    "alerts:saved_view_delete": ANALYST_POST,
    "alerts:incidents": ANALYST_PAGE,
    "alerts:incident_counts": ANALYST_PAGE,
    "alerts:incident_live": ANALYST_PAGE,
    "alerts:incident_export_csv": ANALYST_PAGE,
    "alerts:incident_export_json": ANALYST_PAGE,
    "alerts:overview": ANALYST_PAGE,
    "alerts:incident": ANALYST_PAGE,
    "alerts:incident_update": ANALYST_POST,
    "alerts:incident_bulk": ANALYST_POST,
    "alerts:health": _row(LOGIN, 200, 200, 200, 200),
    "alerts:scopes": ADMIN_PAGE,
    "alerts:scope_revoke": ADMIN_POST,
    "correlation:campaigns": ANALYST_PAGE,
    # A campaign spans customers: A's analyst sees one customer, so no campaign at all.
    "correlation:campaign": _row(LOGIN, 404, 200, 403, 200),
    "hunting:hunts": ANALYST_PAGE,
    "hunting:start": ANALYST_POST,
    "hunting:save": ANALYST_POST,
    "hunting:delete": ANALYST_POST,
    # A hunt is its maker's alone (A's analyst made A's), whoever else sees the customer.
    "hunting:hunt": _row(LOGIN, 200, 404, 403, 404, lead=404),
    "hunting:results": _row(LOGIN, 200, 404, 403, 404, lead=404),
    "hunting:export": _row(LOGIN, 200, 404, 403, 404, lead=404),
    "tenants:customer_list": STAFF_PAGE,
    "tenants:customer_register": STAFF_PAGE,
    "tenants:customer_detail": STAFF_PAGE,
    "tenants:customer_edit": STAFF_PAGE,
    "tenants:customer_new_link": STAFF_POST,
    "tenants:customer_email_link": STAFF_POST,
    "tenants:customers_reconsent_email": STAFF_POST,
    "tenants:customer_verify": STAFF_POST,
    "tenants:customer_offboard": STAFF_POST,
    "tenants:customer_delete": STAFF_POST,
    "tenants:audit_log": ADMIN_PAGE,
    "password_set": _row(200, 200, 200, 200, 200),  # public: the link is the key
    "tenants:people": ADMIN_PAGE,
    "tenants:person_create": ADMIN_PAGE,
    "tenants:person_detail": ADMIN_PAGE,
    "tenants:person_deactivate": ADMIN_POST,
    "tenants:person_reactivate": ADMIN_POST,
    "tenants:person_password_link": ADMIN_POST,
    "tenants:person_second_factor_reset": ADMIN_POST,
    "tenants:person_scope_grant": ADMIN_POST,
    "tenants:person_scope_revoke": ADMIN_POST,
    "alerts:sync_progress": STAFF_PAGE,
    "alerts:import_history": STAFF_POST,
    "tenants:consent_callback": None,  # public; answers the missing parameters itself
    # Public: nobody is signed in yet. Staff sign-in is not configured here, and says so.
    "tenants:staff_signin": _row(404, 404, 404, 404, 404),
    "tenants:staff_signin_callback": _row(404, 404, 404, 404, 404),
    "tenants:consent_landing": _row(200, 200, 200, 200, 200),
    "tenants:consent_start": _row(405, 405, 405, 405, 405),
    "notifications:channels": ANALYST_PAGE,
    "notifications:channel_create": ADMIN_PAGE,
    "notifications:channel_detail": ANALYST_PAGE,
    "notifications:channel_edit": ADMIN_PAGE,
    "notifications:channel_test": ADMIN_POST,
    "notifications:policies": ANALYST_PAGE,
    "notifications:policy_create": LEAD_PAGE,
    "notifications:policy_edit": LEAD_PAGE,
    "notifications:policy_move": LEAD_POST,
    "notifications:policy_preview": ANALYST_PAGE,
    "notifications:tags": ANALYST_PAGE,
    "notifications:tag_create": ADMIN_POST,
    "notifications:customer_tags": ADMIN_POST,
    "notifications:suppressions": ANALYST_PAGE,
    "notifications:suppression_create": LEAD_PAGE,
    "notifications:suppression_detail": ANALYST_PAGE,
    "notifications:suppression_edit": LEAD_PAGE,
    "notifications:suppression_end": LEAD_POST,
    "notifications:sla": ANALYST_PAGE,
    "notifications:sla_goal_save": LEAD_POST,  # a scoped lead is told why not, on POST
    "notifications:sla_goal_delete": LEAD_POST,
    "notifications:sla_report": ANALYST_PAGE,
    "notifications:sla_report_csv": ANALYST_PAGE,
}
# Analyst pages naming one object: B's object is "not found" for A's analyst.
OBJECT_PAGES = {
    "alerts:detail",
    "alerts:evidence_state",
    "alerts:incident",
    "correlation:campaign",
    "hunting:hunt",
    "hunting:results",
    "hunting:export",
    "notifications:policy_preview",
    "notifications:suppression_detail",
}
# Pages only SOC leads (of the analysts) open, naming one object: B's is "not found".
LEAD_OBJECT_PAGES = {"notifications:policy_edit", "notifications:suppression_edit"}


def expected_status(route: Route, role: str, owner: str) -> set[int]:
    if route.name in EXPECTED:
        row = EXPECTED[route.name]
        if row is None:
            return set(range(200, 500)) - {LOGIN, 403} | {503}
        status = row[role]
        if owner == "B" and role in (ANALYST_A, LEAD_A) and route.name in OBJECT_PAGES:
            status = 404
        if owner == "B" and role == LEAD_A and route.name in LEAD_OBJECT_PAGES:
            status = 404
        return {status}
    return _from_policy(route, role, owner)


def _policy(route: Route) -> str:
    return str(
        getattr(route.view, "access_policy", "")
        or getattr(getattr(route.view, "view_class", None), "access_policy", "")
    )


def _from_policy(route: Route, role: str, owner: str) -> set[int]:
    """For a URL added after this table: what its declared access rule implies."""
    policy = _policy(route)
    answered = {200, 400, 405} | ({404} if route.arguments else set())
    if policy == "public":
        return set(range(200, 500)) - {403}
    if role == ANON:
        return {LOGIN}
    if policy == "signed-in":
        return answered
    held = {
        ANALYST_A: {Role.ANALYST},
        ANALYST_ALL: {Role.ANALYST},
        STAFF: {Role.ONBOARDING},
        ADMIN: set(Role),
        LEAD_A: {Role.ANALYST, Role.SOC_LEAD},
    }[role]
    allowed = {Role(name) for name in policy.removeprefix("roles:").split(",") if name}
    return answered if held & allowed else {403}


# --- helpers ----------------------------------------------------------------------------------
def body_of(response: HttpResponse) -> str:
    if getattr(response, "streaming", False):
        content = b"".join(response.streaming_content)  # type: ignore[attr-defined]
    else:
        content = response.content
    return content.decode("utf-8", errors="replace")


def b_markers(world: World) -> list[str]:
    b = world.objects["B"]
    return [
        MARK,
        B_TENANT,
        b["alert"].alert_id,
        b["consent"].public_id,
        "soc@b.example",
    ]


def leaks(body: str, world: World) -> list[str]:
    return [marker for marker in b_markers(world) if marker in body]


# --- the matrix -----------------------------------------------------------------------------------
def test_every_url_answers_each_role_as_expected(world: World) -> None:
    wrong = []
    for route in all_routes():
        for owner in ("A", "B") if route.arguments else ("A",):
            url = url_for(route, world.objects[owner])
            query = QUERY.get(route.name, "")
            for role in ROLES:
                response = world.clients[role].get(url + (f"?{query}" if query else ""))
                allowed = expected_status(route, role, owner)
                if response.status_code not in allowed:
                    wrong.append(
                        f"{role:12} GET {url} ({route.name}, {owner}'s): "
                        f"{response.status_code}, expected {sorted(allowed)[:6]}"
                    )
                elif response.status_code == LOGIN and role == ANON:
                    assert response["Location"].startswith("/accounts/login/"), url
    assert wrong == [], "\n".join(wrong)


def _a_analyst_urls(world: World) -> Iterator[str]:
    """Every URL, with A's and B's objects, and list-style URLs with filters naming B."""
    b = world.customers["B"].pk
    a = world.customers["A"].pk
    variants = [
        "",
        f"customer={b}",
        f"customer={a}&customer={b}",
        "q=lateral",
        f"q=lateral&customer={b}&severity=High&severity=Medium&severity=Low",
        "status=New&period=30d",
        "window=30d",
        "window=24h",
        "format=csv",
    ]
    for route in all_routes():
        if route.arguments:
            # A public page named by a secret of B's (its consent link) is B's to share;
            # holding that link is not something A's analyst can get from the portal.
            owners = ("A",) if _policy(route) == "public" else ("A", "B")
            for owner in owners:
                yield url_for(route, world.objects[owner])
            continue
        base = url_for(route, {})
        for variant in variants:
            parts = [p for p in (QUERY.get(route.name, ""), variant) if p]
            yield base + ("?" + "&".join(parts) if parts else "")


@pytest.mark.parametrize("role", [ANALYST_A, LEAD_A])
def test_nothing_of_customer_b_reaches_customer_as_analyst_or_lead(world: World, role: str) -> None:
    client = world.clients[role]
    leaked = []
    for url in _a_analyst_urls(world):
        response = client.get(url)
        if response.status_code >= 500:
            leaked.append(f"{url}: answered {response.status_code}")
        found = leaks(body_of(response), world)
        if found:
            leaked.append(f"{url}: {found}")
    assert leaked == [], "\n".join(leaked)


def test_the_b_markers_are_visible_to_those_who_may_see_b(world: World) -> None:
    """Guards the test above: the markers really appear where B is visible."""
    b = world.objects["B"]
    for role in (ANALYST_ALL, ADMIN):
        client = world.clients[role]
        detail = body_of(client.get(reverse("alerts:detail", args=[b["alert"].pk])))
        assert MARK in detail and b["alert"].alert_id in detail and B_TENANT in detail
        incident = body_of(client.get(reverse("alerts:incident", args=[b["incident"].pk])))
        assert MARK in incident
        assert MARK in body_of(client.get(reverse("alerts:health")))
        assert MARK in body_of(client.get(reverse("correlation:campaigns")))
        for name, query in (
            ("alerts:list", ""),
            ("alerts:export_csv", ""),
            ("alerts:export_json", ""),
            ("alerts:live", "since_id=0"),
            ("alerts:incidents", ""),
            ("alerts:incident_export_csv", ""),
            ("alerts:incident_export_json", ""),
            ("alerts:incident_live", "mark=0"),
        ):
            url = reverse(name) + (f"?{query}" if query else "")
            body = body_of(client.get(url))
            assert MARK in body or b["alert"].alert_id in body, (role, name)
    assert MARK in body_of(world.clients[STAFF].get(reverse("alerts:health")))


def test_a_as_analyst_cannot_write_to_b_alerts(world: World) -> None:
    client = world.clients[ANALYST_A]
    b_alert = world.objects["B"]["alert"]
    update = client.post(
        reverse("alerts:update", args=[b_alert.pk]),
        {"status": "Resolved", "seen_last_update": b_alert.last_updated_at.isoformat()},
    )
    assert update.status_code == 404
    bulk = client.post(reverse("alerts:bulk"), {"alert": [b_alert.pk], "status": "Resolved"})
    assert bulk.status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="alert.").exists()
    b_alert.refresh_from_db()
    assert b_alert.status == "New"


def test_a_as_analyst_cannot_write_to_b_incidents(world: World) -> None:
    client = world.clients[ANALYST_A]
    b_incident = world.objects["B"]["incident"]
    update = client.post(
        reverse("alerts:incident_update", args=[b_incident.pk]),
        {"status": "Resolved", "seen_last_update": ""},
    )
    assert update.status_code == 404
    bulk = client.post(
        reverse("alerts:incident_bulk"), {"ids": [b_incident.pk], "status": "Resolved"}
    )
    assert bulk.status_code == 404
    assert not AuditEvent.objects.filter(action__startswith="incident.").exists()
    b_incident.refresh_from_db()
    assert b_incident.status == "Active"


def test_every_url_is_in_the_table_or_follows_its_declared_policy() -> None:
    """Lists URLs that only the policy fallback covers, so that they get an explicit row."""
    for route in all_routes():
        if route.name not in EXPECTED:
            assert _policy(route), f"{route.name} declares no access policy"
