"""The console's status, classification, determination and severity choices are the
protocol core's vocabularies (`partner_portal.defender`), read from there and never
copied by hand."""

from __future__ import annotations

import re
from pathlib import Path

from django.template import Context, Template

from partner_portal.alerts import filters, forms, status_filter
from partner_portal.alerts.incident_filters import IncidentFilterForm
from partner_portal.alerts.models import SEVERITY_RANK
from partner_portal.alerts.reads import alert_list, incident_queue
from partner_portal.defender import (
    SETTABLE_ALERT_DETERMINATIONS,
    SETTABLE_ALERT_STATUSES,
    AlertClassification,
    AlertDetermination,
    AlertSeverity,
    AlertStatus,
    IncidentStatus,
    in_words,
)

ROOT = Path(__file__).resolve().parents[2]
VOCABULARIES = (AlertSeverity, AlertStatus, AlertClassification, AlertDetermination, IncidentStatus)


def _pairs(members: object) -> list[tuple[str, str]]:
    return [(m.value, m.label) for m in members]  # type: ignore[attr-defined]


def test_alert_choices_match_the_vocabularies() -> None:
    assert _pairs(SETTABLE_ALERT_STATUSES) == forms.STATUS_CHOICES
    assert _pairs(SETTABLE_ALERT_DETERMINATIONS) == forms.DETERMINATION_CHOICES
    assert AlertClassification.choices()[:3] == forms.CLASSIFICATION_CHOICES
    assert list(alert_list.STATUSES) == [s.value for s in SETTABLE_ALERT_STATUSES]
    assert set(alert_list.SEVERITIES) < set(AlertSeverity)
    assert list(SEVERITY_RANK) == list(AlertSeverity)
    # The list words a status with the core's label (`defender.in_words`).
    assert in_words("InProgress") == AlertStatus.IN_PROGRESS.label


def test_incident_status_choices_match_the_vocabulary() -> None:
    field = IncidentFilterForm.base_fields["status"]
    offered = list(field.choices)  # type: ignore[attr-defined]
    # Merged ("Redirected") incidents leave the queue, so the filter does not offer them;
    # "all" asks for every status (without a status the queue shows the open ones).
    *incident_statuses, every_incident = offered
    assert incident_statuses == [
        c for c in IncidentStatus.choices() if c[0] != IncidentStatus.REDIRECTED
    ]
    assert every_incident == (status_filter.ALL_STATUSES, "All statuses")
    # Open: all but resolved, Awaiting action (Defender Experts waiting on the customer) too.
    assert set(incident_queue.OPEN_INCIDENT_STATUSES) == {
        IncidentStatus.ACTIVE, IncidentStatus.IN_PROGRESS, IncidentStatus.AWAITING_ACTION,
    }  # fmt: skip
    status = filters.AlertFilterForm.base_fields["status"]
    *statuses, every = list(status.choices)  # type: ignore[attr-defined]
    assert statuses == _pairs(SETTABLE_ALERT_STATUSES)
    assert every == (status_filter.ALL_STATUSES, "All statuses")


def test_the_forms_offer_the_core_s_members_and_their_labels() -> None:
    update = forms.AlertUpdateForm.base_fields
    offered = {
        name: list(update[name].choices)[1:]  # type: ignore[attr-defined]
        for name in ("status", "classification", "determination")
    }
    for name, vocabulary in (
        ("status", AlertStatus),
        ("classification", AlertClassification),
        ("determination", AlertDetermination),
    ):
        for value, label in offered[name]:
            assert vocabulary(value).label == label
    assert offered["status"] == forms.STATUS_CHOICES
    assert offered["determination"] == forms.DETERMINATION_CHOICES
    # Settable values only: "Unknown" is reported by Defender, never set.
    assert AlertClassification.UNKNOWN not in dict(offered["classification"])
    bulk = forms.BulkUpdateForm.base_fields["status"]
    assert list(bulk.choices)[1:] == forms.STATUS_CHOICES  # type: ignore[attr-defined]
    severity = IncidentFilterForm.base_fields["severity"]
    assert [v for v, _ in list(severity.choices)] == list(alert_list.SEVERITIES)  # type: ignore[attr-defined]


def test_templates_word_a_status_with_the_core_s_label() -> None:
    page = Template("{% load vocabularies %}{{ a|alert_status_label }}|{{ b|alert_status_label }}")
    words = page.render(Context({"a": "InProgress", "b": "SomethingNew"}))
    # A value the core does not know yet is cut into words rather than shown as a code.
    assert words == f"{AlertStatus.IN_PROGRESS.label}|Something new"


def test_no_label_of_the_vocabularies_is_spelled_by_hand() -> None:
    labels = {m.label for vocabulary in VOCABULARIES for m in vocabulary if m.label != m.value}
    python = [
        p for p in (ROOT / "partner_portal" / "alerts").rglob("*.py") if "migrations" not in p.parts
    ]
    templates = list((ROOT / "templates" / "alerts").rglob("*.html"))
    found = []
    for path in [*python, *templates]:
        relative = str(path.relative_to(ROOT))
        text = path.read_text()
        for label in labels:
            # In Python, a label in quotes; in a template, one as text between tags.
            quoted = re.search(rf"[\"']{re.escape(label)}[\"']", text)
            if (path.suffix == ".py" and quoted) or (path.suffix == ".html" and label in text):
                found.append(f"{relative}: {label}")
    assert not found, "Labels spelled by hand instead of read from the vocabularies:\n" + "\n".join(
        sorted(found)
    )
    assert len(python) > 20 and len(templates) > 5
