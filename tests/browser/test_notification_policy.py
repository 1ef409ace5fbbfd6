"""In Chromium, against the running portal (web, worker, beat) and the sandbox: an admin
tags a customer Gold, adds a Teams channel and a policy "High, customers tagged Gold";
a High alert raised in the sandbox for the Gold customer reaches the Teams receiver as
an Adaptive Card and shows in the channel's delivery log, while the same at a customer
without the tag sends nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser.conftest import Console
from tests.notifications.receivers import HttpReceiver
from tests.waiting import wait_until

pytestmark = [pytest.mark.sandbox, pytest.mark.browser]

TEAMS_PATH = "/teams/workflows/s3cr3t-gold"
POLICY = "High, customers tagged Gold"


@pytest.fixture
def teams() -> Any:
    with HttpReceiver() as server:
        yield server


def _raise_high_alert(console: Console, customer: str) -> str:
    """Raise alerts in the customer's tenant until one is High (the sandbox picks each
    alert's severity); that alert's ID."""
    _, tenant_id = console.customers[customer]
    for _ in range(40):
        created = console.sandbox.control(
            "POST", f"/_sandbox/tenants/{tenant_id}/alerts", json={"count": 1}
        )
        created.raise_for_status()
        new_id = created.json()["ids"][0]
        truth = console.sandbox.control("GET", f"/_sandbox/ground-truth?tenant={tenant_id}")
        severity = {a["id"]: a["severity"] for a in truth.json()["value"]}[new_id]
        if severity == "High":
            return str(new_id)
    raise AssertionError(f"the sandbox raised no High alert for {customer} in 40 tries")


def _cards(teams: HttpReceiver) -> list[dict[str, Any]]:
    return [json.loads(r.body)["attachments"][0] for r in teams.accepted(TEAMS_PATH)]


def _stored_alert_ids(console: Console) -> set[str]:
    response = console.driver.session.get(f"{console.url}/alerts/export.json", timeout=30)
    response.raise_for_status()
    return {str(row["alert_id"]) for row in response.json()}


def test_a_high_alert_of_a_gold_customer_reaches_teams_and_the_delivery_log(
    page: Any, console: Console, teams: HttpReceiver
) -> None:
    gold, plain = "Contoso Retail", "Fabrikam Health"
    gold_pk, _ = console.customers[gold]

    page.goto(f"{console.url}/notifications/tags/")
    page.fill("#tag-form #id_name", "Gold")
    page.click("#tag-form button[type=submit]")
    row = page.locator(f"#customer-tag-table tr[data-customer-id='{gold_pk}']")
    row.locator("label:has-text('Gold') input[type=checkbox]").check()
    row.locator("button[type=submit]").click()
    page.wait_for_selector("text=Saved the tags of Contoso Retail")

    page.goto(f"{console.url}/notifications/channels/new/")
    page.fill("#id_name", "SOC Teams")
    page.select_option("#id_kind", "teams")
    page.fill("#id_url", teams.url(TEAMS_PATH))
    page.click("#channel-form button[type=submit]")
    page.wait_for_selector("#delivery-table")
    channel_url = page.url
    assert teams.url(TEAMS_PATH) not in page.content()  # the URL is a secret

    page.goto(f"{console.url}/notifications/policies/new/")
    page.fill("#id_name", POLICY)
    page.select_option("#id_tags", label="Gold")
    page.check("input[name=severities][value=High]")
    page.select_option("#id_channels", label="SOC Teams")
    page.fill("#id_group_wait_seconds", "0")
    page.click("#policy-form button[type=submit]")
    page.wait_for_url(f"{console.url}/notifications/policies/")
    assert POLICY in page.inner_text("main")

    plain_id = _raise_high_alert(console, plain)
    gold_id = _raise_high_alert(console, gold)

    # The worker syncs both customers within their 30-second interval; the policy sends
    # the Gold customer's alert at once (no group wait).
    wait_until(
        lambda: _cards(teams), timeout=240, every=1,
        message=lambda: f"no card arrived; the portal said: {''.join(console.portal.output[-40:])}",
    )  # fmt: skip
    wait_until(
        lambda: {gold_id, plain_id} <= _stored_alert_ids(console), timeout=120, every=1,
        message=lambda: "the two new alerts were not both stored",
    )  # fmt: skip
    cards = _cards(teams)
    assert len(cards) == 1, cards
    card = cards[0]
    assert card["contentType"] == "application/vnd.microsoft.card.adaptive"
    content = card["content"]
    assert content["type"] == "AdaptiveCard"
    assert content["body"][0]["text"].startswith(f"[{gold}] High: ")
    urls = [action["url"] for action in content["actions"]]
    assert any(f"security.microsoft.com/alerts/{gold_id}" in url for url in urls), urls
    assert any(url.startswith(f"{console.url}/alerts/") for url in urls), urls
    assert plain_id not in json.dumps(cards)

    page.goto(channel_url)
    delivered = page.locator("#delivery-table tr[data-status='delivered']")
    wait_until(
        lambda: page.reload() or delivered.count() == 1, timeout=60, every=1,
        message=lambda: page.inner_text("#delivery-table"),
    )  # fmt: skip
    logged = delivered.inner_text()
    assert gold in logged
    assert f"alert:{gold_id} (1 alert)" in logged
    assert f"policy {POLICY}" in logged
    assert "Delivered" in logged
    assert "(HTTP 200)" in logged
