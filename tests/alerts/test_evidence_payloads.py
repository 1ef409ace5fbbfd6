"""Microsoft's documented Graph examples, stored through the portal's Graph sync path and
rendered: every evidence value the alert page shows is the value Microsoft sent, character
for character (command lines, hashes, registry keys), and every item keeps its JSON whole.

The payloads are the example responses of Microsoft's Graph reference pages
(`tests/defender/graph_payloads/`): alerts with device, file, process and registry
evidence, and incidents in both casings Microsoft prints (`Active`/`TruePositive` on one
page, `active`/`truePositive` on another). The e-mail alert is the project's own, written
to hold every other kind of evidence (and one kind nobody knows).
"""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from partner_portal.alerts.models import Alert, Incident
from partner_portal.alerts.sync.sources.graph_alerts import GraphAlerts
from partner_portal.alerts.sync.sources.graph_incidents import GraphIncidents
from partner_portal.defender import parse_graph_alert_page, parse_graph_incident_page
from tests.alerts.factories import CustomerFactory
from tests.tenants.factories import AnalystScopeFactory

pytestmark = pytest.mark.django_db

PAYLOADS = Path(__file__).resolve().parents[1] / "defender" / "graph_payloads"


def _payload(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((PAYLOADS / name).read_text(encoding="utf-8"))
    return data if "value" in data else {"value": [data]}


class EvidencePage(HTMLParser):
    """Per evidence article: the values shown (element text and the attributes that keep
    Microsoft's value beside a word or a readable time), and the raw JSON disclosed."""

    CAPTURE_ATTRS = ("data-detailed-role", "data-tag", "data-remediation-details")
    VALUE_ATTRS = ("datetime", "data-value", "data-verdict", "data-remediation", "data-role")

    def __init__(self) -> None:
        super().__init__()
        self.items: list[dict[str, Any]] = []
        self.stack: list[tuple[str, list[str] | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        classes = (found.get("class") or "").split()
        if tag == "article" and "evidence-item" in classes:
            self.items.append({"kind": found.get("data-kind"), "shown": set(), "raw": []})
        capture = None
        if self.items:
            shown = self.items[-1]["shown"]
            shown.update(found[a] for a in self.VALUE_ATTRS if found.get(a) is not None)
            if "evidence-value" in classes or any(a in found for a in self.CAPTURE_ATTRS):
                capture = []
            elif tag == "pre":
                capture = self.items[-1]["raw"]
        self.stack.append((tag, capture))

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            name, capture = self.stack.pop()
            if capture is not None and name != "pre":
                self.items[-1]["shown"].add("".join(capture))
            if name == tag:
                break

    def handle_data(self, data: str) -> None:
        for _, capture in self.stack:
            if capture is not None:
                capture.append(data)


def _evidence_on(page: str) -> list[dict[str, Any]]:
    parser = EvidencePage()
    parser.feed(page)
    return parser.items


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _leaves(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [leaf for v in value.values() for leaf in _leaves(v)]
    if isinstance(value, list):
        return [leaf for v in value for leaf in _leaves(v)]
    return [] if value in (None, "") or isinstance(value, bool) else [_text(value)]


def _not_shown(item: dict[str, Any], shown: set[str]) -> list[str]:
    """Each field of `item` whose value the page does not show unchanged: every leaf on
    its own, or (for a kind laid out as sent) the field's JSON whole."""
    missing = []
    for key, value in item.items():
        if key == "@odata.type" or _text(value) in shown:
            continue
        missing += [f"{key}: {leaf!r}" for leaf in _leaves(value) if leaf not in shown]
    return missing


@pytest.fixture
def stored(analyst: object) -> dict[str, Any]:
    """Microsoft's examples stored as a sync stores a page, for two customers."""
    camel = CustomerFactory(display_name="Contoso (camelCase)")
    pascal = CustomerFactory(display_name="Fabrikam (PascalCase)")
    alerts, incidents = GraphAlerts(), GraphIncidents()
    for name in ("get_alert.json", "list_alerts_v2.json", "mail_alert_written_for_tests.json"):
        alerts.store(customer_id=camel.pk, page=parse_graph_alert_page(_payload(name)).items)
    expanded = parse_graph_incident_page(_payload("list_incidents_expand_alerts.json")).items
    incidents.store(customer_id=camel.pk, page=expanded)
    for incident in expanded:
        alerts.store(customer_id=camel.pk, page=list(incident.alerts or ()))
    incidents.store(
        customer_id=pascal.pk,
        page=parse_graph_incident_page(_payload("get_incident.json")).items,
    )
    for customer in (camel, pascal):
        AnalystScopeFactory(user=analyst, customer=customer)
    client = Client()
    client.force_login(analyst)  # type: ignore[arg-type]
    return {"client": client, "camel": camel, "pascal": pascal}


def test_every_evidence_value_of_microsofts_examples_is_shown_unchanged(
    stored: dict[str, Any],
) -> None:
    sent = {}
    for name in ("get_alert.json", "list_alerts_v2.json", "mail_alert_written_for_tests.json"):
        for alert in _payload(name)["value"]:
            sent[alert["id"]] = alert
    assert Alert.objects.filter(customer=stored["camel"]).count() == len(sent) == 3
    kinds_seen = set()
    for alert_id, alert in sent.items():
        row = Alert.objects.get(customer=stored["camel"], alert_id=alert_id)
        page = stored["client"].get(f"/alerts/{row.pk}/").content.decode()
        shown = _evidence_on(page)
        assert len(shown) == len(alert["evidence"]), alert_id
        for index, (item, on_page) in enumerate(zip(alert["evidence"], shown, strict=True)):
            where = f"{alert_id} evidence[{index}] {item['@odata.type']}"
            assert _not_shown(item, on_page["shown"]) == [], where
            assert json.loads("".join(on_page["raw"])) == item, where
            kinds_seen.add(on_page["kind"])
    # Each kind Microsoft documents in these examples is laid out as its own, and the
    # kind nobody documents is kept, shown as sent.
    assert {"device", "file", "process", "registry", "email", "mailbox", "user", "ip"} <= kinds_seen
    assert {"url", "cloudapp", "oauthapp", "mailcluster", "other"} <= kinds_seen


def test_the_examples_values_that_analysts_copy_are_on_the_page_character_for_character(
    stored: dict[str, Any],
) -> None:
    row = Alert.objects.get(customer=stored["camel"], alert_id="da637578995287051192_756343937")
    page = stored["client"].get(f"/alerts/{row.pk}/").content.decode()
    process = _evidence_on(page)[2]
    assert process["kind"] == "process"
    for value in (
        '"MsSense.exe"',  # the command line, quotes included
        "8963a19fb992ad9a76576c5638fd68292cffb9aaac29eb8285f9abf6196a7dec",
        "5f1e8acedc065031aad553b710838eb366cfee9a",
        "4780",
        "668",
        "services.exe",
        "C:\\Windows\\System32",
        "S-1-5-18",
        "2021-08-12T12:43:19.0772577Z",
    ):
        assert value in process["shown"], value
    registry = _evidence_on(page)[3]
    assert "SYSTEM\\CONTROLSET001\\CONTROL\\WMI\\AUTOLOGGER\\SENSEAUDITLOGGER" in registry["shown"]
    # Escaped for HTML, never altered: the quotes come back as sent.
    assert "&quot;MsSense.exe&quot;" in page
    # An account reads DOMAIN\\name, each part as sent.
    assert '<span class="evidence-value">NT AUTHORITY</span>\\<span' in page


@pytest.mark.parametrize(
    ("customer", "status"), [("camel", "active"), ("pascal", "Active")], ids=["camel", "pascal"]
)
def test_microsofts_example_incident_in_either_casing_is_shown_with_its_comment(
    stored: dict[str, Any], customer: str, status: str
) -> None:
    incident = Incident.objects.get(customer=stored[customer], incident_id=2972395)
    assert incident.status == "Active" and incident.classification == "TruePositive"
    assert incident.raw["status"] == status
    page = stored["client"].get(f"/incidents/{incident.pk}/").content.decode()
    for value in (
        "Multi-stage incident involving Initial access &amp; Command and control on multiple "
        "endpoints reported by multiple sources",
        "KaiC@contoso.onmicrosoft.com",
        "Demo incident",
        "DavidS@contoso.onmicrosoft.com",
        'datetime="2021-08-13T08:43:35.553333+00:00"',  # created
        'datetime="2021-09-30T12:07:37.275699+00:00"',  # the comment
        'datetime="2021-09-30T09:35:45.113333+00:00"',  # last updated
    ):
        assert value in page, value


def test_the_expanded_incident_summarises_its_alerts_evidence(stored: dict[str, Any]) -> None:
    incident = Incident.objects.get(customer=stored["camel"], incident_id=2972395)
    page = stored["client"].get(f"/incidents/{incident.pk}/").content.decode()
    summary = page.split('id="incident-evidence"', 1)[1].split("</section>", 1)[0]
    assert 'data-category="devices">Devices <span class="muted">(1)</span>' in summary
    assert "tempDns" in summary
    assert 'data-category="files">Files <span class="muted">(1)</span>' in summary
    assert "MsSense.exe" in summary
    timeline = page.split('id="incident-timeline"', 1)[1].split("</section>", 1)[0]
    assert "First activity of alert: Suspicious execution of hidden file" in timeline
    assert "Alert raised: Suspicious execution of hidden file (Defender for Endpoint)" in timeline
