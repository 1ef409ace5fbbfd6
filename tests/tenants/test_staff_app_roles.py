"""App roles (the ID token's ``roles`` claim) give portal roles only while the ID token
that carried them is valid: against the sandbox's partner tenant, with unmodified MSAL,
a person whose access comes from an app role alone is sent to sign in with Microsoft
again once it expires and gets it back from the new token; a person who also has groups
keeps what the groups give. The clock is moved through the session's mark (its
``app_roles_until``), never by waiting."""

from __future__ import annotations

import html
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from partner_portal.core.access import Role, user_roles
from partner_portal.defender import MembershipUnknown
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft, staff_directory
from tenants.models import AuditEvent, StaffIdentity
from tenants.staff_membership import APP_ROLES_EXPIRED, SIGN_IN_AGAIN_WORDS
from tenants.staff_roles import parse_group_map
from tenants.staff_signin import SESSION_KEY
from tests.fixtures.sandbox import sandbox_fixture
from tests.tenants.test_staff_signin import _actions, _at_microsoft, _group, _partner, _upn

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]

START = "/accounts/microsoft/"
# The sandbox's ID tokens live an hour, as Microsoft's do by default.
TOKEN_SECONDS = 3600

app_roles_sandbox = sandbox_fixture("staff-app-roles", tenants=1, consented=1, alerts_per_tenant=1)


@pytest.fixture
def sb(app_roles_sandbox: SandboxProcess, settings: Any) -> Iterator[SandboxProcess]:
    """Staff sign in at the sandbox's partner tenant; the SOC group and the app role
    ``Portal.Analyst`` give the analyst role, the app role ``Portal.Admin`` the admin one.
    Graph is asked at every request."""
    partner = _partner(app_roles_sandbox)
    settings.PARTNER_APP_CLIENT_ID = ""
    settings.SANDBOX_CONFIG_FILE = str(Path(app_roles_sandbox.state_dir) / "sandbox.json")
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"
    settings.STAFF_SIGNIN_TENANT_ID = partner["tenant_id"]
    settings.STAFF_SIGNIN_GROUPS = (
        f"{_group(partner, 'SOC analysts')}=Analysts|SOC team, "
        "Portal.Analyst=Analysts|SOC team, Portal.Admin=Portal admins"
    )
    settings.STAFF_SIGNIN_RECHECK_SECONDS = 0
    settings.STAFF_SIGNIN_OFFLINE_GRACE_SECONDS = 300
    microsoft.reset_for_tests()
    yield app_roles_sandbox
    microsoft.reset_for_tests()


@pytest.fixture
def assign(sb: SandboxProcess) -> Iterator[Any]:
    """``assign(first name, app role)``: an app role assignment in the sandbox's partner
    tenant, taken away again after the test."""
    made: list[str] = []
    partner = _partner(sb)

    def add(first: str, value: str) -> str:
        upn = _upn(partner, first)
        path = f"/_sandbox/tenants/{partner['tenant_id']}/users/{upn}/app-roles/{value}"
        sb.control("PUT", path).raise_for_status()
        made.append(path)
        return upn

    yield add
    for path in made:
        sb.control("DELETE", path).raise_for_status()


def _sign_in(client: Client, sb: SandboxProcess, upn: str, next_url: str = "/") -> Any:
    start = client.get(START, {"next": next_url})
    assert start.status_code == 302, start.content[-300:]
    return client.get(_at_microsoft(sb, start["Location"], upn))


def _mark(client: Client) -> dict[str, Any]:
    mark: dict[str, Any] = client.session[SESSION_KEY]
    return mark


def _expire_app_roles(client: Client, *, by: float = 1.0) -> None:
    """Move the clock past the app roles' ID token: its expiry ``by`` seconds ago."""
    session = client.session
    session[SESSION_KEY] = {**session[SESSION_KEY], "app_roles_until": time.time() - by}
    session.save()


def _roles(upn: str) -> frozenset[Role]:
    """The portal roles of ``upn``'s account as the database has them now."""
    return frozenset(user_roles(StaffIdentity.objects.get(user__username=upn).user))


def _expiry() -> AuditEvent:
    return AuditEvent.objects.get(action=APP_ROLES_EXPIRED)


def test_an_app_role_alone_holds_until_its_token_expires_then_a_new_sign_in_renews_it(
    sb: SandboxProcess, assign: Any
) -> None:
    robin = assign("robin", "Portal.Analyst")  # in no group: the app role is all they have
    client = Client()
    before = time.time()
    answer = _sign_in(client, sb, robin, next_url="/alerts/")
    assert answer.status_code == 302 and answer["Location"] == "/alerts/"
    assert _roles(robin) == {Role.ANALYST}
    mark = _mark(client)
    assert mark["app_roles"] == ["Portal.Analyst"] and mark["groups"] == []
    # Held until the ID token's exp: about an hour from the sign-in.
    assert before + TOKEN_SECONDS - 60 < mark["app_roles_until"] <= time.time() + TOKEN_SECONDS

    # Before the expiry every request (Graph asked each time, finding no group) opens.
    for _ in range(2):
        assert client.get("/alerts/").status_code == 200
    _expire_app_roles(client, by=-30)  # thirty seconds left
    assert client.get("/alerts/").status_code == 200
    assert APP_ROLES_EXPIRED not in _actions()

    # Past it: signed out, sent to sign in with Microsoft again, back to this page.
    _expire_app_roles(client)
    answer = client.get("/alerts/", {"status": "all"})
    assert answer.status_code == 302
    target = urlsplit(answer["Location"])
    assert target.path == START
    assert parse_qs(target.query)["next"] == ["/alerts/?status=all"]
    assert "_auth_user_id" not in client.session
    assert _roles(robin) == frozenset()
    assert _actions()[-2:] == ["person.roles_changed", APP_ROLES_EXPIRED]
    event = _expiry()
    assert event.details["app_roles"] == ["Portal.Analyst"] and event.details["signed_out"]
    assert event.details["roles_after"] == [] and "sent to sign in again" in event.summary

    # The new sign-in (Entra's single sign-on, here the sandbox's page) renews the role.
    start = client.get(answer["Location"])
    assert start.status_code == 302
    back = client.get(_at_microsoft(sb, start["Location"], robin))
    assert back.status_code == 302 and back["Location"] == "/alerts/?status=all"
    assert _roles(robin) == {Role.ANALYST}
    assert _mark(client)["app_roles_until"] > time.time() + TOKEN_SECONDS - 60
    page = client.get(back["Location"])
    assert page.status_code == 200
    assert html.escape(SIGN_IN_AGAIN_WORDS) in page.content.decode()  # said why, once
    assert html.escape(SIGN_IN_AGAIN_WORDS) not in client.get("/alerts/").content.decode()
    assert _actions()[-1] == "staff.signed_in"


def test_a_new_sign_in_after_the_app_role_was_taken_away_is_refused_in_words(
    sb: SandboxProcess, assign: Any
) -> None:
    robin = assign("robin", "Portal.Analyst")
    client = Client()
    _sign_in(client, sb, robin)
    partner = _partner(sb)
    path = f"/_sandbox/tenants/{partner['tenant_id']}/users/{robin}/app-roles/Portal.Analyst"
    sb.control("DELETE", path).raise_for_status()  # taken away in Entra
    # Still Microsoft's word until the token expires (nothing can ask Graph for it) ...
    assert client.get("/alerts/").status_code == 200
    _expire_app_roles(client)
    answer = client.get("/alerts/")
    assert answer.status_code == 302 and urlsplit(answer["Location"]).path == START
    # ... and the sign-in it leads to says there is no access any more.
    start = client.get(answer["Location"])
    refused = client.get(_at_microsoft(sb, start["Location"], robin))
    page = refused.content.decode()
    assert refused.status_code == 403 and 'data-reason="no_role"' in page
    assert "holds no app role that does" in page
    assert client.get("/alerts/").status_code == 302  # not signed in
    assert _actions()[-1] == "staff.sign_in_refused"


def test_groups_outlast_the_app_roles(sb: SandboxProcess, assign: Any) -> None:
    lee = assign("lee", "Portal.Admin")  # in the SOC group too
    client = Client()
    _sign_in(client, sb, lee)
    assert _roles(lee) == frozenset(Role)  # an admin holds every role
    assert client.get("/people/").status_code == 200

    _expire_app_roles(client)
    assert client.get("/people/").status_code == 403  # no longer an admin ...
    assert client.get("/alerts/").status_code == 200  # ... still an analyst, still signed in
    assert _roles(lee) == {Role.ANALYST}
    assert _actions()[-2:] == ["person.roles_changed", APP_ROLES_EXPIRED]
    event = _expiry()
    assert not event.details["signed_out"] and event.details["roles_after"] == ["Analysts"]
    assert "continues with what their groups give" in event.summary
    assert _mark(client)["app_roles"] == []
    roles_changed = AuditEvent.objects.filter(action="person.roles_changed").latest("id")
    assert roles_changed.details["roles_after"] == ["Analysts"]

    # Signing in again gives the admin role back.
    _sign_in(client, sb, lee)
    assert _roles(lee) == frozenset(Role)  # an admin holds every role


def test_while_graph_cannot_answer_expired_app_roles_still_end(
    sb: SandboxProcess, assign: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The groups last confirmed stand in for Graph within the grace; with none that
    gives a role the person signs in again (which needs no Graph), never a 503 or 500."""
    lee, robin = assign("lee", "Portal.Admin"), assign("robin", "Portal.Analyst")
    lee_client, robin_client = Client(), Client()
    _sign_in(lee_client, sb, lee)
    _sign_in(robin_client, sb, robin)

    def unreachable(*args: Any, **kwargs: Any) -> frozenset[str]:
        raise MembershipUnknown("Graph unreachable: ConnectionError")

    monkeypatch.setattr(staff_directory, "staff_member_groups", unreachable)
    _expire_app_roles(lee_client)
    _expire_app_roles(robin_client)
    assert lee_client.get("/alerts/").status_code == 200
    assert lee_client.get("/people/").status_code == 403
    assert _roles(lee) == {Role.ANALYST}

    # After a form, back to the page the form was on.
    answer = robin_client.post("/alerts/", HTTP_REFERER="http://testserver/alerts/?q=x")
    assert answer.status_code == 302
    assert parse_qs(urlsplit(answer["Location"]).query)["next"] == ["/alerts/?q=x"]
    assert "_auth_user_id" not in robin_client.session


def test_a_session_from_before_the_expiry_was_kept_counts_as_expired(
    sb: SandboxProcess, assign: Any
) -> None:
    client = Client()
    _sign_in(client, sb, assign("robin", "Portal.Analyst"))
    session = client.session
    session[SESSION_KEY] = {k: v for k, v in session[SESSION_KEY].items() if k != "app_roles_until"}
    session.save()
    answer = client.get("/alerts/")
    assert answer.status_code == 302 and urlsplit(answer["Location"]).path == START


def test_the_demo_maps_the_sandbox_apps_roles_too(sb: SandboxProcess, settings: Any) -> None:
    """Without STAFF_SIGNIN_TENANT_ID the demo signs staff in at the sandbox's partner
    tenant, mapping its groups and the app's roles as ``sandbox.json`` describes them."""
    settings.STAFF_SIGNIN_TENANT_ID = ""
    microsoft.reset_for_tests()
    directory = staff_directory.staff_directory()
    assert directory is not None
    mapping = parse_group_map(directory.groups)
    assert mapping["portal.analyst"].roles == {Role.ANALYST}
    assert mapping["portal.analyst"].teams == {"SOC analysts"}
    assert mapping["portal.admin"].roles == {Role.ADMIN}
    assert mapping[_group(_partner(sb), "SOC analysts")].roles == {Role.ANALYST}
