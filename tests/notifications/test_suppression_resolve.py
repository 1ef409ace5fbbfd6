"""The resolve action against the sandbox: an alert a rule catches notifies nobody and is
resolved in Defender (the sandbox's ground truth), with the rule's classification, in the
rule owner's name; syncing the resolved alert back changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.defender import parse_alert
from partner_portal.notifications import tasks
from partner_portal.notifications.models import Notification, SuppressionAction, SuppressionHit
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft
from tenants.models import AuditEvent, Customer, CustomerStatus
from tests.alerts.conftest import ground_truth, point_portal_at
from tests.alerts.factories import CustomerFactory
from tests.fixtures.sandbox import sandbox_fixture
from tests.notifications.conftest import drain
from tests.notifications.factories import ChannelFactory, PolicyFactory, SuppressionRuleFactory
from tests.notifications.receivers import HttpReceiver

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db]

resolve_sandbox = sandbox_fixture(
    "suppress-resolve", tenants=1, consented=1, alerts_per_tenant=8, seed=1414
)


@pytest.fixture
def tenant_customer(resolve_sandbox: SandboxProcess, settings: Any) -> Iterator[Customer]:
    point_portal_at(resolve_sandbox, settings)
    # The sandbox's alerts were made some time ago; route them all the same.
    settings.NOTIFY_MAX_ALERT_AGE_HOURS = 24 * 3650
    tenant = resolve_sandbox.tenants[0]
    yield CustomerFactory(
        display_name=tenant["name"], tenant_id=tenant["tenant_id"],
        status=CustomerStatus.ACTIVE, granted_roles=sorted(tenant["roles"]),
    )  # fmt: skip
    microsoft.reset_for_tests()


def test_the_resolve_action_resolves_the_alert_in_defender_and_sends_nothing(
    tenant_customer: Customer,
    resolve_sandbox: SandboxProcess,
    portal_admin: Any,
    receiver: HttpReceiver,
    django_capture_on_commit_callbacks: Any,
) -> None:
    tenant = str(tenant_customer.tenant_id)
    truth = ground_truth(resolve_sandbox, tenant)
    target = next(a for a in truth.values() if a["status"] != "Resolved")
    PolicyFactory(channels=[ChannelFactory(url=receiver.url("/hook"))])
    rule = SuppressionRuleFactory(
        owner=portal_admin, customers=[tenant_customer], title_contains=target["title"],
        severities=[target["severity"]], action=SuppressionAction.RESOLVE,
        classification="FalsePositive", determination="Other", reason="Lab machine noise",
    )  # fmt: skip

    with django_capture_on_commit_callbacks(execute=False):
        alerts_upsert(
            customer_id=tenant_customer.pk, records=[parse_alert(a) for a in truth.values()]
        )
    hits = list(SuppressionHit.objects.filter(rule=rule))
    assert target["id"] in [hit.alert_id for hit in hits]
    pending = [hit for hit in hits if hit.resolve == SuppressionHit.Resolve.PENDING]
    assert len(pending) == len(hits)

    # What the worker runs for each pending hit; running it twice changes nothing more.
    assert {tasks.resolve_suppressed(hit.pk) for hit in pending} == {"done"}
    assert {tasks.resolve_suppressed(hit.pk) for hit in pending} == {"skipped"}

    after = ground_truth(resolve_sandbox, tenant)[target["id"]]
    assert after["status"] == "Resolved"
    assert after["classification"] == "FalsePositive"
    assert after["determination"] == "Other"
    assert any("Lab machine noise" in c["comment"] for c in after["comments"])
    row = Alert.objects.get(customer=tenant_customer, alert_id=target["id"])
    assert row.status == "Resolved"
    event = AuditEvent.objects.get(action="alert.updated", details__alert_id=target["id"])
    assert event.actor == portal_admin

    # The next sync brings the resolved alert back: still one hit, still nothing sent.
    again = ground_truth(resolve_sandbox, tenant)
    alerts_upsert(customer_id=tenant_customer.pk, records=[parse_alert(a) for a in again.values()])
    assert SuppressionHit.objects.filter(rule=rule, alert_id=target["id"]).count() == 1
    caught = {hit.alert_id for hit in hits}
    assert not any(set(n.alert_ids) & caught for n in Notification.objects.all()), (
        "a suppressed alert was routed"
    )
    drain()
    assert all(target["id"].encode() not in r.body for r in receiver.requests)
