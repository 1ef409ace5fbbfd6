"""Every read of the alerts app that answers a person reads its rows through one door.

The doors are `visibility.visible_alerts` and `visibility.visible_incidents` (alerts and
incidents a user may see) and `tenants.scoping.visible_customers`. Here they are shut:
each is replaced, wherever the alerts app bound it, by one that returns no rows. A
read that still returns something got its rows some other way. The same calls with
the doors open must return rows, so an empty answer is the doors' doing.

Each public function taking `user` in a module of `partner_portal.alerts.reads` must
have a call below: one added later, in any module there, fails
`test_every_selector_taking_a_user_is_checked` until it is listed here.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from collections.abc import Callable
from datetime import timedelta
from types import ModuleType
from typing import Any

import pytest
from django.db.models import Model

from partner_portal.alerts import reads, visibility
from partner_portal.alerts.models import Alert, Incident
from partner_portal.alerts.reads import (
    alert_detail,
    alert_list,
    charts,
    exports,
    health,
    incident_actions,
    incident_queue,
    incidents,
    keyset,
    overview,
)
from partner_portal.alerts.reads.alert_detail import AlertDetail
from partner_portal.alerts.reads.alert_list import AlertCounts, AlertPage, AlertQuery, LiveUpdate
from partner_portal.alerts.reads.incident_queue import (
    IncidentChanges,
    IncidentCounts,
    IncidentPage,
    IncidentQuery,
)
from partner_portal.alerts.reads.incidents import IncidentDetail
from partner_portal.alerts.reads.keyset import format_time
from partner_portal.alerts.reads.overview import Figure, Overview
from tenants import scoping
from tenants.models import Customer
from tests.alerts.factories import BASE_TIME, AlertFactory, CustomerFactory, IncidentFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

# Every module of the reads package, so that a new one is checked without being named.
MODULES = tuple(
    importlib.import_module(f"{reads.__name__}.{info.name}")
    for info in pkgutil.iter_modules(reads.__path__)
)
QUERY = AlertQuery()
QUEUE = IncidentQuery()

Call = Callable[[Any, dict[str, int]], Any]


def _customer_cursor(u: Any, ids: dict[str, int]) -> Any:
    """A "customer, then newest" page after a cursor naming the world's customer: the
    customer is looked up through the door (a shut door makes the cursor invalid)."""
    cursor = f"{ids['customer']},{format_time(BASE_TIME + timedelta(days=1))},{2**40}"
    try:
        return keyset.keyset_slice(
            Incident.objects.all(),
            read=lambda rows: list(rows.values("pk", "customer_id", "created_at")),
            user=u,
            sort="customer",
            after=cursor,
            size=10,
        ).rows
    except keyset.InvalidCursor:
        return None


CALLS: dict[str, Call] = {
    "keyset.keyset_slice": _customer_cursor,
    "keyset.cursor_values": lambda u, ids: (
        _customer_cursor(u, ids)
        and keyset.cursor_values((ids["customer"], BASE_TIME, 1), "customer", u)
    ),
    "alert_list.filtered_alerts": lambda u, ids: alert_list.filtered_alerts(user=u, query=QUERY),
    "alert_list.live_watermark": lambda u, ids: alert_list.live_watermark(user=u),
    "alert_list.alert_page": lambda u, ids: alert_list.alert_page(user=u, query=QUERY),
    "alert_list.alert_counts": lambda u, ids: alert_list.alert_counts(user=u, query=QUERY),
    "alert_list.alerts_since": lambda u, ids: alert_list.alerts_since(
        user=u, query=QUERY, since_id=0
    ),
    "exports.alert_export_rows": lambda u, ids: list(
        exports.alert_export_rows(user=u, query=QUERY, page_url="http://portal.example/alerts/")
    ),
    "charts.alert_chart_data": lambda u, ids: charts.alert_chart_data(
        user=u, query=QUERY, window="24h", now=BASE_TIME + timedelta(hours=1)
    ),
    "alert_detail.alert_get": lambda u, ids: alert_detail.alert_get(user=u, pk=ids["alert"]),
    "alert_detail.alert_detail": lambda u, ids: alert_detail.alert_detail(user=u, pk=ids["alert"]),
    "alert_detail.alerts_for_action": lambda u, ids: alert_detail.alerts_for_action(
        user=u, pks=[ids["alert"]]
    ),
    "incident_queue.queue": lambda u, ids: incident_queue.queue(user=u),
    "incident_queue.filtered_incidents": lambda u, ids: incident_queue.filtered_incidents(
        user=u, query=QUEUE
    ),
    "incident_queue.products_of": lambda u, ids: incident_queue.products_of(
        user=u, incidents=[(ids["customer"], 7)]
    ),
    "incident_queue.legacy_customers": lambda u, ids: incident_queue.legacy_customers(
        user=u, customer_ids=[ids["customer"]]
    ),
    "incident_queue.queue_rows": lambda u, ids: incident_queue.queue_rows(
        Incident.objects.filter(pk=ids["incident"]), user=u
    )[0]["products"],
    "incident_queue.incident_page": lambda u, ids: incident_queue.incident_page(
        user=u, query=QUEUE
    ),
    "incident_queue.incident_counts": lambda u, ids: incident_queue.incident_counts(
        user=u, query=QUEUE
    ),
    "incident_queue.incidents_changed": lambda u, ids: incident_queue.incidents_changed(
        user=u, query=QUEUE, mark=0
    ),
    "exports.incident_export_rows": lambda u, ids: list(
        exports.incident_export_rows(user=u, query=QUEUE, page_url="/incidents/")
    ),
    "incidents.incident_detail": lambda u, ids: incidents.incident_detail(
        user=u, pk=ids["incident"]
    ),
    "incident_actions.incident_for_action": lambda u, ids: incident_actions.incident_for_action(
        user=u, pk=ids["incident"]
    ),
    "incident_actions.incidents_for_action": lambda u, ids: incident_actions.incidents_for_action(
        user=u, pks=[ids["incident"]]
    ),
    "health.health_customers": lambda u, ids: health.health_customers(user=u),
    "health.tenant_health": lambda u, ids: health.tenant_health(user=u),
    "overview.matching_alerts": lambda u, ids: overview.matching_alerts(
        user=u, params=overview.OPEN, now=BASE_TIME
    ),
    "overview.alert_figure": lambda u, ids: overview.alert_figure(
        user=u, label="Open", params=overview.OPEN, now=BASE_TIME
    ),
    "overview.overview": lambda u, ids: overview.overview(
        user=u, last_visit_at=BASE_TIME - timedelta(days=1), now=BASE_TIME + timedelta(hours=1)
    ),
}


def _selectors_taking_a_user(module: ModuleType) -> set[str]:
    short = module.__name__.rsplit(".", 1)[-1]
    return {
        f"{short}.{name}"
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
        and not name.startswith("_")
        and "user" in inspect.signature(function).parameters
    }


def _is_empty(answer: Any) -> bool:
    if answer is None:  # one row, not found
        return True
    if isinstance(answer, int):  # the live mark
        return answer == 0
    if isinstance(answer, Model | AlertDetail | IncidentDetail):
        return False
    if isinstance(answer, AlertPage):
        return answer.alerts == []
    if isinstance(answer, AlertCounts):
        return answer.total == 0
    if isinstance(answer, LiveUpdate):
        return answer.count == 0 and answer.alerts == []
    if isinstance(answer, IncidentPage):
        return answer.incidents == []
    if isinstance(answer, IncidentCounts):
        return answer.total == 0
    if isinstance(answer, IncidentChanges):
        return answer.count == 0 and answer.incidents == [] and answer.gone == []
    if isinstance(answer, dict) and "over_time" not in answer:  # products of incidents
        return not answer
    if isinstance(answer, Figure):
        return answer.count == 0
    if isinstance(answer, Overview):
        figures = [
            answer.open_alerts,
            answer.new_serious,
            answer.unassigned,
            *answer.open_incidents,
        ]
        if answer.since_last_visit:
            figures.append(answer.since_last_visit)
        return answer.oldest_open is None and not any(f.count for f in figures)
    if isinstance(answer, dict):  # chart data
        series = answer["over_time"]["series"].values()
        return not any(any(counts) for counts in series) and not answer["top_categories"]
    return not list(answer)


@pytest.fixture
def world(analyst: Any) -> tuple[Any, dict[str, int]]:
    # An analyst who may see every customer: portal admins and onboarding staff see every
    # customer's health without asking the scope, by design.
    AnalystScopeFactory(user=analyst, all_customers=True)
    # Verified but not on Graph: a customer on the legacy API, so its mark shows.
    customer = CustomerFactory(display_name="Contoso", last_verified_at=BASE_TIME)
    alert = AlertFactory(
        customer=customer, severity="High", incident_id=7, machine_id="m" * 40,
        created_at=BASE_TIME, last_updated_at=BASE_TIME,
    )  # fmt: skip
    incident = IncidentFactory(
        customer=customer, incident_id=7, name="Staging", status="Active", severity="High",
        alert_ids=[alert.alert_id], created_at=BASE_TIME,
    )  # fmt: skip
    return analyst, {"alert": alert.pk, "incident": incident.pk, "customer": customer.pk}


def _shut_the_doors(monkeypatch: pytest.MonkeyPatch) -> None:
    shut: list[tuple[Any, Any]] = [
        (visibility.visible_alerts, lambda *, user: Alert.objects.none()),
        (visibility.visible_incidents, lambda *, user: Incident.objects.none()),
        (scoping.visible_customers, lambda *, user: Customer.objects.none()),
    ]
    patched = 0
    for name, module in list(sys.modules.items()):
        if not name.startswith("partner_portal.alerts"):
            continue
        for attribute, value in list(vars(module).items()):
            for door, closed in shut:
                if value is door:
                    monkeypatch.setattr(module, attribute, closed)
                    patched += 1
    assert patched >= 3


def test_every_selector_taking_a_user_is_checked() -> None:
    found = set().union(*(_selectors_taking_a_user(module) for module in MODULES))
    assert found == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_selector_reads_through_the_door(
    name: str, world: tuple[Any, dict[str, int]], monkeypatch: pytest.MonkeyPatch
) -> None:
    user, ids = world
    call = CALLS[name]
    assert not _is_empty(call(user, ids)), "the call must find rows while the doors are open"
    _shut_the_doors(monkeypatch)
    assert _is_empty(call(user, ids))
