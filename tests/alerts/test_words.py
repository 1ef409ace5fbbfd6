"""Codes shown as words: statuses, classifications, determinations and states read as the
portal's words on every page, and a change to an alert reads as a sentence."""

from __future__ import annotations

import pytest
from django.test import Client

from partner_portal.alerts.change_words import describe_alert_changes
from partner_portal.alerts.writeback_outcomes import Outcome, WriteResult, record_outcome
from partner_portal.defender import in_words
from tenants.models import AuditEvent
from tests.alerts.factories import AlertFactory, IncidentFactory
from tests.tenants.factories import AnalystScopeFactory


@pytest.mark.parametrize(
    ("code", "words"),
    [
        ("InformationalExpectedActivity", "Informational, expected activity"),
        ("informationalExpectedActivity", "Informational, expected activity"),
        ("InProgress", "In progress"),
        ("FalsePositive", "False positive"),
        ("SecurityTesting", "Security testing"),
        ("UnsupportedAlertType", "Unsupported alert type"),
        ("NotAvailable", "Not available"),
        ("Unknown", "Unknown"),
        ("", ""),
    ],
)
def test_every_code_has_words(code: str, words: str) -> None:
    assert in_words(code) == words


def test_a_change_reads_as_a_sentence() -> None:
    what = describe_alert_changes(
        {"status": "Resolved", "assigned_to": "sam@partner.example",
         "classification": "FalsePositive", "comment": "Tested."}
    )  # fmt: skip
    assert what == (
        "status set to Resolved, assigned to sam@partner.example, classified as False "
        "positive and a comment added"
    )
    assert describe_alert_changes({"assigned_to": ""}) == "unassigned"
    assert "=" not in what and "'" not in what


@pytest.mark.django_db
def test_the_audit_line_of_a_write_back_is_a_sentence(analyst: object) -> None:
    alert = AlertFactory(title="Mimikatz")
    result = WriteResult(
        alert, Outcome.UPDATED, "Saved in Defender.",
        {"status": "InProgress", "determination": "SecurityTesting"},
    )  # fmt: skip
    record_outcome(result, analyst, None, 2, False)  # type: ignore[arg-type]
    summary = AuditEvent.objects.get(action="alert.updated").summary
    assert summary == (
        "Changed alert Mimikatz in Defender: status set to In progress and determination "
        "set to Security testing"
    )


@pytest.mark.django_db
def test_alert_and_incident_pages_show_words_not_codes(
    analyst: object, analyst_client: Client
) -> None:
    alert = AlertFactory(
        status="InProgress", classification="InformationalExpectedActivity",
        determination="SecurityTesting", investigation_state="UnsupportedAlertType",
    )  # fmt: skip
    AnalystScopeFactory(user=analyst, customer=alert.customer)
    page = analyst_client.get(f"/alerts/{alert.pk}/").content.decode()
    for code in ("InformationalExpectedActivity", "SecurityTesting", "UnsupportedAlertType"):
        assert f">{code}<" not in page and f"({code})" not in page
    assert "Informational, expected activity" in page
    assert "Security testing" in page
    assert "None: unsupported alert type" in page
    assert ">In progress</span>" in page

    listing = analyst_client.get("/alerts/").content.decode()
    assert "Informational, expected activity" in listing

    incident = IncidentFactory(customer=alert.customer, status="InProgress")
    incidents = analyst_client.get("/incidents/").content.decode()
    assert ">In progress</span>" in incidents and ">InProgress<" not in incidents
    detail = analyst_client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "<span>In progress</span>" in detail
