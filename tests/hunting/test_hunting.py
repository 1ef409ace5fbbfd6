"""Hunting across customers against the sandbox: one query, every customer in scope
asked through Graph, each answer (or its failure in words) a row, all of it audited."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from partner_portal.core.access import Role
from partner_portal.hunting import fanout, services
from partner_portal.hunting.models import HuntTarget, SavedQuery, TargetStatus
from tenants.models import AuditEvent, Customer
from tests.alerts.conftest import bind_customers  # noqa: F401 (a fixture)
from tests.factories import UserFactory
from tests.hunting.factories import SavedQueryFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]

QUERY = "AlertInfo | project AlertId, Title, Severity | take 5"


@pytest.fixture
def customers(sandbox: Any, bind_customers: Any, settings: Any) -> list[Customer]:  # noqa: F811
    settings.HUNT_CONCURRENCY = 1  # the test's own connection sees the test's rows
    bound = bind_customers(sandbox, on_graph=True)
    assert len(bound) == 2
    return bound


def _analyst(*customers: Customer) -> Any:
    user = UserFactory(roles=[Role.ANALYST])
    for customer in customers:
        AnalystScopeFactory(user=user, customer=customer)
    return user


def _client(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_hunt_asks_every_customer_in_scope_and_keeps_each_answer(
    customers: list[Customer],
) -> None:
    first, second = customers
    second.granted_roles = [r for r in second.granted_roles if r != "ThreatHunting.Read.All"]
    second.save()
    analyst = _analyst(first, second)
    client = _client(analyst)

    response = client.post(reverse("hunting:start"), {"query": QUERY, "timespan": "P30D"})
    assert response.status_code == 302
    hunt_url = response["Location"]
    target = HuntTarget.objects.get(customer=first)
    hunt = target.hunt
    fanout.run_hunt(hunt_id=hunt.pk)

    results = client.get(reverse("hunting:results", args=[hunt.pk]) + "?after=0").json()
    assert (results["done"], results["total"], results["complete"]) == (2, 2, True)
    by_customer = {t["customer"]: t for t in results["finished"]}
    answered = by_customer[first.display_name]
    assert answered["status"] == "done" and answered["columns"] == ["AlertId", "Title", "Severity"]
    assert 1 <= len(answered["rows"]) <= 5
    refused = by_customer[second.display_name]
    assert refused["status"] == "failed" and "ThreatHunting.Read.All" in refused["error"]
    # Asked again from where it stood, the page gets nothing twice.
    seen = max(t["seq"] for t in results["finished"])
    assert (
        client.get(reverse("hunting:results", args=[hunt.pk]) + f"?after={seen}").json()["finished"]
        == []
    )

    export = b"".join(client.get(reverse("hunting:export", args=[hunt.pk])).streaming_content)
    rows = list(csv.reader(io.StringIO(export.decode())))
    assert rows[0] == ["Customer", "AlertId", "Title", "Severity"]
    assert {row[0] for row in rows[1:]} == {first.display_name}
    assert len(rows) - 1 == len(answered["rows"])
    assert client.get(hunt_url).status_code == 200

    event = AuditEvent.objects.get(action="hunt.started")
    assert event.details["query"] == QUERY and event.actor == analyst
    assert sorted(event.details["customers"]) == sorted([first.pk, second.pk])


def test_an_analyst_hunts_only_their_customers_and_sees_only_their_hunts(
    customers: list[Customer],
) -> None:
    first, second = customers
    analyst = _analyst(first)
    hunt = services.start_hunt(
        user=analyst, query=QUERY, timespan="P7D", customer_ids=[first.pk, second.pk]
    )
    assert list(hunt.targets.values_list("customer_id", flat=True)) == [first.pk]
    fanout.run_hunt(hunt_id=hunt.pk)
    body = _client(analyst).get(reverse("hunting:results", args=[hunt.pk])).content.decode()
    assert second.display_name not in body and first.display_name in body
    other = _analyst(first, second)
    assert _client(other).get(reverse("hunting:hunt", args=[hunt.pk])).status_code == 404
    assert _client(other).get(reverse("hunting:results", args=[hunt.pk])).status_code == 404


def test_a_query_microsoft_rejects_fails_with_microsofts_words(customers: list[Customer]) -> None:
    analyst = _analyst(*customers)
    hunt = services.start_hunt(
        user=analyst, query="AlertInfo | frobnicate", timespan="P1D", customer_ids=None
    )
    fanout.run_hunt(hunt_id=hunt.pk)
    targets = list(hunt.targets.all())
    assert {t.status for t in targets} == {TargetStatus.FAILED}
    assert all(t.error and "frobnicate" in t.error for t in targets), [t.error for t in targets]


def test_empty_or_overlong_queries_are_refused_in_words(customers: list[Customer]) -> None:
    client = _client(_analyst(*customers))
    empty = client.post(reverse("hunting:start"), {"query": "  ", "timespan": "P7D"})
    assert empty.status_code == 400 and "required" in empty.content.decode()
    long = client.post(reverse("hunting:start"), {"query": "x" * 10_001, "timespan": "P7D"})
    assert long.status_code == 400 and "10000 characters" in long.content.decode().replace(",", "")


def test_saved_queries_are_the_owners_unless_shared(customers: list[Customer]) -> None:
    owner = _analyst(*customers)
    colleague = _analyst(*customers)
    client = _client(owner)
    client.post(
        reverse("hunting:save"),
        {"name": "Dropper hash", "query": QUERY, "timespan": "P7D", "shared": "on"},
    )
    saved = SavedQuery.objects.get(name="Dropper hash")
    private = SavedQueryFactory(owner=owner, name="Mine only")
    page = _client(colleague).get(reverse("hunting:hunts")).content.decode()
    assert "Dropper hash" in page and "Mine only" not in page
    prefilled = _client(colleague).get(reverse("hunting:hunts") + f"?saved={saved.pk}")
    assert "AlertInfo | project AlertId" in prefilled.content.decode()
    assert _client(colleague).post(reverse("hunting:delete", args=[saved.pk])).status_code == 404
    assert client.post(reverse("hunting:delete", args=[private.pk])).status_code == 302
    assert not SavedQuery.objects.filter(pk=private.pk).exists()
