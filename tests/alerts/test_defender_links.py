"""Deep links to an alert or incident in the Defender portal of the customer's cloud."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from partner_portal.alerts.reads.defender_links import defender_alert_url, defender_incident_url

TENANT = "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"
ALERT = "da637472900382838869_1364969609"
# The Defender portal of each cloud. A value that names no cloud ("", or a misspelling
# such as "gcc-high") gets the commercial portal, as it always did.
PORTALS = [
    ("commercial", "https://security.microsoft.com"),
    ("gcc", "https://security.microsoft.com"),
    ("gcc_high", "https://security.microsoft.us"),
    ("dod", "https://security.apps.mil"),
    ("", "https://security.microsoft.com"),
]


def alert(cloud: str, tenant_id: str | None = TENANT) -> Any:
    return SimpleNamespace(
        alert_id=ALERT, customer=SimpleNamespace(cloud=cloud, tenant_id=tenant_id)
    )


@pytest.mark.parametrize(
    ("cloud", "host"), [*PORTALS, ("gcc-high", "https://security.microsoft.com")]
)
def test_alert_link_per_cloud(cloud: str, host: str) -> None:
    assert defender_alert_url(alert(cloud)) == f"{host}/alerts/{ALERT}?tid={TENANT}"


def test_alert_link_without_tenant() -> None:
    assert defender_alert_url(alert("dod", None)) == (
        f"https://security.apps.mil/alerts/{ALERT}?tid="
    )


@pytest.mark.parametrize(("cloud", "host"), PORTALS)
def test_incident_link_per_cloud(cloud: str, host: str) -> None:
    incident: Any = SimpleNamespace(
        incident_id=42, customer=SimpleNamespace(cloud=cloud, tenant_id=TENANT)
    )
    assert defender_incident_url(incident) == f"{host}/incidents/42?tid={TENANT}"
