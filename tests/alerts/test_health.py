"""Tenant health: status, last success, lag, last error in words, API calls against the
hourly limit, missing permissions and who is sent where to fix them."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from partner_portal.alerts.models import Source, SyncRun, SyncState, SyncStatus
from partner_portal.alerts.reads.health import tenant_health
from partner_portal.alerts.sync import sources
from tenants.models import CustomerStatus
from tests.alerts.factories import CustomerFactory, SyncRunFactory, SyncStateFactory
from tests.tenants.factories import AnalystScopeFactory, AuditEventFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(analyst: object) -> dict[str, object]:
    now = timezone.now()
    healthy = CustomerFactory(display_name="Contoso")
    broken = CustomerFactory(
        display_name="Fabrikam",
        status=CustomerStatus.MISSING_PERMISSIONS,
        missing_roles=["Incident.Read.All"],
        last_error_code="Forbidden",
        last_error_message="Microsoft refused a request for lack of Incident.Read.All.",
    )
    for source in (Source.ALERTS, Source.INCIDENTS):
        run = SyncRunFactory(
            customer=healthy, source=source, status=SyncStatus.SUCCEEDED, api_calls=40,
            started_at=now - timedelta(minutes=10), finished_at=now - timedelta(minutes=9),
        )  # fmt: skip
        SyncStateFactory(
            customer=healthy, source=source, last_run=run,
            last_success_at=now - timedelta(minutes=9),
        )  # fmt: skip
    # An old run does not count against this hour's budget.
    SyncRunFactory(
        customer=healthy, source=Source.ALERTS, status=SyncStatus.SUCCEEDED, api_calls=900,
        started_at=now - timedelta(hours=3), finished_at=now - timedelta(hours=3),
    )  # fmt: skip
    AuditEventFactory(
        actor_label="sam", action="alert.updated", customer=healthy, details={"api_calls": 2}
    )
    failed = SyncRunFactory(
        customer=broken, source=Source.ALERTS, status=SyncStatus.FAILED, api_calls=3,
        started_at=now - timedelta(minutes=5), finished_at=now - timedelta(minutes=5),
        error_code="ServerError 503",
        error_message="The Defender API kept answering with server errors; try again later.",
    )  # fmt: skip
    SyncStateFactory(customer=broken, source=Source.ALERTS, last_run=failed, consecutive_failures=2)
    AnalystScopeFactory(user=analyst, customer=healthy)
    return {"healthy": healthy, "broken": broken}


def _row(page: str, customer: object) -> str:
    start = page.index(f'data-customer-id="{customer.pk}"')  # type: ignore[attr-defined]
    return page[start : page.index("</tr>", start)]


def test_staff_see_every_customer_with_errors_in_words_and_a_reconsent_link(
    staff_client: Client, world: dict
) -> None:
    page = staff_client.get("/health/").content.decode()
    healthy = _row(page, world["healthy"])
    broken = _row(page, world["broken"])
    assert "42 / 1500" in healthy  # 40 sync calls + 2 write-back calls this hour
    assert "none" in healthy
    assert "kept answering with server errors" in broken
    assert "Incident.Read.All" in broken
    assert f'href="/customers/{world["broken"].pk}/"' in broken
    assert 'data-status="missing_permissions"' in broken
    assert "never" in broken  # no successful sync yet


def test_analysts_see_only_their_scope_and_are_told_to_ask_staff(
    analyst_client: Client, world: dict
) -> None:
    page = analyst_client.get("/health/").content.decode()
    assert "Contoso" in page
    assert "Fabrikam" not in page


def test_analysts_cannot_reach_the_staff_page_but_are_pointed_to_staff(
    analyst: object, world: dict
) -> None:
    AnalystScopeFactory(user=analyst, customer=world["broken"])
    client = Client()
    client.force_login(analyst)  # type: ignore[arg-type]
    broken = _row(client.get("/health/").content.decode(), world["broken"])
    assert "/customers/" not in broken
    assert "ask onboarding staff" in broken.lower()


def test_lag_is_the_time_since_the_stalest_source_last_succeeded(
    onboarding_staff: object, world: dict
) -> None:
    state = SyncState.objects.get(customer=world["healthy"], source=Source.INCIDENTS)
    state.last_success_at = timezone.now() - timedelta(hours=2)
    state.save(update_fields=["last_success_at"])
    rows = tenant_health(user=onboarding_staff)
    row = next(r for r in rows if r.customer == world["healthy"])
    assert row.lag_seconds is not None and 7100 < row.lag_seconds < 7300


def test_a_failure_cleared_by_a_later_success_is_no_longer_shown(
    staff_client: Client, world: dict
) -> None:
    state = SyncState.objects.get(customer=world["broken"], source=Source.ALERTS)
    state.consecutive_failures = 0
    state.last_success_at = timezone.now()
    state.save(update_fields=["consecutive_failures", "last_success_at"])
    broken = _row(staff_client.get("/health/").content.decode(), world["broken"])
    assert "server errors" not in broken
    # The customer's own access problem is still there until consent is fixed.
    assert "lack of Incident.Read.All" in broken


def test_a_user_without_role_may_not_see_health(no_role_user: object) -> None:
    client = Client()
    client.force_login(no_role_user)  # type: ignore[arg-type]
    assert client.get("/health/").status_code == 403


def test_each_source_is_held_to_its_own_hourly_limit_from_the_registry(
    staff_client: Client, world: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The incidents API allowing 100 calls an hour, its 40 calls are the share to watch,
    # not the alerts API's 42 of 1,500.
    monkeypatch.setattr(sources.find(Source.INCIDENTS), "limits", ((50, 60.0), (100, 3600.0)))
    page = staff_client.get("/health/").content.decode()
    healthy = _row(page, world["healthy"])
    assert 'data-calls="40"' in healthy
    assert "40 / 100" in healthy
    assert 'max="100" low="66" high="86"' in healthy  # the meter scales with the limit
    assert "42 / 1500 API calls" in healthy  # the alerts source, on its own line
    assert "1500 API calls for alerts, 100 API calls for incidents" in page


def test_a_source_the_registry_does_not_know_is_shown_by_its_name(
    staff_client: Client, onboarding_staff: object, world: dict
) -> None:
    now = timezone.now()
    run = SyncRun.objects.create(
        customer=world["healthy"], source="retired", status=SyncStatus.SUCCEEDED, api_calls=7,
        started_at=now - timedelta(minutes=3), finished_at=now - timedelta(minutes=2),
    )  # fmt: skip
    SyncState.objects.create(
        customer=world["healthy"], source="retired", last_run=run, last_success_at=now
    )
    response = staff_client.get("/health/")
    assert response.status_code == 200
    healthy = _row(response.content.decode(), world["healthy"])
    assert "retired:" in healthy
    assert "42 / 1500" in healthy
    row = next(r for r in tenant_health(user=onboarding_staff) if r.customer == world["healthy"])
    retired = next(s for s in row.sources if s.source == "retired")
    assert (retired.api_calls_last_hour, retired.api_limit) == (7, None)


def test_a_customer_that_has_not_consented_shows_neither_complete_permissions_nor_ok_sync(
    staff_client: Client, world: dict
) -> None:
    pending = CustomerFactory(display_name="Northwind", status=CustomerStatus.PENDING_CONSENT)
    row = _row(staff_client.get("/health/").content.decode(), pending)
    assert 'data-permissions="not-granted"' in row
    assert "complete" not in row
    assert "not consented" in row
    assert "no sync before consent" in row
    # A consented, synced customer still reads as complete.
    assert 'data-permissions="complete"' in _row(
        staff_client.get("/health/").content.decode(), world["healthy"]
    )


def test_the_customer_page_sync_card_waits_for_consent_instead_of_saying_ok(
    staff_client: Client,
) -> None:
    pending = CustomerFactory(display_name="Northwind", status=CustomerStatus.PENDING_CONSENT)
    page = staff_client.get(f"/customers/{pending.pk}/").content.decode()
    assert 'data-health="awaiting_consent"' in page
    assert "Waiting for consent" in page
    assert ">OK<" not in page


def test_an_active_customer_never_synced_is_not_yet_ok(staff_client: Client) -> None:
    active = CustomerFactory(display_name="Tailspin", status=CustomerStatus.ACTIVE)
    data = staff_client.get(f"/sync/customers/{active.pk}/progress/").json()
    assert {s["health"] for s in data["sources"]} == {"not_synced"}
    assert not any(s["healthy"] for s in data["sources"])
