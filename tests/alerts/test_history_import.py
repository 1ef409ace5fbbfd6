"""Importing a customer's older history: staff ask on the sync card, the next pass reads
back to that day on the backfill queue, and the request is cleared once it succeeded."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from partner_portal.alerts.history_import import request_history_import
from partner_portal.alerts.models import Alert, SyncRun, SyncState
from partner_portal.alerts.sync import passes
from tenants.models import AuditEvent, CustomerStatus
from tests.alerts.conftest import differences, ground_truth
from tests.alerts.factories import CustomerFactory


@pytest.mark.sandbox
@pytest.mark.django_db(transaction=True)
def test_an_import_brings_the_alerts_older_than_the_first_backfill(
    sandbox_factory: Any, bind_customers: Any, settings: Any, onboarding_staff: Any
) -> None:
    settings.SYNC_BACKFILL_DAYS = 3
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=120, seed=43)
    (customer,) = bind_customers(sandbox)
    passes.sync_source(customer_id=customer.pk, source="alerts")
    truth = ground_truth(sandbox, customer.tenant_id)
    before = Alert.objects.filter(customer=customer).count()
    assert 0 < before < len(truth), "the sandbox's alerts span 30 days, the backfill 3"

    since = timezone.now().date() - timedelta(days=31)
    marked = request_history_import(customer=customer, since=since, actor=onboarding_staff)
    assert "alerts" in marked
    run = passes.sync_source(customer_id=customer.pk, source="alerts")
    assert run is not None and run.backfill and run.since.date() == since
    assert run.created == len(truth) - before
    assert differences(customer, ground_truth(sandbox, customer.tenant_id)) == []
    state = SyncState.objects.get(customer=customer, source="alerts")
    assert state.history_since is None
    # The next pass is an ordinary increment again.
    again = passes.sync_source(customer_id=customer.pk, source="alerts")
    assert again is not None and not again.backfill
    assert SyncRun.objects.filter(customer=customer, backfill=True).count() == 2


@pytest.mark.django_db
def test_staff_ask_on_the_customer_page_and_the_request_is_audited(staff_client: Client) -> None:
    customer = CustomerFactory(status=CustomerStatus.ACTIVE, collect_alerts=True)
    page = staff_client.get(f"/customers/{customer.pk}/").content.decode()
    assert f'action="/sync/customers/{customer.pk}/import-history/"' in page
    day = timezone.now().date() - timedelta(days=60)
    response = staff_client.post(
        f"/sync/customers/{customer.pk}/import-history/", {"since": day.isoformat()}, follow=True
    )
    page = response.content.decode()
    assert f"since {day:%Y-%m-%d} are being imported" in page
    assert f"History since {day:%Y-%m-%d} is being imported." in page
    states = SyncState.objects.filter(customer=customer, history_since__isnull=False)
    assert states.exists() and all(s.next_due_at <= timezone.now() for s in states)
    event = AuditEvent.objects.get(action="customer.history_import_requested")
    assert event.customer == customer and event.details["since"] == day.isoformat()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("since", "words"),
    [
        ("", "Choose a day."),
        ("yesterday", "Enter a day as YYYY-MM-DD."),
        ("tomorrow", "Choose a day in the past"),
        ("ancient", "Microsoft keeps Defender's alerts for 180 days"),
    ],
)
def test_a_day_the_import_cannot_use_is_refused_in_words_and_changes_nothing(
    staff_client: Client, since: str, words: str
) -> None:
    customer = CustomerFactory(status=CustomerStatus.ACTIVE)
    today = timezone.now().date()
    value = {
        "tomorrow": (today + timedelta(days=1)).isoformat(),
        "ancient": (today - timedelta(days=400)).isoformat(),
    }.get(since, since)
    response = staff_client.post(
        f"/sync/customers/{customer.pk}/import-history/", {"since": value}, follow=True
    )
    assert response.status_code == 200
    assert words.replace("'", "&#x27;") in response.content.decode()
    assert not SyncState.objects.filter(history_since__isnull=False).exists()
    assert not AuditEvent.objects.filter(action="customer.history_import_requested").exists()


@pytest.mark.django_db
def test_a_customer_that_collects_nothing_has_nothing_to_import(onboarding_staff: Any) -> None:
    from django.core.exceptions import ValidationError

    customer = CustomerFactory(status=CustomerStatus.PENDING_CONSENT)
    with pytest.raises(ValidationError, match="collects nothing now"):
        request_history_import(
            customer=customer,
            since=timezone.now().date() - timedelta(days=10),
            actor=onboarding_staff,
        )
