"""Staff sign in with Microsoft against the sandbox's partner tenant, with unmodified MSAL
in the portal (this process, test client) and the sandbox's sign-in pages driven over
HTTPS: roles and scope from Entra groups, refusals in words, access ending when the
group membership does, and tampered answers refused."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
import requests
from django.test import Client

from partner_portal.core.access import Role, user_roles
from partner_portal.defender import MembershipUnknown
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft, staff_directory
from tenants.demo import CTX_INPUT
from tenants.models import AnalystScope, AuditEvent, StaffIdentity
from tenants.scoping import visible_customers
from tenants.staff_membership import REMOVED_WORDS, UNCONFIRMED_WORDS
from tests.factories import GroupFactory, UserFactory
from tests.fixtures.sandbox import sandbox_fixture
from tests.tenants.factories import CustomerFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]

CALLBACK = "/accounts/microsoft/callback/"

staff_sandbox = sandbox_fixture("staff-signin", tenants=1, consented=1, alerts_per_tenant=1)


def _partner(sb: SandboxProcess) -> dict[str, Any]:
    answer: dict[str, Any] = sb.control("GET", "/_sandbox/partner").json()
    return answer


def _upn(partner: dict[str, Any], first: str) -> str:
    return str(next(u["upn"] for u in partner["users"] if u["upn"].startswith(first + ".")))


def _group(partner: dict[str, Any], name: str) -> str:
    return str(next(g["object_id"] for g in partner["groups"] if g["display_name"] == name))


@pytest.fixture
def sb(staff_sandbox: SandboxProcess, settings: Any) -> Iterator[SandboxProcess]:
    """The portal's Microsoft is the sandbox; staff sign in at its partner tenant, the SOC
    group giving the analyst role and the team "SOC team", the admins group admin."""
    partner = _partner(staff_sandbox)
    settings.PARTNER_APP_CLIENT_ID = ""
    settings.SANDBOX_CONFIG_FILE = str(Path(staff_sandbox.state_dir) / "sandbox.json")
    settings.PUBLIC_BASE_URL = "http://127.0.0.1:8000"  # registered at the sandbox
    settings.STAFF_SIGNIN_TENANT_ID = partner["tenant_id"]
    settings.STAFF_SIGNIN_GROUPS = (
        f"{_group(partner, 'SOC analysts')}=Analysts|SOC team, "
        f"{_group(partner, 'Portal admins')}=Portal admins"
    )
    settings.STAFF_SIGNIN_RECHECK_SECONDS = 0
    microsoft.reset_for_tests()
    yield staff_sandbox
    microsoft.reset_for_tests()


def _at_microsoft(sb: SandboxProcess, url: str, upn: str, *, skip_factor: bool = False) -> str:
    """Sign in at the sandbox as ``upn`` (typed), through the second step when the request
    asked for an authentication context (its code typed, or skipped): the portal
    callback's path and query."""
    with sb.session() as browser:
        page = browser.get(url, timeout=30)
        ctx = CTX_INPUT.search(page.text)
        assert page.status_code == 200 and ctx, page.text[-300:]
        answer = browser.post(
            f"{sb.url}/common/login",
            data={"ctx": html.unescape(ctx.group(1)), "login": upn},
            allow_redirects=False,
            timeout=30,
        )
        if answer.status_code == 200 and 'id="mfa-form"' in answer.text:
            ctx = CTX_INPUT.search(answer.text)
            shown = re.search(r'id="mfa-code">(\d{6})<', answer.text)
            assert ctx and shown, answer.text[-300:]
            form = {"ctx": html.unescape(ctx.group(1)), "decision": "verify"}
            form |= {"decision": "skip"} if skip_factor else {"otc": shown.group(1)}
            answer = browser.post(
                f"{sb.url}/common/mfa", data=form, allow_redirects=False, timeout=30
            )
    back = urlsplit(answer.headers.get("Location", ""))
    assert answer.status_code == 302 and back.path == CALLBACK, answer.text[-300:]
    return f"{back.path}?{back.query}"


def _sign_in(client: Client, sb: SandboxProcess, upn: str, next_url: str = "/") -> Any:
    start = client.get("/accounts/microsoft/", {"next": next_url})
    assert start.status_code == 302, start.content[-300:]
    return client.get(_at_microsoft(sb, start["Location"], upn))


def _actions() -> list[str]:
    return list(AuditEvent.objects.order_by("created_at", "id").values_list("action", flat=True))


def test_a_soc_member_lands_as_an_analyst_seeing_the_teams_customers(sb: SandboxProcess) -> None:
    partner = _partner(sb)
    seen, unseen = CustomerFactory(), CustomerFactory()
    AnalystScope.objects.create(group=GroupFactory(name="SOC team"), customer=seen)
    client = Client()
    answer = _sign_in(client, sb, _upn(partner, "dana"), next_url="/alerts/")
    assert answer.status_code == 302 and answer["Location"] == "/alerts/"

    link = StaffIdentity.objects.get()
    user = link.user
    assert (link.tenant_id, user.username) == (partner["tenant_id"], _upn(partner, "dana"))
    assert not user.has_usable_password()
    assert user_roles(user) == {Role.ANALYST}
    assert list(visible_customers(user=user)) == [seen] and unseen not in visible_customers(
        user=user
    )
    assert client.get("/alerts/").status_code == 200
    assert client.get("/customers/").status_code == 403  # an analyst is not onboarding staff
    assert _actions() == ["person.created", "person.roles_changed", "staff.signed_in"]

    # The People page marks the account as Microsoft's, with its Entra object ID.
    admin = Client()
    admin.force_login(UserFactory(roles=[Role.ADMIN]))
    people = admin.get("/people/", {"q": "dana"}).content.decode()
    assert 'data-sign-in="microsoft"' in people and f"<code>{link.object_id}</code>" in people

    # Signing in again finds the same account (tenant and object ID), makes no other.
    _sign_in(Client(), sb, _upn(partner, "dana"))
    assert StaffIdentity.objects.count() == 1
    assert _actions()[-1] == "staff.signed_in" and _actions().count("person.created") == 1


def test_an_account_in_no_mapped_group_is_refused_in_words(sb: SandboxProcess) -> None:
    client = Client()
    answer = _sign_in(client, sb, _upn(_partner(sb), "robin"))
    assert answer.status_code == 403
    assert "none of the groups that give access" in answer.content.decode()
    assert not StaffIdentity.objects.exists()
    assert client.get("/").status_code == 302  # not signed in
    assert _actions() == ["staff.sign_in_refused"]


@contextmanager
def _signed_in_then_out_of_the_group(sb: SandboxProcess, upn: str) -> Iterator[Client]:
    """`upn` signed in and seeing the alert list, then taken out of the SOC group in the
    sandbox for the block (put back after it); yields their browser's client."""
    partner = _partner(sb)
    members = f"/_sandbox/tenants/{partner['tenant_id']}/groups/SOC analysts/members/{upn}"
    client = Client()
    _sign_in(client, sb, upn)
    assert client.get("/alerts/").status_code == 200
    sb.control("DELETE", members).raise_for_status()
    try:
        yield client
    finally:
        sb.control("PUT", members).raise_for_status()


def test_removal_from_the_group_ends_access_at_the_next_request(sb: SandboxProcess) -> None:
    lee = _upn(_partner(sb), "lee")
    with _signed_in_then_out_of_the_group(sb, lee) as client:
        answer = client.get("/alerts/")
        assert answer.status_code == 403
        assert html.escape(REMOVED_WORDS) in answer.content.decode()
        assert client.get("/alerts/").status_code == 302  # signed out: to the sign-in page
        assert _actions()[-2:] == ["person.roles_changed", "staff.access_ended"]
        assert user_roles(StaffIdentity.objects.get().user) == frozenset()
        # Signing in again is refused too, until the membership comes back.
        assert _sign_in(Client(), sb, lee).status_code == 403
    assert _sign_in(Client(), sb, lee).status_code == 302


def test_a_background_request_that_ends_access_leaves_the_reason_for_the_next_page(
    sb: SandboxProcess,
) -> None:
    """The alert list's live update is the first request after the removal: its answer is
    read by no one, so the sign-in form the person lands on next says why, once; the
    list's next request, answered signed out, does not use the reason up."""
    with _signed_in_then_out_of_the_group(sb, _upn(_partner(sb), "lee")) as client:
        answer = client.get("/alerts/live/", headers={"Sec-Fetch-Mode": "cors"})
        assert answer.status_code == 403
        assert answer.content.decode() == REMOVED_WORDS
        assert _actions()[-1] == "staff.access_ended"
        after = client.get("/alerts/live/", headers={"Sec-Fetch-Mode": "cors"})
        assert after.status_code == 401
        landed = client.get("/alerts/", follow=True)
        assert landed.redirect_chain[-1][0].startswith("/accounts/login/")
        assert html.escape(REMOVED_WORDS) in landed.content.decode()
        again = client.get("/alerts/", follow=True).content.decode()
        assert html.escape(REMOVED_WORDS) not in again  # said once


def test_a_new_admin_group_raises_the_roles_at_the_next_request(sb: SandboxProcess) -> None:
    partner = _partner(sb)
    lee = _upn(partner, "lee")
    admins = f"/_sandbox/tenants/{partner['tenant_id']}/groups/Portal admins/members/{lee}"
    client = Client()
    _sign_in(client, sb, lee)
    assert client.get("/people/").status_code == 403
    sb.control("PUT", admins).raise_for_status()
    try:
        assert client.get("/people/").status_code == 200
    finally:
        sb.control("DELETE", admins).raise_for_status()
    assert client.get("/people/").status_code == 403


def test_an_unreachable_microsoft_is_survived_for_the_grace_and_no_longer(
    sb: SandboxProcess, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client()
    _sign_in(client, sb, _upn(_partner(sb), "dana"))

    def unreachable(*args: Any, **kwargs: Any) -> frozenset[str]:
        raise MembershipUnknown("Graph unreachable: ConnectionError")

    monkeypatch.setattr(staff_directory, "staff_member_groups", unreachable)
    settings.STAFF_SIGNIN_OFFLINE_GRACE_SECONDS = 300
    assert client.get("/alerts/").status_code == 200
    settings.STAFF_SIGNIN_OFFLINE_GRACE_SECONDS = 0
    answer = client.get("/alerts/")
    assert answer.status_code == 503 and html.escape(UNCONFIRMED_WORDS) in answer.content.decode()
    monkeypatch.undo()
    assert client.get("/alerts/").status_code == 200  # Microsoft answers again


def test_next_never_leaves_the_portal(sb: SandboxProcess) -> None:
    answer = _sign_in(Client(), sb, _upn(_partner(sb), "dana"), next_url="https://evil.test/")
    assert answer.status_code == 302 and answer["Location"] == "/"


def test_an_answer_for_another_browser_or_sign_in_is_refused(sb: SandboxProcess) -> None:
    partner = _partner(sb)
    first = Client()
    start = first.get("/accounts/microsoft/")
    callback = _at_microsoft(sb, start["Location"], _upn(partner, "dana"))
    stranger = Client()
    assert stranger.get(callback).status_code == 400  # no sign-in started there
    stranger.get("/accounts/microsoft/")  # one of its own, another state
    answer = stranger.get(callback)
    assert answer.status_code == 400
    assert "does not belong to this sign-in" in answer.content.decode()
    assert not StaffIdentity.objects.exists()


# --- tampered ID tokens ---------------------------------------------------------------------
def _forge(sb: SandboxProcess, change: Callable[[dict[str, Any]], None]) -> Callable[..., Any]:
    """A response hook that rewrites the ID token of the token endpoint's answer."""
    key = (Path(sb.state_dir) / "signing-key.pem").read_text()

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if not response.url.endswith("/oauth2/v2.0/token") or response.status_code != 200:
            return response
        body = response.json()
        if "id_token" not in body:
            return response
        header = jwt.get_unverified_header(body["id_token"])
        claims = jwt.decode(body["id_token"], options={"verify_signature": False})
        change(claims)
        if claims.pop("_unsigned", False):
            # The claims as issued, the signature's last bytes changed.
            tail = "AAAAAA" if body["id_token"][-6:] != "AAAAAA" else "BBBBBB"
            token = body["id_token"][:-6] + tail
        else:
            token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": header["kid"]})
        body["id_token"] = token
        response._content = json.dumps(body).encode()
        return response

    return hook


def _customer_tenant(sb: SandboxProcess) -> str:
    return str(sb.tenants[0]["tenant_id"])


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("tid", "wrong_tenant"),
        ("aud", "token_invalid"),
        ("exp", "token_invalid"),
        ("signature", "token_invalid"),
    ],
)
def test_a_tampered_id_token_is_refused(sb: SandboxProcess, change: str, reason: str) -> None:
    customer = _customer_tenant(sb)

    def tamper(claims: dict[str, Any]) -> None:
        if change == "tid":  # a valid signature on another tenant's token
            claims["tid"] = customer
            claims["iss"] = claims["iss"].replace(claims["iss"].split("/")[-2], customer)
        elif change == "aud":
            claims["aud"] = "00000000-1111-2222-3333-444444444444"
        elif change == "exp":
            claims["exp"] = claims["iat"] - 3600
        else:
            claims["_unsigned"] = True

    directory = staff_directory.staff_directory()
    assert directory is not None
    session = microsoft.api_session(directory.app)
    hook = _forge(sb, tamper)
    session.hooks["response"].append(hook)
    try:
        answer = _sign_in(Client(), sb, _upn(_partner(sb), "dana"))
    finally:
        session.hooks["response"].remove(hook)
    assert answer.status_code in {400, 403}
    assert f'data-reason="{reason}"' in answer.content.decode()
    assert not StaffIdentity.objects.exists()


# --- authentication context (a second factor, by the partner's Conditional Access) ---------
NEEDS_CONTEXT = "meets your organisation"


def _refusal_details() -> dict[str, Any]:
    event = AuditEvent.objects.filter(action="staff.sign_in_refused").get()
    details: dict[str, Any] = event.details
    return details


def test_the_authorization_request_asks_for_the_authentication_context(
    sb: SandboxProcess, settings: Any
) -> None:
    plain = Client().get("/accounts/microsoft/")
    assert "claims" not in parse_qs(urlsplit(plain["Location"]).query)
    settings.STAFF_SIGNIN_AUTH_CONTEXT = "c1"
    start = Client().get("/accounts/microsoft/")
    claims = parse_qs(urlsplit(start["Location"]).query)["claims"]
    assert [json.loads(c) for c in claims] == [
        {"id_token": {"acrs": {"essential": True, "value": "c1"}}}
    ]


def test_a_sign_in_through_the_second_factor_is_admitted_and_recorded(
    sb: SandboxProcess, settings: Any
) -> None:
    settings.STAFF_SIGNIN_AUTH_CONTEXT = "c1"
    client = Client()
    answer = _sign_in(client, sb, _upn(_partner(sb), "dana"))
    assert answer.status_code == 302 and client.get("/alerts/").status_code == 200
    event = AuditEvent.objects.get(action="staff.signed_in")
    assert event.details["auth_contexts"] == ["c1"] and "context c1" in event.summary


def test_a_skipped_second_factor_signs_nobody_in(sb: SandboxProcess, settings: Any) -> None:
    settings.STAFF_SIGNIN_AUTH_CONTEXT = "c1"
    dana = _upn(_partner(sb), "dana")
    client = Client()
    start = client.get("/accounts/microsoft/")
    answer = client.get(_at_microsoft(sb, start["Location"], dana, skip_factor=True))
    page = answer.content.decode()
    assert answer.status_code == 403 and 'data-reason="second_factor_failed"' in page
    assert "the second factor your organisation asks for was not completed" in page
    assert not StaffIdentity.objects.exists() and "_auth_user_id" not in client.session
    # Someone with no second factor at all cannot meet the policy either.
    lee = _sign_in(Client(), sb, _upn(_partner(sb), "lee"))
    assert lee.status_code == 403 and 'data-reason="second_factor_failed"' in lee.content.decode()
    assert not StaffIdentity.objects.exists()
    refusals = AuditEvent.objects.filter(action="staff.sign_in_refused").order_by("pk")
    assert [e.details["error"] for e in refusals] == ["access_denied", "interaction_required"]


@pytest.mark.parametrize(
    ("acrs", "admitted"),
    [(None, False), (["c2"], False), ("c2", False), ("c1", True), (["c3", "c1"], True)],
    ids=["no-acrs", "another-context", "another-as-string", "as-string", "among-others"],
)
def test_the_id_tokens_acrs_must_name_the_context(
    sb: SandboxProcess, settings: Any, acrs: Any, admitted: bool
) -> None:
    """The sandbox's token, re-signed with its key, with ``acrs`` as Microsoft might send
    it (a list, or one string) or without it."""
    settings.STAFF_SIGNIN_AUTH_CONTEXT = "c1"

    def change(claims: dict[str, Any]) -> None:
        claims.pop("acrs", None)
        if acrs is not None:
            claims["acrs"] = acrs

    directory = staff_directory.staff_directory()
    assert directory is not None
    session = microsoft.api_session(directory.app)
    hook = _forge(sb, change)
    session.hooks["response"].append(hook)
    client = Client()
    try:
        answer = _sign_in(client, sb, _upn(_partner(sb), "dana"))
    finally:
        session.hooks["response"].remove(hook)
    if admitted:
        assert answer.status_code == 302 and client.get("/alerts/").status_code == 200
        return
    assert answer.status_code == 403
    page = answer.content.decode()
    assert 'data-reason="no_auth_context"' in page and NEEDS_CONTEXT in page
    assert not StaffIdentity.objects.exists() and "_auth_user_id" not in client.session
    details = _refusal_details()
    assert details["reason"] == "no_auth_context" and details["auth_context_required"] == "c1"
    assert details["auth_contexts"] == ([] if acrs is None else ["c2"])


def test_a_sign_in_started_before_the_context_was_required_is_refused(
    sb: SandboxProcess, settings: Any
) -> None:
    """Asked without the context, the sandbox names none; required by the time the answer
    comes back, it is refused."""
    client = Client()
    start = client.get("/accounts/microsoft/")
    callback = _at_microsoft(sb, start["Location"], _upn(_partner(sb), "dana"))
    settings.STAFF_SIGNIN_AUTH_CONTEXT = "c1"
    answer = client.get(callback)
    assert answer.status_code == 403 and NEEDS_CONTEXT in answer.content.decode()
    assert _refusal_details()["auth_contexts"] == []


def test_the_sign_in_page_offers_microsoft_only_when_configured(
    sb: SandboxProcess, settings: Any
) -> None:
    assert 'id="sign-in-microsoft"' in Client().get("/accounts/login/").content.decode()
    settings.STAFF_SIGNIN_TENANT_ID = ""
    settings.PARTNER_APP_CLIENT_ID = "11111111-aaaa-bbbb-cccc-222222222222"
    assert 'id="sign-in-microsoft"' not in Client().get("/accounts/login/").content.decode()
    assert Client().get("/accounts/microsoft/").status_code == 404


def test_a_local_account_of_the_same_name_is_never_taken_over(sb: SandboxProcess) -> None:
    upn = _upn(_partner(sb), "dana")
    local = UserFactory(username=upn, roles=[Role.ADMIN])
    _sign_in(Client(), sb, upn)
    link = StaffIdentity.objects.get()
    assert link.user != local and link.user.username.startswith(upn + "~")
    assert user_roles(local) == frozenset(Role)


def test_a_password_never_opens_an_account_microsoft_signs_in(sb: SandboxProcess) -> None:
    _sign_in(Client(), sb, _upn(_partner(sb), "dana"))
    user = StaffIdentity.objects.get().user
    user.set_password("a-password-set-later-by-a-link")
    user.save()
    client = Client()
    client.post(
        "/accounts/login/",
        {"username": user.username, "password": "a-password-set-later-by-a-link"},
    )
    assert "_auth_user_id" not in client.session


def test_the_portals_own_second_step_is_not_asked_of_a_microsoft_sign_in(
    sb: SandboxProcess, settings: Any
) -> None:
    settings.REQUIRE_SECOND_FACTOR = True
    client = Client()
    _sign_in(client, sb, _upn(_partner(sb), "dana"))
    assert client.get("/alerts/").status_code == 200
