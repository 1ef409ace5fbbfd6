"""Suppression rules on evidence values: a file hash, a device, a user, an IP address or a
URL or domain, read from both shapes Defender sends (Graph's alerts_v2 and the Defender
for Endpoint API), compared exactly after normalising, and never across customers; the
form checks and normalises the values, and "suppress alerts like this" offers the
alert's own values to tick."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.db import transaction
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from partner_portal.alerts.sync.stored import StoredChanges
from partner_portal.alerts.sync.upsert import alerts_upsert
from partner_portal.notifications import outbox
from partner_portal.notifications.evidence_values import evidence_values
from partner_portal.notifications.models import SuppressionHit, SuppressionRule
from tenants.models import Customer, CustomerStatus
from tests.alerts.factories import AlertFactory, CustomerFactory
from tests.notifications.conftest import drain
from tests.notifications.factories import ChannelFactory, PolicyFactory, SuppressionRuleFactory
from tests.notifications.receivers import HttpReceiver
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

SHA256 = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
SHA1 = "A94A8FE5CCB19BA61C4C0873D391E987982FBBD3"
MD5 = "098F6BCD4621D373CADE4E832627B4F6"
DEVICE_ID = "0F9A4C1E2B3D4E5F60718293A4B5C6D7E8F90A1B"

GRAPH_EVIDENCE = [
    {
        "@odata.type": "#microsoft.graph.security.processEvidence",
        "imageFile": {"fileName": "tool.exe", "sha256": SHA256, "sha1": None},
        "userAccount": {
            "accountName": "Alice", "domainName": "CORP", "userPrincipalName": "Alice@Contoso.com",
        },
        "mdeDeviceId": DEVICE_ID,
    },
    {
        "@odata.type": "#microsoft.graph.security.deviceEvidence",
        "deviceDnsName": "WS-0042.corp.contoso.com",
        "mdeDeviceId": DEVICE_ID,
    },
    {"@odata.type": "#microsoft.graph.security.ipEvidence", "ipAddress": "2001:DB8::0001"},
    {"@odata.type": "#microsoft.graph.security.urlEvidence", "url": "HTTPS://Bad.Example.COM/x"},
]  # fmt: skip
MDE_EVIDENCE = [
    {"entityType": "File", "sha1": SHA1, "md5": MD5, "fileName": "a.dll"},
    {"entityType": "User", "accountName": "bob", "domainName": "CORP",
     "userPrincipalName": "BOB@contoso.com"},
    {"entityType": "Ip", "ipAddress": "10.0.0.7"},
    {"entityType": "Url", "url": "http://downloads.example.net/get"},
]  # fmt: skip


@pytest.mark.parametrize(
    ("evidence", "kind", "value"),
    [
        (GRAPH_EVIDENCE, "file_hashes", SHA256.lower()),
        (GRAPH_EVIDENCE, "devices", DEVICE_ID.lower()),
        (GRAPH_EVIDENCE, "devices", "ws-0042.corp.contoso.com"),
        (GRAPH_EVIDENCE, "users", "alice@contoso.com"),
        (GRAPH_EVIDENCE, "users", "corp\\alice"),
        (GRAPH_EVIDENCE, "ip_addresses", "2001:db8::1"),
        (GRAPH_EVIDENCE, "urls", "https://bad.example.com/x"),
        (GRAPH_EVIDENCE, "urls", "bad.example.com"),
        (MDE_EVIDENCE, "file_hashes", SHA1.lower()),
        (MDE_EVIDENCE, "file_hashes", MD5.lower()),
        (MDE_EVIDENCE, "users", "bob@contoso.com"),
        (MDE_EVIDENCE, "users", "bob"),
        (MDE_EVIDENCE, "ip_addresses", "10.0.0.7"),
        (MDE_EVIDENCE, "urls", "downloads.example.net"),
    ],
)
def test_each_evidence_kind_is_read_from_both_shapes_and_normalised(
    evidence: list[dict[str, Any]], kind: str, value: str
) -> None:
    assert value in evidence_values({"evidence": evidence}).of(kind)


def test_loosely_similar_values_do_not_match() -> None:
    values = evidence_values({"evidence": GRAPH_EVIDENCE})
    assert "ws-0042" not in values.devices  # a short name is not the device's name
    assert "example.com" not in values.urls  # a parent domain is not the URL's host
    assert "2001:db8::2" not in values.ip_addresses


def test_the_legacy_alerts_device_and_user_columns_count_as_evidence() -> None:
    values = evidence_values(
        {}, machine_id=DEVICE_ID, computer_dns_name="PC-7.corp", related_user="CORP\\Carol"
    )
    assert values.devices == {DEVICE_ID.lower(), "pc-7.corp"}
    assert values.users == {"corp\\carol", "carol"}


@pytest.fixture
def hook(receiver: HttpReceiver) -> HttpReceiver:
    PolicyFactory(name="Everything", channels=[ChannelFactory(url=receiver.url("/hook"))])
    return receiver


def delivered(receiver: HttpReceiver) -> list[str]:
    return sorted(
        alert["alert_id"]
        for request in receiver.accepted("/hook")
        for alert in json.loads(request.body)["alerts"]
    )


def test_a_hash_rule_catches_the_synced_alert_with_that_file_and_no_other(
    customer: Customer, hook: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    SuppressionRuleFactory(customers=[customer], file_hashes=[SHA1.lower()])
    alerts_upsert(
        customer_id=customer.pk,
        records=[
            make_alert("da-file", evidence=MDE_EVIDENCE),
            make_alert("da-other", evidence=[{"entityType": "File", "sha1": "0" * 40}]),
        ],
    )
    assert list(SuppressionHit.objects.values_list("alert_id", flat=True)) == ["da-file"]
    assert drain() == ["delivered"]
    assert delivered(hook) == ["da-other"]


def test_every_evidence_condition_must_hold(
    customer: Customer, hook: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    SuppressionRuleFactory(ip_addresses=["10.0.0.7"], users=["someone-else@contoso.com"])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-ip", evidence=MDE_EVIDENCE)])
    assert not SuppressionHit.objects.exists()
    assert drain() == ["delivered"]


def test_a_graph_alerts_evidence_is_matched_by_the_outbox(customer: Customer) -> None:
    SuppressionRuleFactory(customers=[customer], devices=["ws-0042.corp.contoso.com"])
    SuppressionRuleFactory(customers=[customer], urls=["bad.example.com"])
    alert = AlertFactory(
        customer=customer, raw={"evidence": GRAPH_EVIDENCE}, from_graph=True,
        last_updated_at=timezone.now(),
    )  # fmt: skip
    with transaction.atomic():
        outbox.record_stored(StoredChanges(customer.pk, new_alert_ids=(alert.alert_id,)))
    assert SuppressionHit.objects.filter(alert_id=alert.alert_id).count() == 2


def test_a_rule_for_one_customer_never_catches_the_same_evidence_at_another(
    customer: Customer, hook: HttpReceiver, make_alert: Callable[..., Any]
) -> None:
    other = CustomerFactory(display_name="Northwind", status=CustomerStatus.ACTIVE)
    SuppressionRuleFactory(customers=[customer], ip_addresses=["10.0.0.7"])
    alerts_upsert(customer_id=other.pk, records=[make_alert("da-theirs", evidence=MDE_EVIDENCE)])
    alerts_upsert(customer_id=customer.pk, records=[make_alert("da-mine", evidence=MDE_EVIDENCE)])
    assert list(SuppressionHit.objects.values_list("customer_id", "alert_id")) == [
        (customer.pk, "da-mine")
    ]
    drain()
    assert delivered(hook) == ["da-theirs"]


# --- the form ---------------------------------------------------------------------------------
def rule_form(**fields: Any) -> dict[str, Any]:
    return {"reason": "Known admin tooling", "days": "7", "action": "mute", **fields}


def test_the_form_saves_evidence_values_normalised_and_audits_them(
    admin_client_portal: Client,
) -> None:
    response = admin_client_portal.post(
        reverse("notifications:suppression_create"),
        rule_form(
            file_hashes_text=f"{SHA256}\n{MD5}, {MD5.lower()}",
            devices_text="WS-0042.corp.contoso.com.",
            users_text="Alice@Contoso.com",
            ip_addresses_text="2001:DB8::0001",
            urls_text="Bad.Example.com HTTPS://Bad.Example.COM/x",
        ),
    )
    assert response.status_code == 302
    rule = SuppressionRule.objects.get()
    assert rule.file_hashes == [SHA256.lower(), MD5.lower()]
    assert rule.devices == ["ws-0042.corp.contoso.com"]
    assert rule.users == ["alice@contoso.com"]
    assert rule.ip_addresses == ["2001:db8::1"]
    assert rule.urls == ["bad.example.com", "https://bad.example.com/x"]
    edit = admin_client_portal.get(reverse("notifications:suppression_edit", args=[rule.pk]))
    assert "2001:db8::1</textarea>" in edit.content.decode()


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("file_hashes_text", "abc123", "is not a SHA-256, SHA-1 or MD5 hash"),
        ("ip_addresses_text", "10.0.0.300", "is not an IP address"),
        ("urls_text", "not a domain!", "is neither a URL"),
    ],
)
def test_a_value_that_is_not_of_its_kind_is_named_in_the_error(
    admin_client_portal: Client, field: str, value: str, error: str
) -> None:
    response = admin_client_portal.post(
        reverse("notifications:suppression_create"), rule_form(**{field: value})
    )
    assert response.status_code == 400
    assert error in response.content.decode()
    assert not SuppressionRule.objects.exists()


def test_suppress_alerts_like_this_offers_the_alerts_evidence_values_to_tick(
    customer: Customer, admin_client_portal: Client
) -> None:
    alert = AlertFactory(
        customer=customer, raw={"evidence": MDE_EVIDENCE}, computer_dns_name="pc-9.corp",
        created_at=timezone.now(),
    )  # fmt: skip
    link = f"{reverse('notifications:suppression_create')}?alert={alert.pk}"
    page = admin_client_portal.get(link).content.decode()
    for value in (SHA1.lower(), MD5.lower(), "pc-9.corp", "bob@contoso.com", "10.0.0.7"):
        assert f'value="{value}"' in page
    response = admin_client_portal.post(
        link, rule_form(customers=[customer.pk], file_hashes_pick=[MD5.lower()])
    )
    assert response.status_code == 302
    assert SuppressionRule.objects.get().file_hashes == [MD5.lower()]


def test_a_rules_page_previews_the_recent_alerts_its_evidence_matches_within_the_readers_scope(
    customer: Customer, analyst: Any
) -> None:
    other = CustomerFactory(display_name="Northwind", status=CustomerStatus.ACTIVE)
    rule = SuppressionRuleFactory(ip_addresses=["10.0.0.7"])
    now = timezone.now()
    mine = AlertFactory(customer=customer, raw={"evidence": MDE_EVIDENCE}, created_at=now)
    AlertFactory(customer=customer, raw={"evidence": []}, created_at=now)
    theirs = AlertFactory(customer=other, raw={"evidence": MDE_EVIDENCE}, created_at=now)
    AnalystScopeFactory(user=analyst, customer=customer)
    client = Client()
    client.force_login(analyst)
    page = client.get(reverse("notifications:suppression_detail", args=[rule.pk])).content.decode()
    assert '<span id="preview-count">1</span>' in page
    assert f'data-alert-id="{mine.alert_id}"' in page
    assert theirs.alert_id not in page
