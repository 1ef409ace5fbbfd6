"""The alert upsert: idempotent, newest copy wins, evidence kept; the same on SQLite and
on PostgreSQL's COPY path."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection

from partner_portal.alerts.models import Alert
from partner_portal.alerts.sync import upsert
from partner_portal.defender import AlertRecord, parse_alert
from tenants.models import Customer, CustomerStatus
from tests.alerts.factories import CustomerFactory

pytestmark = pytest.mark.django_db


def alert(alert_id: str, updated: str = "2026-01-02T10:00:00Z", **fields: Any) -> AlertRecord:
    data: dict[str, Any] = {
        "id": alert_id,
        "title": f"Alert {alert_id}",
        "severity": "High",
        "status": "New",
        "incidentId": 7,
        "category": "Malware",
        "detectionSource": "WindowsDefenderAv",
        "alertCreationTime": "2026-01-01T09:00:00.1234567Z",
        "lastUpdateTime": updated,
        "mitreTechniques": ["T1059", "T1105"],
        "relatedUser": {"userName": "amy", "domainName": "CONTOSO"},
        "evidence": [],
        **fields,
    }
    return parse_alert(data)


def test_new_alerts_are_created_with_every_column_filled(customer: Customer) -> None:
    result = upsert.alerts_upsert(customer_id=customer.pk, records=[alert("a1"), alert("a2")])
    assert (result.created, result.updated, sorted(result.new_ids)) == (2, 0, ["a1", "a2"])
    row = Alert.objects.get(customer=customer, alert_id="a1")
    assert row.severity == "High" and row.severity_rank == 4
    assert row.incident_id == 7 and row.related_user == "CONTOSO\\amy"
    assert row.mitre_techniques == ["T1059", "T1105"]
    assert row.created_at is not None and row.created_at.microsecond == 123456
    assert row.raw["id"] == "a1" and row.has_evidence is False


def test_repeating_a_page_changes_nothing(customer: Customer) -> None:
    page = [alert("a1"), alert("a2")]
    upsert.alerts_upsert(customer_id=customer.pk, records=page)
    before = {a.alert_id: a.synced_at for a in Alert.objects.all()}
    again = upsert.alerts_upsert(customer_id=customer.pk, records=page)
    assert (again.created, again.updated, again.new_ids) == (0, 0, ())
    assert {a.alert_id: a.synced_at for a in Alert.objects.all()} == before
    assert Alert.objects.count() == 2


def test_a_newer_copy_updates_and_an_older_one_is_ignored(customer: Customer) -> None:
    upsert.alerts_upsert(customer_id=customer.pk, records=[alert("a1")])
    newer = alert("a1", updated="2026-01-03T10:00:00Z", status="Resolved", assignedTo="bob")
    result = upsert.alerts_upsert(customer_id=customer.pk, records=[newer])
    assert (result.created, result.updated) == (0, 1)
    stale = alert("a1", updated="2026-01-02T11:00:00Z", status="InProgress")
    assert upsert.alerts_upsert(customer_id=customer.pk, records=[stale]).updated == 0
    row = Alert.objects.get(alert_id="a1")
    assert (row.status, row.assigned_to) == ("Resolved", "bob")


def test_the_latest_copy_wins_when_a_page_repeats_an_alert(customer: Customer) -> None:
    page = [alert("a1", updated="2026-01-03T00:00:00Z", status="Resolved"), alert("a1")]
    result = upsert.alerts_upsert(customer_id=customer.pk, records=page)
    assert result.created == 1
    assert Alert.objects.get(alert_id="a1").status == "Resolved"


def test_evidence_arriving_later_is_stored_and_kept_through_updates(customer: Customer) -> None:
    upsert.alerts_upsert(customer_id=customer.pk, records=[alert("a1")])
    evidence = [{"entityType": "File", "sha1": "abc"}]
    with_evidence = alert("a1", evidence=evidence)
    assert upsert.alerts_upsert(customer_id=customer.pk, records=[with_evidence]).updated == 1
    later = alert("a1", updated="2026-01-04T00:00:00Z", status="InProgress")
    assert upsert.alerts_upsert(customer_id=customer.pk, records=[later]).updated == 1
    row = Alert.objects.get(alert_id="a1")
    assert row.status == "InProgress"
    assert row.has_evidence is True and row.raw["evidence"] == evidence


def test_customers_do_not_share_alert_ids(customer: Customer) -> None:
    other = CustomerFactory(
        display_name="Fabrikam", tenant_id="22222222-2222-2222-2222-222222222222",
        status=CustomerStatus.ACTIVE,
    )  # fmt: skip
    upsert.alerts_upsert(customer_id=customer.pk, records=[alert("same")])
    result = upsert.alerts_upsert(customer_id=other.pk, records=[alert("same")])
    assert result.created == 1
    assert Alert.objects.filter(alert_id="same").count() == 2


def test_many_upserts_in_one_transaction_work(customer: Customer) -> None:
    # The PostgreSQL path reuses its staging table inside an enclosing transaction.
    for n in range(3):
        upsert.alerts_upsert(customer_id=customer.pk, records=[alert(f"b{n}"), alert("a1")])
    assert Alert.objects.filter(customer=customer).count() == 4


@pytest.mark.postgres
def test_postgres_takes_the_copy_path_and_matches_the_portable_one(customer: Customer) -> None:
    assert connection.vendor == "postgresql"
    other = CustomerFactory(
        display_name="Fabrikam", tenant_id="22222222-2222-2222-2222-222222222222",
        status=CustomerStatus.ACTIVE,
    )  # fmt: skip
    page = [alert(f"x{n}", severity="Low", threatFamilyName=None) for n in range(50)]
    fast = upsert._alerts_upsert_postgres(customer.pk, {r.id: r for r in page})
    portable = upsert._alerts_upsert_portable(other.pk, {r.id: r for r in page})
    assert (fast.created, fast.updated) == (portable.created, portable.updated) == (50, 0)
    skip = {"id", "customer", "synced_at"}
    names = [f.name for f in Alert._meta.concrete_fields if f.name not in skip]
    mine = sorted(Alert.objects.filter(customer=customer).values_list(*names))
    theirs = sorted(Alert.objects.filter(customer=other).values_list(*names))
    assert mine == theirs


@pytest.mark.postgres
def test_postgres_falls_back_to_merging_when_a_row_appears_under_the_direct_copy(
    customer: Customer, monkeypatch: pytest.MonkeyPatch
) -> None:
    upsert.alerts_upsert(customer_id=customer.pk, records=[alert("a1")])
    # As if another pass wrote "a1" between the check and the COPY.
    monkeypatch.setattr("django.db.models.query.QuerySet.exists", lambda self: False)
    newer = alert("a1", updated="2026-01-05T00:00:00Z", status="Resolved")
    result = upsert.alerts_upsert(customer_id=customer.pk, records=[newer, alert("a2")])
    assert (result.created, result.updated, result.new_ids) == (1, 1, ("a2",))
    assert Alert.objects.get(alert_id="a1").status == "Resolved"
    assert Alert.objects.count() == 2


def test_one_known_alert_at_the_end_of_a_large_page_is_merged_not_copied(
    customer: Customer,
) -> None:
    upsert.alerts_upsert(
        customer_id=customer.pk, records=[alert("z1999", updated="2026-01-09T00:00:00Z")]
    )
    page = [alert(f"z{n}") for n in range(2000)]  # "z1999" here is older than the stored one
    result = upsert.alerts_upsert(customer_id=customer.pk, records=page)
    assert (result.created, result.updated) == (1999, 0)
    assert "z1999" not in result.new_ids
    assert Alert.objects.filter(customer=customer).count() == 2000
    kept = Alert.objects.get(customer=customer, alert_id="z1999")
    assert kept.last_updated_at is not None and kept.last_updated_at.day == 9


def test_text_that_copy_must_escape_is_stored_unchanged(customer: Customer) -> None:
    title = 'tab\there, line\nbreak, back\\slash, quote " and ünïcødé ✓'
    record = alert("esc", title=title, description="\\N is not null")
    upsert.alerts_upsert(customer_id=customer.pk, records=[record])
    row = Alert.objects.get(alert_id="esc")
    assert (row.title, row.description) == (title, "\\N is not null")
    assert row.raw["title"] == title
    assert row.mitre_techniques == ["T1059", "T1105"]


def graph_alert(alert_id: str, updated: str = "2026-01-02T10:00:00Z", **fields: Any) -> Any:
    from partner_portal.defender import parse_graph_alert

    data: dict[str, Any] = {
        "id": alert_id,
        "providerAlertId": alert_id,
        "incidentId": "7",
        "title": f"Alert {alert_id}",
        "severity": "high",
        "status": "inProgress",
        "classification": "unknown",
        "determination": "unknown",
        "serviceSource": "microsoftDefenderForEndpoint",
        "detectionSource": "antivirus",
        "category": "Malware",
        "createdDateTime": "2026-01-01T09:00:00.1234567Z",
        "lastUpdateDateTime": updated,
        "alertWebUrl": f"https://security.microsoft.com/alerts/{alert_id}",
        "incidentWebUrl": "https://security.microsoft.com/incidents/7",
        "mitreTechniques": ["T1059"],
        "systemTags": ["Defender Experts"],
        "comments": [],
        "evidence": [
            {
                "@odata.type": "#microsoft.graph.security.deviceEvidence",
                "mdeDeviceId": "f" * 40,
                "deviceDnsName": "pc1.contoso.com",
                "verdict": "suspicious",
            },
            {
                "@odata.type": "#microsoft.graph.security.userEvidence",
                "userAccount": {"accountName": "amy", "domainName": "CONTOSO"},
            },
        ],
        **fields,
    }
    return parse_graph_alert(data)


@pytest.mark.parametrize("path", ["portable", "postgres"])
def test_graphs_copy_of_an_alert_rewrites_the_row_in_place(customer: Customer, path: str) -> None:
    if path == "postgres" and connection.vendor != "postgresql":
        pytest.skip("the COPY path is PostgreSQL's")
    write = upsert._alerts_upsert_portable if path == "portable" else upsert._alerts_upsert_postgres
    write(customer.pk, {"a1": alert("a1"), "a2": alert("a2")})
    pk = Alert.objects.get(alert_id="a1").pk
    # The same moment of change as the stored copy: Graph's copy is written all the same.
    result = write(customer.pk, {"a1": graph_alert("a1"), "o1": graph_alert("o1")})
    assert (result.created, result.updated, result.new_ids) == (1, 1, ("o1",))
    row = Alert.objects.get(alert_id="a1")
    assert row.pk == pk and row.from_graph
    assert (row.status, row.severity, row.severity_rank) == ("InProgress", "High", 4)
    assert (row.classification, row.determination) == ("", "")
    assert (row.machine_id, row.computer_dns_name) == ("f" * 40, "pc1.contoso.com")
    assert row.related_user == "CONTOSO\\amy" and row.incident_id == 7
    assert row.service_source == "microsoftDefenderForEndpoint"
    assert row.alert_web_url.endswith("/alerts/a1") and row.system_tags == ["Defender Experts"]
    assert row.has_evidence and row.raw["evidence"][0]["deviceDnsName"] == "pc1.contoso.com"
    # Once from Graph, a repeat or an older copy of either API changes nothing.
    assert write(customer.pk, {"a1": graph_alert("a1")}).updated == 0
    assert write(customer.pk, {"a1": alert("a1")}).updated == 0
    assert Alert.objects.get(alert_id="a1").from_graph
    assert Alert.objects.filter(customer=customer).count() == 3
