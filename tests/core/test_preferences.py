"""A person's own time zone: every time the portal shows them reads in it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.test import Client

from partner_portal.core.models import Preference
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.factories import PreferenceFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

WINTER = datetime(2026, 11, 20, 9, 30, 5, tzinfo=UTC)


@pytest.fixture
def alert(analyst: Any) -> Any:
    customer = CustomerFactory(display_name="Contoso")
    AnalystScopeFactory(user=analyst, customer=customer)
    return AlertFactory(customer=customer, created_at=WINTER, title="Zone test alert")


def test_times_read_in_utc_until_a_person_chooses_a_zone(
    analyst_client: Client, alert: Any
) -> None:
    page = analyst_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "2026-11-20 09:30:05 UTC" in page


def test_a_chosen_zone_applies_at_once_to_the_alert_page_and_the_list(
    analyst_client: Client, analyst: Any, alert: Any
) -> None:
    response = analyst_client.post("/accounts/settings/", {"time_zone": "Europe/Amsterdam"})
    assert response.status_code == 302
    assert Preference.objects.get(user=analyst).time_zone == "Europe/Amsterdam"
    detail = analyst_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "2026-11-20 10:30:05 CET" in detail
    listing = analyst_client.get("/alerts/?status=New&status=InProgress&status=Resolved").content
    assert "2026-11-20 10:30:05 CET" in listing.decode()
    # The list's time inputs name the zone they are read in.
    assert "From (Europe/Amsterdam)" in listing.decode()


def test_a_zone_saved_earlier_is_used_in_a_new_session(analyst: Any, alert: Any) -> None:
    PreferenceFactory(user=analyst, time_zone="America/New_York")
    client = Client()
    client.force_login(analyst)
    page = client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "2026-11-20 04:30:05 EST" in page


def test_a_time_typed_in_a_filter_is_read_in_the_persons_zone(
    analyst_client: Client, alert: Any
) -> None:
    analyst_client.post("/accounts/settings/", {"time_zone": "Asia/Tokyo"})
    # 09:30:05 UTC is 18:30:05 in Tokyo: from 18:30 Tokyo time it is included, from 18:31 not.
    shown = analyst_client.get("/alerts/?period=custom&since=2026-11-20T18:30").content.decode()
    hidden = analyst_client.get("/alerts/?period=custom&since=2026-11-20T18:31").content.decode()
    assert "Zone test alert" in shown
    assert "Zone test alert" not in hidden


def test_an_unknown_zone_is_refused_in_words_and_nothing_changes(
    analyst_client: Client, analyst: Any
) -> None:
    response = analyst_client.post("/accounts/settings/", {"time_zone": "Mars/Olympus_Mons"})
    assert response.status_code == 200
    assert "is not a time zone the portal knows" in response.content.decode()
    assert not Preference.objects.filter(user=analyst).exists()


def test_choosing_the_portal_zone_again_goes_back_to_utc(
    analyst_client: Client, alert: Any
) -> None:
    analyst_client.post("/accounts/settings/", {"time_zone": "Europe/Amsterdam"})
    analyst_client.post("/accounts/settings/", {"time_zone": ""})
    page = analyst_client.get(f"/alerts/{alert.pk}/").content.decode()
    assert "2026-11-20 09:30:05 UTC" in page


def test_the_settings_page_shows_the_current_choice(analyst_client: Client) -> None:
    analyst_client.post("/accounts/settings/", {"time_zone": "Europe/Amsterdam"})
    page = analyst_client.get("/accounts/settings/").content.decode()
    assert '<option value="Europe/Amsterdam" selected>' in page
