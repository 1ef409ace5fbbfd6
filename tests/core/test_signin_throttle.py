"""Failed sign-ins pause further ones, per account and address and per address, and
the pause ends by itself; nobody elsewhere is locked out."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from django.core.cache import cache
from django.test import Client, override_settings

from partner_portal.core import signin_throttle
from partner_portal.core.access import Role
from partner_portal.core.signin_throttle import ACCOUNT, ADDRESS, SignInThrottle
from tenants.models import AuditEvent
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ATTACKER = "198.51.100.7"
ELSEWHERE = "203.0.113.9"
WRONG = "not-the-password-at-all"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    cache.clear()
    fake = FakeClock()
    monkeypatch.setattr(signin_throttle, "clock", fake)
    yield fake
    cache.clear()


def sign_in(username: str, password: str, address: str) -> tuple[int, str, bool]:
    """Status, page and whether the sign-in took, for one attempt from `address`."""
    client = Client(REMOTE_ADDR=address)
    response = client.post("/accounts/login/", {"username": username, "password": password})
    signed_in = "_auth_user_id" in client.session
    return response.status_code, response.content.decode(), signed_in


def test_thirty_wrong_passwords_pause_the_account_and_then_refuse_the_right_one() -> None:
    UserFactory(username="victim", roles=[Role.ANALYST])
    statuses = [sign_in("victim", WRONG, ATTACKER)[0] for _ in range(30)]
    # Four plain refusals; the fifth failure starts the pause and says so at once.
    assert statuses[:4] == [200] * 4
    assert statuses[4:] == [429] * 26

    status, page, signed_in = sign_in("victim", TEST_PASSWORD, ATTACKER)
    assert (status, signed_in) == (429, False)
    assert "Too many failed sign-ins" in page
    assert "paused until" in page and "UTC (in about 15 minutes)" in page


def test_the_same_account_and_other_users_sign_in_from_elsewhere() -> None:
    UserFactory(username="victim", roles=[Role.ANALYST])
    UserFactory(username="colleague", roles=[Role.ANALYST])
    for _ in range(30):
        sign_in("victim", WRONG, ATTACKER)
    assert sign_in("victim", TEST_PASSWORD, ATTACKER)[2] is False

    assert sign_in("colleague", TEST_PASSWORD, ELSEWHERE)[2] is True
    # The person whose name was guessed is not locked out at their own desk.
    assert sign_in("victim", TEST_PASSWORD, ELSEWHERE)[2] is True


def test_another_account_from_the_same_address_signs_in_within_the_address_limit() -> None:
    UserFactory(username="victim")
    UserFactory(username="neighbour")
    for _ in range(30):
        sign_in("victim", WRONG, ATTACKER)
    status, _, signed_in = sign_in("neighbour", TEST_PASSWORD, ATTACKER)
    assert (status, signed_in) == (302, True)


@override_settings(SIGNIN_ADDRESS_FAILURES=8)
def test_an_address_trying_many_accounts_is_paused_for_all_of_them() -> None:
    UserFactory(username="last")
    for n in range(8):
        sign_in(f"guess{n}", WRONG, ATTACKER)  # one failure each: no account limit reached
    status, page, signed_in = sign_in("last", TEST_PASSWORD, ATTACKER)
    assert (status, signed_in) == (429, False)
    assert "from your address" in page
    assert sign_in("last", TEST_PASSWORD, ELSEWHERE)[2] is True


def test_the_pause_ends_by_itself_after_the_cool_off(clock: FakeClock) -> None:
    UserFactory(username="victim")
    for _ in range(5):
        sign_in("victim", WRONG, ATTACKER)
    clock.now += 899
    assert sign_in("victim", TEST_PASSWORD, ATTACKER)[0] == 429
    clock.now += 2
    status, _, signed_in = sign_in("victim", TEST_PASSWORD, ATTACKER)
    assert (status, signed_in) == (302, True)


def test_a_right_password_forgives_earlier_failures() -> None:
    UserFactory(username="typo")
    for _ in range(4):
        sign_in("typo", WRONG, ATTACKER)
    assert sign_in("typo", TEST_PASSWORD, ATTACKER)[2] is True
    for _ in range(4):
        assert sign_in("typo", WRONG, ATTACKER)[0] == 200
    assert sign_in("typo", TEST_PASSWORD, ATTACKER)[2] is True


def test_names_differing_in_case_share_one_count() -> None:
    UserFactory(username="victim")
    for name in ("victim", "Victim", "VICTIM", "vIctim", " victim"):
        sign_in(name, WRONG, ATTACKER)
    assert sign_in("victim", TEST_PASSWORD, ATTACKER)[0] == 429


def test_the_admin_sign_in_is_paused_too() -> None:
    UserFactory(username="boss", is_staff=True, is_superuser=True)
    client = Client(REMOTE_ADDR=ATTACKER)
    for _ in range(5):
        client.post("/admin/login/", {"username": "boss", "password": WRONG})
    client.post("/admin/login/", {"username": "boss", "password": TEST_PASSWORD})
    assert "_auth_user_id" not in client.session
    assert sign_in("boss", TEST_PASSWORD, ELSEWHERE)[2] is True


def test_a_pause_is_logged_and_audited_without_the_password(
    caplog: pytest.LogCaptureFixture,
) -> None:
    UserFactory(username="victim")
    with caplog.at_level(logging.WARNING, logger="partner_portal.core.signin_throttle"):
        for _ in range(6):
            sign_in("victim", WRONG, ATTACKER)
    paused_lines = [r.getMessage() for r in caplog.records if "Sign-in paused" in r.getMessage()]
    assert len(paused_lines) == 1
    assert "'victim'" in paused_lines[0] and ATTACKER in paused_lines[0]
    event = AuditEvent.objects.get(action="account.sign_in_paused")
    assert event.customer is None and event.ip_address == ATTACKER
    assert event.details["account"] == "victim" and event.details["failures"] == 5
    assert WRONG not in caplog.text
    assert WRONG not in event.summary + str(event.details)


def test_the_throttle_counts_each_scope_against_its_own_limit() -> None:
    now = [100.0]
    gate = SignInThrottle(
        account_limit=2, address_limit=3, cool_off_seconds=60, clock=lambda: now[0]
    )
    assert gate.record_failure(username="a", address="10.0.0.1") == []
    started = gate.record_failure(username="a", address="10.0.0.1")
    assert [p.scope for p in started] == [ACCOUNT]
    assert gate.pause_for(username="b", address="10.0.0.1") is None
    started = gate.record_failure(username="b", address="10.0.0.1")
    assert [p.scope for p in started] == [ADDRESS]
    pause = gate.pause_for(username="c", address="10.0.0.1")
    assert pause is not None and pause.scope == ADDRESS
    assert gate.pause_for(username="a", address="10.0.0.2") is None
    now[0] += 61
    assert gate.pause_for(username="a", address="10.0.0.1") is None


@override_settings(BEHIND_TLS_PROXY=True)
def test_behind_the_tls_proxy_each_client_is_counted_by_its_own_address() -> None:
    UserFactory(username="victim")

    def through_proxy(password: str, address: str) -> bool:
        client = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=address)
        client.post("/accounts/login/", {"username": "victim", "password": password})
        return "_auth_user_id" in client.session

    for _ in range(5):
        through_proxy(WRONG, ATTACKER)
    assert through_proxy(TEST_PASSWORD, ATTACKER) is False
    assert through_proxy(TEST_PASSWORD, ELSEWHERE) is True
