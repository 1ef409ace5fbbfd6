"""Two customers' pages indexed at the same moment: each indexing transaction cannot see
the other's sightings until it commits, so without taking turns both would count one
customer and the campaign they make together would go untold (for an indicator already
known; a new one makes the second wait on the first's insert anyway). They take turns,
and it is told once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import connection
from django.utils import timezone

from partner_portal.correlation.index import index_pending
from partner_portal.correlation.indexed import (
    IndexedAlerts,
    register_index_listener,
    unregister_index_listener,
)
from partner_portal.correlation.models import PendingIndex
from partner_portal.notifications.campaign_events import ADVISORY_LOCK, GROUP_PREFIX
from partner_portal.notifications.models import Notification
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.correlation.factories import IndicatorFactory
from tests.notifications.factories import ChannelFactory, PolicyFactory
from tests.waiting import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

HASH = "c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2"
HOLD = "tests.hold_first_page"


def _someone_waits_for_the_turn() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
            "AND ((classid::bigint << 32) | objid::bigint) = %s",
            [ADVISORY_LOCK],
        )
        return bool(cursor.fetchone()[0])


@pytest.fixture
def hold_first() -> Iterator[threading.Event]:
    """The first page's transaction, once it has read the index, waits (uncommitted)
    until the second page's transaction is waiting for its turn."""
    inside = threading.Event()

    def hold(indexed: IndexedAlerts) -> None:
        if threading.current_thread().name == "first":
            inside.set()
            wait_until(_someone_waits_for_the_turn, timeout=60, every=0.05,
                       message=lambda: "the second page never waited for its turn")  # fmt: skip

    register_index_listener(HOLD, hold)
    yield inside
    unregister_index_listener(HOLD)


def test_pages_of_two_customers_indexed_together_still_make_their_campaign(
    hold_first: threading.Event,
) -> None:
    PolicyFactory(name="Campaigns", campaign_events=True, channels=[ChannelFactory()])
    # Known already (a new one would make the second page wait on the first's insert).
    IndicatorFactory(kind="sha256", value=HASH)
    for customer in (CustomerFactory(), CustomerFactory()):
        alert = AlertFactory(
            customer=customer, created_at=timezone.now(), mitre_techniques=[],
            raw={"evidence": [{"sha256": HASH}]},
        )  # fmt: skip
        PendingIndex.objects.create(customer_id=customer.pk, alert_ids=[alert.alert_id])
    failures: list[BaseException] = []

    def index_one() -> None:
        try:
            index_pending(limit=1)
        except BaseException as exc:
            failures.append(exc)
        finally:
            connection.close()

    first = threading.Thread(target=index_one, name="first")
    first.start()
    assert hold_first.wait(timeout=60)
    second = threading.Thread(target=index_one, name="second")
    second.start()
    first.join(timeout=120)
    second.join(timeout=120)
    assert not failures, failures
    told = Notification.objects.filter(group_key__startswith=GROUP_PREFIX)
    assert list(told.values_list("round", flat=True)) == [2]
