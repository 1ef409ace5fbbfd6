"""An Office 365 alert's e-mail evidence in Chromium: a customer on Microsoft Graph synced
from the sandbox, and the analyst opening one of its Defender for Office 365 alerts reads
the message's sender, recipient, subject and delivery action as Graph sent them; the
copy button copies a value exactly, and the raw JSON is one click away."""

from __future__ import annotations

from typing import Any

import pytest

from partner_portal.alerts.models import Alert, SyncStatus
from partner_portal.alerts.sync.passes import sync_source
from partner_portal.defender.graph_vocab import GRAPH_DELIVERY_ACTIONS

pytestmark = [pytest.mark.sandbox, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

OFFICE = "microsoftDefenderForOffice365"
MESSAGE = "#microsoft.graph.security.analyzedMessageEvidence"


def _message_of(alert: Alert) -> dict[str, Any]:
    found = [e for e in alert.raw["evidence"] if e.get("@odata.type") == MESSAGE]
    assert len(found) == 1, alert.raw["evidence"]
    message: dict[str, Any] = found[0]
    return message


def test_an_office_365_alerts_email_evidence_is_shown_as_graph_sent_it(
    sandbox_factory: Any, bind_customers: Any, signed_in_page: Any
) -> None:
    sandbox = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=10, seed=57)
    (customer,) = bind_customers(sandbox, on_graph=True, collect_incidents=False)
    run = sync_source(customer_id=customer.pk, source="graph_alerts")
    assert run is not None and run.status == SyncStatus.SUCCEEDED, run and run.error_message
    alert = Alert.objects.filter(customer=customer, service_source=OFFICE).first()
    assert alert is not None, "the sandbox makes Defender for Office 365 alerts"
    message = _message_of(alert)

    page = signed_in_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"/alerts/{alert.pk}/")
    item = page.locator('article.evidence-item[data-kind="email"]')
    item.wait_for()

    def shown(label: str) -> str:
        value: str = item.locator(f'dd[data-field="{label}"] .evidence-value').inner_text()
        return value

    assert shown("Sender") == message["p2Sender"]["emailAddress"]
    assert shown("Recipient") == message["recipientEmailAddress"]
    assert shown("Subject") == message["subject"]
    assert shown("Network message ID") == message["networkMessageId"]
    action = item.locator('dd[data-field="Delivery action"] .evidence-value')
    assert action.get_attribute("data-value") == message["deliveryAction"]
    assert action.inner_text() == GRAPH_DELIVERY_ACTIONS.label(message["deliveryAction"])
    assert item.locator(".evidence-title").inner_text() == message["subject"]
    assert item.locator("[data-verdict]").get_attribute("data-verdict") == message["verdict"]

    # The sender copied with its button is the sender, character for character.
    item.locator('dd[data-field="Sender"] button.copy-button').click()
    item.locator('dd[data-field="Sender"] button:has-text("Copied")').wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == message["p2Sender"]["emailAddress"]

    # The raw JSON is hidden until asked for, then holds the item as sent.
    raw = item.locator("details.evidence-raw")
    assert not raw.locator("pre").is_visible()
    raw.locator("summary").click()
    assert message["internetMessageId"] in raw.locator("pre").inner_text()
    # The mailbox and the user of the same alert are laid out as their own kinds.
    assert page.locator('article.evidence-item[data-kind="mailbox"]').count() == 1
    assert page.locator('article.evidence-item[data-kind="user"]').count() >= 1
    assert page.script_errors == []
