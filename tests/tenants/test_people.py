"""People in the portal: portal admins add staff, set roles, teams and customer scopes,
deactivate and reactivate them on the People pages, and the audit log says who did what
to whom."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client

from partner_portal.core.access import Role
from tenants.models import AnalystScope, AuditEvent, StaffIdentity
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.factories import TEST_PASSWORD, GroupFactory, UserFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

STRONG = "violet-harbour-quilt-73"


@pytest.fixture
def boss() -> User:
    return UserFactory(username="boss", roles=[Role.ADMIN])


@pytest.fixture
def boss_client(boss: User) -> Client:
    client = Client()
    client.force_login(boss)
    return client


def _new_person(client: Client, **fields: Any) -> Any:
    data = {
        "username": "dana",
        "first_name": "Dana",
        "last_name": "Scully",
        "email": "dana@partner.example",
        "roles": [Role.ANALYST.value],
        "password_by": "set",
        "password1": STRONG,
        "password2": STRONG,
        **fields,
    }
    return client.post("/people/new/", data)


def _events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# --- adding people -------------------------------------------------------------------------------
def test_an_admin_adds_an_analyst_with_a_password_who_can_then_sign_in(
    boss_client: Client,
) -> None:
    team = GroupFactory(name="Night shift")
    response = _new_person(boss_client, teams=[team.pk])
    dana = User.objects.get(username="dana")
    assert response.status_code == 302 and response["Location"] == f"/people/{dana.pk}/"
    assert {g.name for g in dana.groups.all()} == {Role.ANALYST.value, "Night shift"}
    assert dana.get_full_name() == "Dana Scully"
    assert Client().login(username="dana", password=STRONG)
    (event,) = _events("person.created")
    assert event.actor_label == "boss" and event.customer is None
    assert event.summary == "boss added dana (Dana Scully) with roles Analysts"
    assert event.details["username"] == "dana" and event.details["teams"] == ["Night shift"]
    assert STRONG not in str(event.details) and STRONG not in event.summary


def test_an_invited_person_chooses_a_password_with_a_link_that_works_once(
    boss_client: Client,
) -> None:
    response = _new_person(boss_client, password_by="link", password1="", password2="")
    assert response.status_code == 200
    page = response.content.decode()
    link = re.search(r'id="set-password-link" value="([^"]+)"', page)
    assert link, page
    url = link.group(1)
    assert "The link was sent to dana@partner.example" in page
    (message,) = mail.outbox
    assert message.to == ["dana@partner.example"] and url in message.body
    dana = User.objects.get(username="dana")
    assert not dana.has_usable_password()
    (created,) = _events("person.created")
    assert "set-password link" in created.summary and url not in str(created.details)

    invitee = Client()
    path = urlsplit(url).path
    # The first visit takes the token out of the address (Django's password-reset view).
    form_page = invitee.get(path, follow=True)
    assert b'id="set-password"' in form_page.content
    assert form_page.redirect_chain[-1][0].endswith("/set-password/")
    done = invitee.post(
        form_page.redirect_chain[-1][0], {"new_password1": STRONG, "new_password2": STRONG}
    )
    assert done.status_code == 302 and done["Location"] == "/accounts/login/"
    assert Client().login(username="dana", password=STRONG)
    assert _events("account.password_changed")[0].actor_label == "dana"
    again = Client().get(path, follow=True)
    assert b"This link no longer works" in again.content


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"username": "boss"}, "That user name is taken."),
        ({"username": "BOSS"}, "That user name is taken."),
        ({"username": "dana smith"}, "Enter a valid username"),
        ({"password1": "password", "password2": "password"}, "This password is too common"),
        ({"password2": "something-else-entirely"}, "The two passwords differ."),
        (
            {"password_by": "link", "email": "", "password1": ""},
            "A link is sent by e-mail: enter their address.",
        ),
        ({"roles": ["Root"]}, "Select a valid choice"),
    ],
)
def test_a_person_the_rules_refuse_is_not_added_and_the_form_says_why(
    boss_client: Client, fields: dict[str, Any], words: str
) -> None:
    response = _new_person(boss_client, **fields)
    assert response.status_code == 400
    assert words in response.content.decode().replace("&#x27;", "'")
    assert not User.objects.filter(username__in=["dana", "dana smith"]).exists()
    assert not _events("person.created")


# --- roles, teams and details ------------------------------------------------------------
def test_a_role_change_is_audited_with_before_and_after(boss_client: Client) -> None:
    mulder = UserFactory(username="mulder", roles=[Role.ANALYST])
    response = boss_client.post(
        f"/people/{mulder.pk}/",
        {
            "first_name": "Fox",
            "last_name": "",
            "email": mulder.email,
            "roles": [Role.ANALYST.value, Role.ONBOARDING.value],
        },
    )
    assert response.status_code == 302
    assert {g.name for g in mulder.groups.all()} == {Role.ANALYST.value, Role.ONBOARDING.value}
    (roles,) = _events("person.roles_changed")
    assert roles.summary == (
        "boss changed mulder's roles from Analysts to Analysts, Onboarding staff"
    )
    assert roles.details["roles_before"] == ["Analysts"]
    assert roles.details["roles_after"] == ["Analysts", "Onboarding staff"]
    (details,) = _events("person.details_changed")
    assert details.summary == "boss changed mulder's first name"
    history = boss_client.get(f"/people/{mulder.pk}/").content.decode()
    assert "boss changed mulder&#x27;s roles from Analysts" in history


def test_a_role_taken_away_takes_the_pages_away(boss_client: Client) -> None:
    mulder = UserFactory(username="mulder", roles=[Role.ONBOARDING])
    client = Client()
    client.force_login(mulder)
    assert client.get("/customers/").status_code == 200
    boss_client.post(f"/people/{mulder.pk}/", {"email": mulder.email, "roles": []})
    assert client.get("/customers/").status_code == 403


def test_an_admin_cannot_demote_themselves_but_another_admin_can(
    boss: User, boss_client: Client
) -> None:
    response = boss_client.post(f"/people/{boss.pk}/", {"email": boss.email, "roles": []})
    assert response.status_code == 400
    assert "You cannot take the portal admin role from yourself." in response.content.decode()
    assert boss.groups.filter(name=Role.ADMIN.value).exists()
    second = Client()
    second.force_login(UserFactory(username="second", roles=[Role.ADMIN]))
    assert second.post(f"/people/{boss.pk}/", {"email": boss.email}).status_code == 302
    assert not boss.groups.filter(name=Role.ADMIN.value).exists()
    assert _events("person.roles_changed")[0].summary == (
        "second changed boss's roles from Portal admins to none"
    )


def test_a_portal_admin_does_not_change_a_superuser(boss_client: Client) -> None:
    root = UserFactory(username="root", is_superuser=True)
    response = boss_client.post(f"/people/{root.pk}/deactivate/", follow=True)
    assert "only a superuser changes them" in response.content.decode()
    root.refresh_from_db()
    assert root.is_active


# --- deactivating -------------------------------------------------------------------------------
def test_a_deactivated_person_is_signed_out_at_the_next_request_and_can_come_back(
    boss_client: Client,
) -> None:
    mulder = UserFactory(username="mulder", roles=[Role.ANALYST])
    session = Client()
    session.force_login(mulder)
    assert session.get("/alerts/").status_code == 200
    response = boss_client.post(f"/people/{mulder.pk}/deactivate/")
    assert response.status_code == 302
    assert session.get("/alerts/").status_code == 302  # to the sign-in page
    assert not Client().login(username="mulder", password=TEST_PASSWORD)
    (event,) = _events("person.deactivated")
    assert event.summary == "boss deactivated mulder" and event.actor_label == "boss"

    boss_client.post(f"/people/{mulder.pk}/reactivate/")
    assert Client().login(username="mulder", password=TEST_PASSWORD)
    assert _events("person.reactivated")[0].summary == "boss reactivated mulder"


def test_an_admin_cannot_deactivate_themselves(boss: User, boss_client: Client) -> None:
    response = boss_client.post(f"/people/{boss.pk}/deactivate/", follow=True)
    assert "You cannot deactivate your own account." in response.content.decode()
    boss.refresh_from_db()
    assert boss.is_active


def test_a_fresh_set_password_link_is_mailed_and_audited_without_the_link(
    boss_client: Client,
) -> None:
    mulder = UserFactory(username="mulder", roles=[Role.ANALYST])
    response = boss_client.post(f"/people/{mulder.pk}/password-link/")
    assert response.status_code == 200 and "Cache-Control" in response
    (message,) = mail.outbox
    url = re.search(r"https?://\S+", message.body)
    assert url and url.group(0) in response.content.decode()
    (event,) = _events("person.password_link_sent")
    assert event.summary == "boss made a set-password link for mulder and mailed it"
    assert url.group(0) not in str(event.details)


# --- customer scopes ----------------------------------------------------------------------------
def test_scopes_granted_and_revoked_on_the_person_page_decide_what_they_see(
    boss_client: Client,
) -> None:
    mulder = UserFactory(username="mulder", roles=[Role.ANALYST])
    customer = CustomerFactory(display_name="Contoso")
    alert = AlertFactory(customer=customer)
    session = Client()
    session.force_login(mulder)
    assert session.get(f"/alerts/{alert.pk}/").status_code == 404
    boss_client.post(f"/people/{mulder.pk}/scopes/", {"customer": customer.pk})
    scope = AnalystScope.objects.get(user=mulder, customer=customer)
    assert session.get(f"/alerts/{alert.pk}/").status_code == 200
    assert AuditEvent.objects.get(action="scope.granted").summary == (
        "Granted user mulder access to Contoso"
    )
    page = boss_client.get(f"/people/{mulder.pk}/").content.decode()
    assert "Contoso" in page and f"/people/{mulder.pk}/scopes/{scope.pk}/revoke/" in page
    boss_client.post(f"/people/{mulder.pk}/scopes/{scope.pk}/revoke/")
    assert session.get(f"/alerts/{alert.pk}/").status_code == 404
    assert AuditEvent.objects.filter(action="scope.revoked").count() == 1


def test_a_scope_is_revoked_only_through_its_own_person(boss_client: Client) -> None:
    mulder = UserFactory(username="mulder", roles=[Role.ANALYST])
    scully = UserFactory(username="scully", roles=[Role.ANALYST])
    scope = AnalystScopeFactory(user=scully, customer=CustomerFactory())
    assert boss_client.post(f"/people/{mulder.pk}/scopes/{scope.pk}/revoke/").status_code == 404
    assert AnalystScope.objects.filter(pk=scope.pk).exists()


def test_a_scope_grant_without_a_customer_says_so(boss_client: Client) -> None:
    mulder = UserFactory(username="mulder", roles=[Role.ANALYST])
    response = boss_client.post(f"/people/{mulder.pk}/scopes/", {}, follow=True)
    assert "Choose either one customer or “All customers”." in response.content.decode()
    assert not AnalystScope.objects.exists()


# --- the lists ------------------------------------------------------------------------------------
def test_the_people_list_filters_by_status_role_and_text(boss_client: Client) -> None:
    UserFactory(username="mulder", first_name="Fox", roles=[Role.ANALYST])
    gone = UserFactory(username="krycek", roles=[Role.ONBOARDING])
    gone.is_active = False
    gone.save(update_fields=["is_active"])

    def names(query: str) -> set[str]:
        page = boss_client.get("/people/?" + query).content.decode()
        return set(re.findall(r'data-person="([^"]+)"', page))

    assert names("") == {"boss", "mulder", "krycek"}
    assert names("status=inactive") == {"krycek"}
    assert names("role=Analysts") == {"mulder"}
    assert names("q=fox") == {"mulder"}
    assert "Select a valid choice" in boss_client.get("/people/?role=Root").content.decode()


def test_the_scopes_page_lists_the_people_and_groups_that_exist(boss_client: Client) -> None:
    UserFactory(username="mulder", roles=[Role.ANALYST])
    UserFactory(username="onboarder", roles=[Role.ONBOARDING])
    team = GroupFactory(name="Night shift")
    User.objects.get(username="mulder").groups.add(team)
    page = boss_client.get("/scopes/").content.decode()
    assert "— no person: grant to the group below —" in page
    assert "— no group: grant to the person above —" in page
    assert "— choose a customer —" in page
    assert ">mulder</option>" in page
    assert "onboarder — not an analyst yet" in page
    assert "boss — portal admin, sees every customer anyway" in page
    assert "Night shift (team, 1 member)" in page
    assert "Analysts (role, 1 member)" in page


def test_an_admin_resets_a_lost_authenticator_and_it_is_audited(boss_client: Client) -> None:
    from django_otp.plugins.otp_totp.models import TOTPDevice

    mulder = UserFactory(username="mulder", roles=[Role.ANALYST])
    TOTPDevice.objects.create(user=mulder, name="phone", confirmed=True)
    page = boss_client.get(f"/people/{mulder.pk}/").content.decode()
    assert "on (authenticator app)" in page
    boss_client.post(f"/people/{mulder.pk}/two-factor-reset/")
    assert not TOTPDevice.objects.filter(user=mulder).exists()
    (event,) = _events("person.second_factor_reset")
    assert event.summary == "boss reset mulder's two-step sign-in"
    client = Client()
    assert client.login(username="mulder", password=TEST_PASSWORD)
    assert client.get("/alerts/").status_code == 200  # the password alone, until set up again


# --- how they sign in ----------------------------------------------------------------------------
OBJECT_ID = "0b6f4c1e-3f1a-4d2b-9c8e-5a7d6e4f3b21"


def _row(page: str, username: str) -> str:
    found = re.search(rf'<tr data-person="{re.escape(username)}">(.*?)</tr>', page, re.S)
    assert found, page[-500:]
    return found.group(1)


def test_the_people_page_tells_microsoft_accounts_from_local_ones(boss_client: Client) -> None:
    dana = UserFactory(username="dana.reyes@contososecurity.example", roles=[Role.ANALYST])
    dana.set_unusable_password()
    dana.save()
    signed_in = dt.datetime(2026, 11, 30, 21, 5, tzinfo=dt.UTC)
    StaffIdentity.objects.create(
        user=dana,
        tenant_id="5f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f",
        object_id=OBJECT_ID,
        last_sign_in=signed_in,
    )
    UserFactory(username="mulder", roles=[Role.ANALYST])

    page = boss_client.get("/people/").content.decode()
    microsoft, local = _row(page, dana.username), _row(page, "mulder")
    assert 'data-sign-in="microsoft"' in microsoft and ">Microsoft</span>" in microsoft
    assert (
        f"<code>{OBJECT_ID}</code>" in microsoft
        and "last with Microsoft: 2026-11-30 21:05" in microsoft
    )
    assert 'data-sign-in="local"' in local and ">Local</span>" in local
    assert OBJECT_ID not in local and "Microsoft" not in local

    detail = boss_client.get(f"/people/{dana.pk}/").content.decode()
    facts = re.search(r'id="person-sign-in">(.*?)</dd>', detail, re.S)
    assert facts and OBJECT_ID in facts.group(1) and "Microsoft" in facts.group(1)
    assert "none: only Microsoft signs them in" in detail
    mulder = User.objects.get(username="mulder")
    local_facts = re.search(
        r'id="person-sign-in">(.*?)</dd>', boss_client.get(f"/people/{mulder.pk}/").content.decode()
    )
    assert local_facts and ">Local</span>" in local_facts.group(1)


def test_the_people_page_reads_the_microsoft_links_in_one_query(
    boss_client: Client, django_assert_max_num_queries: Any
) -> None:
    for n in range(12):
        user = UserFactory(username=f"staff{n:02d}", roles=[Role.ANALYST])
        if n % 2:
            StaffIdentity.objects.create(user=user, tenant_id="t", object_id=f"oid-{n}")
    boss_client.get("/people/")  # warm up: session, settings, the first-request caches
    with django_assert_max_num_queries(12):
        page = boss_client.get("/people/").content.decode()
    assert page.count('data-sign-in="microsoft"') == 6 and page.count('data-sign-in="local"') == 7
