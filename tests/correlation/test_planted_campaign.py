"""The campaign story end to end, through the sandbox and the real sync: the same file
hash, address and domain planted at three customers (two on Microsoft Graph, one still on
the legacy Defender for Endpoint API) make one campaign of those three; an analyst of one
of them finds no trace of the other two anywhere — campaigns, counts, the alert page,
hunting."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync import passes
from partner_portal.core.access import Role
from partner_portal.correlation import reads
from partner_portal.correlation.index import index_pending
from partner_portal.correlation.models import Indicator
from partner_portal.hunting import fanout, services
from partner_portal.sandbox.catalog import GRAPH_ROLES
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft
from tenants.models import Customer, CustomerStatus
from tests.alerts.conftest import point_portal_at
from tests.alerts.factories import CustomerFactory
from tests.factories import UserFactory
from tests.fixtures.sandbox import sandbox_fixture
from tests.tenants.factories import AnalystScopeFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]

HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"
ADDRESS = "45.77.12.34"
DOMAIN = "update-check.planted-campaign.example"

planted_sandbox = sandbox_fixture(
    "planted", tenants=4, consented=4, alerts_per_tenant=15, seed=1717
)


@pytest.fixture
def customers(planted_sandbox: SandboxProcess, settings: Any) -> Iterator[list[Customer]]:
    """Four customers synced from the sandbox; the first three had the indicators planted
    (the third reads the legacy API), the fourth did not."""
    # Evidence of every severity, so the legacy API's planted alert is read whole.
    settings.SYNC_EVIDENCE_SEVERITIES = ["High", "Medium", "Low", "Informational"]
    settings.HUNT_CONCURRENCY = 1  # the test's own connection sees the test's rows
    point_portal_at(planted_sandbox, settings)
    made = []
    for number, tenant in enumerate(planted_sandbox.tenants):
        on_graph = number != 2
        roles = [r for r in tenant["roles"] if on_graph or r not in GRAPH_ROLES]
        customer = CustomerFactory(
            display_name=tenant["name"], tenant_id=tenant["tenant_id"],
            status=CustomerStatus.ACTIVE, granted_roles=sorted(roles),
        )  # fmt: skip
        if number < 3:
            planted = planted_sandbox.control(
                "POST", f"/_sandbox/tenants/{tenant['tenant_id']}/alerts",
                json={"count": 1, "plant": {"sha256": HASH, "ip": ADDRESS, "domain": DOMAIN}},
            )  # fmt: skip
            assert planted.status_code == 201, planted.text
        source = "graph_alerts" if on_graph else "alerts"
        run = passes.sync_source(customer_id=customer.pk, source=source)
        assert run is not None and run.status == "succeeded", run and run.error_message
        made.append(customer)
    index_pending()
    yield made
    microsoft.reset_for_tests()


def _analyst(*customers: Customer) -> Any:
    user = UserFactory(roles=[Role.ANALYST])
    for customer in customers:
        AnalystScopeFactory(user=user, customer=customer)
    return user


def _holding_the_hash(found: list[reads.Campaign]) -> list[reads.Campaign]:
    return [c for c in found if any(i.value == HASH for i in c.indicators)]


def test_the_hash_planted_at_three_customers_is_one_campaign_of_those_three(
    customers: list[Customer],
) -> None:
    everyone = _analyst(*customers)
    (campaign,) = _holding_the_hash(reads.campaigns(user=everyone, days=30))
    assert {c.pk for c in campaign.customers} == {c.pk for c in customers[:3]}
    assert {(i.kind, i.value) for i in campaign.indicators} >= {
        ("sha256", HASH), ("ip", ADDRESS), ("domain", DOMAIN),
    }  # fmt: skip
    assert len(campaign.alerts) == 3 and campaign.open_alerts == 3
    # Both APIs' evidence shapes carried it: two Graph alerts and one legacy alert.
    shapes = sorted("@odata.type" in str(a.raw.get("evidence")) for a in campaign.alerts)
    assert shapes == [False, True, True]


def test_an_analyst_of_one_of_them_finds_no_trace_of_the_other_two(
    customers: list[Customer],
) -> None:
    mine, *others = customers[:3]
    analyst = _analyst(mine)
    assert _holding_the_hash(reads.campaigns(user=analyst, days=30)) == []
    alert = next(
        a for a in Alert.objects.filter(customer=mine) if HASH in str(a.raw.get("evidence"))
    )
    seen = {s.indicator.value: s.other_customers for s in reads.alert_indicators_seen(
        user=analyst, alert=alert
    )}  # fmt: skip
    assert seen[HASH] == seen[ADDRESS] == seen[DOMAIN] == 0

    key = Indicator.objects.get(value=HASH).pk
    client = Client()
    client.force_login(analyst)
    pages = {
        "campaigns": client.get(reverse("correlation:campaigns") + "?days=30"),
        "campaign": client.get(reverse("correlation:campaign", args=[key]) + "?days=30"),
        "alert": client.get(reverse("alerts:detail", args=[alert.pk])),
    }
    assert pages["campaign"].status_code == 404
    assert pages["campaigns"].status_code == pages["alert"].status_code == 200

    hunt = services.start_hunt(
        user=analyst,
        query=f'AlertEvidence | where RemoteIP == "{ADDRESS}" | project AlertId, RemoteIP',
        timespan="P30D",
        customer_ids=[c.pk for c in customers],
    )
    assert list(hunt.targets.values_list("customer_id", flat=True)) == [mine.pk]
    fanout.run_hunt(hunt_id=hunt.pk)
    pages["hunt"] = client.get(reverse("hunting:results", args=[hunt.pk]))
    assert pages["hunt"].status_code == 200
    assert mine.display_name in pages["hunt"].content.decode()

    for name, response in pages.items():
        body = response.content.decode()
        for other in others:
            assert other.display_name not in body, name
            assert str(other.tenant_id) not in body, name
        assert not re.search(r"at \d+ other customer", body), name
