"""The index fills as alerts are stored; campaigns and "also seen" count only the
customers a person may see."""

from __future__ import annotations

import copy
import json
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.alerts.writeback import BULK_LIMIT
from partner_portal.core.access import Role
from partner_portal.correlation import reads
from partner_portal.correlation.index import index_alerts, index_pending
from partner_portal.correlation.models import Indicator, PendingIndex, Sighting
from partner_portal.defender import parse_graph_alert
from tenants.models import Customer
from tests.alerts.factories import AlertFactory, CustomerFactory, IncidentFactory
from tests.correlation.factories import IndicatorFactory, SightingFactory
from tests.factories import UserFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).resolve().parent.parent / "defender" / "graph_payloads"
PLANTED = "5f4dcc3b5aa765d61d8327deb882cf99" * 2
NAMES = ("Northwind Qx1", "Fabrikam Qx2", "Litware Qx3")


def _graph_alert(number: int, *, sha256: str, ip: str = "", domain_url: str = "") -> Any:
    data = copy.deepcopy(json.loads((PAYLOADS / "list_alerts_v2.json").read_text())["value"][0])
    data["id"] = data["providerAlertId"] = f"da6380000000000{number:04d}_1"
    data["detectorId"] = f"detector-{number}"  # no shared technique pattern
    data["createdDateTime"] = (timezone.now() - timedelta(hours=number + 1)).isoformat()
    evidence = [{
        "@odata.type": "#microsoft.graph.security.fileEvidence",
        "fileDetails": {"fileName": "dropper.exe", "sha256": sha256, "sha1": None},
        "verdict": "malicious", "remediationStatus": "none", "roles": [], "tags": [],
    }]  # fmt: skip
    if ip:
        evidence.append({"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": ip})
    if domain_url:
        evidence.append({"@odata.type": "#microsoft.graph.security.urlEvidence", "url": domain_url})
    data["evidence"] = evidence
    return parse_graph_alert(data)


@pytest.fixture
def planted() -> list[Customer]:
    """The same file hash at three customers (stored through the sync's upsert), and a
    private address and a Microsoft URL at each of them; a fourth customer elsewhere."""
    customers = [CustomerFactory(display_name=name) for name in NAMES]
    for number, customer in enumerate(customers):
        record = _graph_alert(
            number, sha256=PLANTED, ip="10.0.0.8",
            domain_url="https://login.microsoftonline.com/common/oauth2",
        )  # fmt: skip
        alerts_upsert(customer_id=customer.pk, records=[record])
    other = CustomerFactory(display_name="Solo Qx4")
    alerts_upsert(customer_id=other.pk, records=[_graph_alert(9, sha256="ab" * 32)])
    assert index_pending() == 4  # one stored page each, indexed after commit
    return customers


def _analyst(*customers: Customer) -> Any:
    user = UserFactory(roles=[Role.ANALYST])
    for customer in customers:
        AnalystScopeFactory(user=user, customer=customer)
    return user


def test_a_hash_planted_at_three_customers_is_one_campaign_of_three(planted: list) -> None:
    everyone = _analyst(*Customer.objects.all())
    found = reads.campaigns(user=everyone)
    assert len(found) == 1
    campaign = found[0]
    assert [i.value for i in campaign.indicators] == [PLANTED]
    assert [c.display_name for c in campaign.customers] == sorted(NAMES)
    assert len(campaign.alerts) == 3 and campaign.open_alerts == 3
    # Neither the private address nor Microsoft's sign-in domain was indexed at all.
    assert not Indicator.objects.filter(value__in=["10.0.0.8", "login.microsoftonline.com"])


def test_an_analyst_of_one_customer_sees_no_trace_of_the_other_two(planted: list) -> None:
    analyst = _analyst(planted[0])
    assert reads.campaigns(user=analyst) == []
    alert = Alert.objects.get(customer=planted[0])
    seen = reads.alert_indicators_seen(user=analyst, alert=alert)
    assert [
        (s.indicator.value, s.other_customers) for s in seen if s.indicator.kind == "sha256"
    ] == [(PLANTED, 0)]
    client = Client()
    client.force_login(analyst)
    key = Indicator.objects.get(value=PLANTED).pk
    pages = {
        "campaigns": client.get(reverse("correlation:campaigns") + "?days=30"),
        "campaign": client.get(reverse("correlation:campaign", args=[key]) + "?days=30"),
        "alert": client.get(reverse("alerts:detail", args=[alert.pk])),
    }
    assert pages["campaign"].status_code == 404
    assert pages["campaigns"].status_code == pages["alert"].status_code == 200
    assert "nowhere else" in pages["alert"].content.decode()
    for name, response in pages.items():
        body = response.content.decode()
        assert "Fabrikam" not in body and "Litware" not in body, name
        assert not re.search(r"at \d+ other customer", body), name


def test_an_analyst_of_two_sees_the_campaign_with_two_and_the_alert_page_counts_one(
    planted: list,
) -> None:
    analyst = _analyst(planted[0], planted[1])
    found = reads.campaigns(user=analyst)
    assert [[c.display_name for c in f.customers] for f in found] == [sorted(NAMES[:2])]
    client = Client()
    client.force_login(analyst)
    alert = Alert.objects.get(customer=planted[0])
    body = client.get(reverse("alerts:detail", args=[alert.pk])).content.decode()
    assert "at 1 other customer" in body and "Litware" not in body
    page = client.get(reverse("correlation:campaign", args=[found[0].key])).content.decode()
    assert "Fabrikam Qx2" in page and "Litware" not in page
    assert 'id="campaign-act"' in page and page.count('name="alert"') == 2


def test_storing_again_adds_no_sighting_and_the_index_command_catches_up(planted: list) -> None:
    before = Sighting.objects.count()
    customer = planted[0]
    alerts_upsert(customer_id=customer.pk, records=[_graph_alert(0, sha256=PLANTED)])
    index_pending()
    assert Sighting.objects.count() == before
    # Alerts stored before the index existed are indexed by the command, once.
    legacy = AlertFactory(
        customer=customer, raw={"evidence": [{"sha256": PLANTED.upper()}]}, mitre_techniques=[]
    )
    assert index_alerts(Alert.objects.all()) == 1
    assert index_alerts(Alert.objects.all()) == 0
    assert Sighting.objects.filter(alert=legacy, indicator__value=PLANTED).exists()


def test_deleting_an_alert_takes_its_sightings_with_it() -> None:
    sighting = SightingFactory()
    sighting.alert.delete()
    assert not Sighting.objects.exists()


def test_storing_a_page_only_notes_it_and_queues_the_index_after_commit(
    django_capture_on_commit_callbacks: Any,
) -> None:
    customer = CustomerFactory()
    with django_capture_on_commit_callbacks() as callbacks:
        alerts_upsert(customer_id=customer.pk, records=[_graph_alert(5, sha256=PLANTED)])
    assert len(callbacks) == 1  # correlation.index_pending, once the page commits
    pending = PendingIndex.objects.get()
    assert (pending.customer_id, len(pending.alert_ids)) == (customer.pk, 1)
    assert not Sighting.objects.exists()
    assert index_pending() == 1
    assert Sighting.objects.filter(customer=customer, indicator__value=PLANTED).exists()
    assert not PendingIndex.objects.exists()
    assert index_pending() == 0


def test_an_incident_page_counts_its_alerts_indicators_at_other_customers_in_scope(
    planted: list,
) -> None:
    first, second, _third = planted
    alert = Alert.objects.get(customer=first)
    incident = IncidentFactory(customer=first, incident_id=alert.incident_id, alert_ids=[])
    two = _analyst(first, second)
    client = Client()
    client.force_login(two)
    page = client.get(reverse("alerts:incident", args=[incident.pk])).content.decode()
    assert "Indicators of this incident&#x27;s alerts" in page
    assert "at 1 other customer" in page and "Litware" not in page
    alone = Client()
    alone.force_login(_analyst(first))
    page = alone.get(reverse("alerts:incident", args=[incident.pk])).content.decode()
    assert "nowhere else" in page and not re.search(r"at \d+ other customer", page)


def test_a_campaign_of_more_open_alerts_than_one_round_takes_says_how_many_wait() -> None:
    first, second = (
        CustomerFactory(display_name="Many One"),
        CustomerFactory(display_name="Many Two"),
    )
    indicator = IndicatorFactory()
    for customer in (first, second) * 26:
        alert = AlertFactory(customer=customer, created_at=timezone.now())
        SightingFactory(indicator=indicator, alert=alert, seen_at=timezone.now())
    client = Client()
    client.force_login(_analyst(first, second))
    page = client.get(reverse("correlation:campaign", args=[indicator.pk])).content.decode()
    assert page.count('name="alert"') == BULK_LIMIT
    assert f"the first {BULK_LIMIT} only" in page
    assert f"{52 - BULK_LIMIT} more stay open for a second round" in page
