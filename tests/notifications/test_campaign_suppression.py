"""A suppression rule made from a campaign: portal admins see the button on the
campaign's page (offered by notifications through the page's slot), the form opens
filled with the campaign's customers and conditions its alerts meet, and the saved rule
keeps those alerts quiet and no other customer's."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.core.access import Role
from partner_portal.notifications.matching import facts_of
from partner_portal.notifications.models import SuppressionRule
from partner_portal.notifications.suppression import snooze_of
from tenants.models import Customer
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.correlation.factories import IndicatorFactory, SightingFactory
from tests.factories import UserFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

TITLE = "Dropper seen across the region"


@pytest.fixture
def campaign() -> tuple[int, list[Any], Customer]:
    """One hash on an alert at each of three customers; a fourth customer has an alert
    of the same title without it."""
    indicator = IndicatorFactory()
    alerts = []
    for name in ("Northwind Sx1", "Fabrikam Sx2", "Litware Sx3"):
        alert = AlertFactory(
            customer=CustomerFactory(display_name=name), title=TITLE,
            detection_source="WindowsDefenderAv", created_at=timezone.now(),
        )  # fmt: skip
        SightingFactory(indicator=indicator, alert=alert, seen_at=timezone.now())
        alerts.append(alert)
    outsider = CustomerFactory(display_name="Solo Sx4")
    AlertFactory(customer=outsider, title=TITLE, detection_source="WindowsDefenderAv")
    return indicator.pk, alerts, outsider


def _client(*roles: Role, customers: tuple[Customer, ...] = ()) -> Client:
    user = UserFactory(roles=list(roles))
    for customer in customers:
        AnalystScopeFactory(user=user, customer=customer)
    client = Client()
    client.force_login(user)
    return client


def test_only_portal_admins_are_offered_a_rule_on_the_campaign_page(campaign: Any) -> None:
    key, alerts, _ = campaign
    url = reverse("correlation:campaign", args=[key])
    admin_page = _client(Role.ADMIN).get(url).content.decode()
    assert 'id="suppress-campaign"' in admin_page
    assert f"/notifications/suppressions/new/?campaign={key}&amp;days=7" in admin_page
    analyst = _client(Role.ANALYST, customers=tuple(a.customer for a in alerts))
    analyst_page = analyst.get(url)
    assert analyst_page.status_code == 200
    assert 'id="suppress-campaign"' not in analyst_page.content.decode()


def test_the_form_is_filled_from_the_campaign_and_its_rule_quiets_only_its_alerts(
    campaign: Any,
) -> None:
    key, alerts, outsider = campaign
    admin = _client(Role.ADMIN)
    url = reverse("notifications:suppression_create") + f"?campaign={key}&days=7"
    page = admin.get(url)
    assert page.status_code == 200
    initial = page.context["form"].initial
    assert sorted(initial["customers"]) == sorted(a.customer_id for a in alerts)
    assert initial["title_contains"] == TITLE
    assert initial["detectors_text"] == "WindowsDefenderAv"
    assert 'id="prefilled-from"' in page.content.decode()

    posted = {
        "reason": "Known dropper campaign, handled with the customers.",
        "customers": [str(c) for c in initial["customers"]],
        "products": initial["products"],
        "title_contains": initial["title_contains"],
        "detectors_text": initial["detectors_text"],
        "action": "mute",
        "days": "3",
    }
    saved = admin.post(url, posted)
    assert saved.status_code == 302, saved.content.decode()[:2000]
    snooze = snooze_of(SuppressionRule.objects.get())
    for alert in alerts:
        assert snooze.matches(facts_of(alert))
    stranger = Alert.objects.get(customer=outsider)
    assert not snooze.matches(facts_of(stranger))


def test_an_unknown_campaign_leaves_the_form_empty_with_a_word(campaign: Any) -> None:
    admin = _client(Role.ADMIN)
    url = reverse("notifications:suppression_create") + "?campaign=999999&days=7"
    page = admin.get(url, follow=True)
    assert page.status_code == 200
    assert "That campaign was not found; the form starts empty." in page.content.decode()
    assert not page.context["form"].initial.get("customers")
    garbled = admin.get(reverse("notifications:suppression_create") + "?campaign=x&days=9")
    assert garbled.status_code == 200
