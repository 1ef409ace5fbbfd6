"""Two-step sign-in: an authenticator app's code after the password, set up by the person,
required by the portal when configured, throttled and audited."""

from __future__ import annotations

from base64 import b32encode
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from partner_portal.core.access import Role
from tenants.models import AuditEvent
from tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

SETUP = "/accounts/two-factor/"
VERIFY = "/accounts/two-factor/verify/"


def code(device: TOTPDevice, ahead: int = 0) -> str:
    """The app's code now (`ahead` steps later: a code is accepted once, and the next
    step's is within the tolerance)."""
    return f"{totp(device.bin_key, drift=ahead):06d}"


def _password_only(user: User) -> Client:
    client = Client()
    assert client.login(username=user.get_username(), password=TEST_PASSWORD)
    return client


def _enrolled(user: User) -> TOTPDevice:
    client = _password_only(user)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=user)
    assert client.post(SETUP, {"code": code(device)}).status_code == 302
    device.refresh_from_db()
    return device


@pytest.fixture
def dana() -> User:
    return UserFactory(username="dana", roles=[Role.ANALYST])


# --- setting it up --------------------------------------------------------------------------
def test_setting_up_shows_the_secret_and_otpauth_uri_and_needs_a_current_code(
    dana: User,
) -> None:
    client = _password_only(dana)
    page = client.get(SETUP)
    device = TOTPDevice.objects.get(user=dana, confirmed=False)
    secret = b32encode(device.bin_key).decode().rstrip("=")
    body = page.content.decode()
    assert " ".join(secret[i : i + 4] for i in range(0, len(secret), 4)) in body
    assert f"otpauth://totp/{quote('Partner Portal MSSP:dana')}?secret={secret}" in body.replace(
        "&amp;", "&"
    )
    assert client.get(SETUP).content.decode().count(secret[:8]) >= 1  # same secret on reload

    wrong = client.post(SETUP, {"code": "000000" if code(device) != "000000" else "111111"})
    assert wrong.status_code == 400 and "That code is not right" in wrong.content.decode()
    device.refresh_from_db()
    assert not device.confirmed

    device.throttle_reset()
    assert client.post(SETUP, {"code": code(device)}).status_code == 302
    device.refresh_from_db()
    assert device.confirmed
    assert client.get("/alerts/").status_code == 200  # this session showed a code
    (event,) = AuditEvent.objects.filter(action="account.second_factor_enrolled")
    assert event.actor_label == "dana" and event.summary == (
        "dana turned two-step sign-in on (authenticator app)"
    )
    assert secret not in str(event.details) and device.key not in str(event.details)


# --- signing in ----------------------------------------------------------------------------------
def test_after_the_password_every_page_waits_for_the_code(dana: User) -> None:
    dana.is_staff = True
    dana.save(update_fields=["is_staff"])
    device = _enrolled(dana)
    client = _password_only(dana)
    for path in ("/alerts/", "/", "/admin/", SETUP):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"] == f"{VERIFY}?next={quote(path, safe='')}", path
    assert client.get("/healthz").status_code in (200, 503)  # public pages stay open
    assert client.get(VERIFY).status_code == 200

    wrong = client.post(VERIFY, {"code": "12", "next": "/alerts/"})
    assert wrong.status_code == 400
    device.throttle_reset()
    right = client.post(VERIFY, {"code": code(device, ahead=1), "next": "/alerts/"})
    assert right.status_code == 302 and right["Location"] == "/alerts/"
    assert client.get("/alerts/").status_code == 200

    # The same code again, in another session, is refused.
    other = _password_only(dana)
    again = other.post(VERIFY, {"code": code(device, ahead=1)})
    assert again.status_code == 400


def test_wrong_codes_make_the_next_attempt_wait(dana: User) -> None:
    device = _enrolled(dana)
    client = _password_only(dana)
    client.post(VERIFY, {"code": "000001"})
    client.post(VERIFY, {"code": "000002"})
    paused = client.post(VERIFY, {"code": code(device, ahead=1)})
    assert paused.status_code == 400
    assert "Too many wrong codes: try again after" in paused.content.decode()
    assert client.get("/alerts/").status_code == 302


def test_the_page_after_the_code_is_never_another_site(dana: User) -> None:
    device = _enrolled(dana)
    client = _password_only(dana)
    response = client.post(VERIFY, {"code": code(device, ahead=1), "next": "https://evil.example/"})
    assert response.status_code == 302 and response["Location"] == "/"


def test_a_password_alone_cannot_swap_in_another_authenticator(dana: User) -> None:
    device = _enrolled(dana)
    client = _password_only(dana)
    assert client.post(SETUP, {"code": code(device, ahead=1)}).status_code == 302
    assert TOTPDevice.objects.filter(user=dana).count() == 1
    assert TOTPDevice.objects.get(user=dana).pk == device.pk


# --- turning it off, requiring it --------------------------------------------------------------
def test_turning_it_off_takes_a_current_code_and_is_audited(dana: User) -> None:
    device = _enrolled(dana)
    client = _password_only(dana)
    client.post(VERIFY, {"code": code(device, ahead=1)})
    device.refresh_from_db()
    refused = client.post(SETUP, {"code": "999999"})
    assert refused.status_code == 400 and TOTPDevice.objects.filter(user=dana).exists()
    device.throttle_reset()
    # This step's code and the next are used up; the device forgets them, so that the test
    # need not wait 30 seconds for a fresh one.
    device.last_t -= 2
    device.save(update_fields=["last_t"])
    assert client.post(SETUP, {"code": code(device, ahead=1)}).status_code == 302
    assert not TOTPDevice.objects.filter(user=dana).exists()
    assert AuditEvent.objects.filter(
        action="account.second_factor_removed", summary="dana turned two-step sign-in off"
    ).exists()
    assert _password_only(dana).get("/alerts/").status_code == 200


def test_when_required_an_account_without_it_sets_it_up_first(dana: User, settings: object) -> None:
    settings.REQUIRE_SECOND_FACTOR = True  # type: ignore[attr-defined]
    client = _password_only(dana)
    response = client.get("/alerts/")
    assert response.status_code == 302
    assert response["Location"] == f"{SETUP}?next=%2Falerts%2F"
    page = client.get(SETUP).content.decode()
    assert "The portal requires two-step sign-in" in page
    assert client.post("/accounts/logout/").status_code == 302  # signing out stays possible
    client = _password_only(dana)
    client.get(SETUP)
    device = TOTPDevice.objects.get(user=dana)
    client.post(SETUP, {"code": code(device)})
    assert client.get("/alerts/").status_code == 200
    refused = client.post(SETUP, {"code": code(device, ahead=1)})
    assert "cannot be turned off" in refused.content.decode()
    assert TOTPDevice.objects.filter(user=dana, confirmed=True).exists()


def test_whether_a_code_is_owed_is_decided_at_sign_in(dana: User) -> None:
    client = _password_only(dana)
    client.get("/")
    device = _enrolled(dana)  # in another session
    assert client.get("/").status_code == 200  # this session signed in before it existed
    later = _password_only(dana)
    assert later.get("/")["Location"].startswith(VERIFY)
    assert device.confirmed


def test_a_reset_authenticator_owes_no_code_any_more(dana: User) -> None:
    _enrolled(dana)
    client = _password_only(dana)
    assert client.get("/")["Location"].startswith(VERIFY)
    TOTPDevice.objects.filter(user=dana).delete()  # a portal admin's reset
    response = client.get("/", follow=True)
    assert response.status_code == 200 and response.redirect_chain[-1][0] == "/"
    assert client.get("/alerts/").status_code == 200
