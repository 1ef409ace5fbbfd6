"""MITRE technique IDs read as ATT&CK names."""

from __future__ import annotations

import pytest

from partner_portal.defender import mitre


@pytest.mark.parametrize(
    ("technique", "name"),
    [
        ("T1059", "Command and Scripting Interpreter"),
        ("T1059.001", "Command and Scripting Interpreter: PowerShell"),
        ("t1078.004", "Valid Accounts: Cloud Accounts"),
        (" T1566.001 ", "Phishing: Spearphishing Attachment"),
    ],
)
def test_known_techniques_read_as_their_names(technique: str, name: str) -> None:
    assert mitre.technique_name(technique) == name


@pytest.mark.parametrize("technique", ["T9999", "T1059.999", "", "1059", "T1059;drop", "x" * 5000])
def test_an_unknown_or_malformed_id_has_no_name_and_shows_alone(technique: str) -> None:
    assert mitre.technique_name(technique) is None
    assert mitre.technique_label(technique) == technique
    assert mitre.technique_url(technique) is None


def test_a_revoked_id_that_alerts_still_carry_keeps_its_last_name() -> None:
    # T1086 (PowerShell) was revoked in favour of T1059.001; older detections still send it.
    assert mitre.technique_name("T1086") == "PowerShell"


def test_the_link_points_to_mitres_page_with_sub_techniques_under_their_parent() -> None:
    assert mitre.technique_url("T1059.001") == "https://attack.mitre.org/techniques/T1059/001/"
    assert mitre.technique_label("T1486") == "T1486 Data Encrypted for Impact"
