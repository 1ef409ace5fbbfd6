"""Clouds, regions and overridable endpoints."""

from __future__ import annotations

import pytest

from partner_portal.defender import clouds
from partner_portal.defender.clouds import Cloud, endpoints_for, parse_cloud, scope_for


def test_commercial_defaults() -> None:
    ep = endpoints_for(Cloud.COMMERCIAL)
    assert ep.login_url == "https://login.microsoftonline.com"
    assert ep.mde_api_url == "https://api.securitycenter.microsoft.com"
    assert ep.xdr_api_url == "https://api.security.microsoft.com"
    assert ep.graph_url == "https://graph.microsoft.com"
    assert ep.mde_resource == clouds.MDE_RESOURCE == "https://api.securitycenter.microsoft.com"
    assert ep.xdr_resource == clouds.XDR_RESOURCE == "https://api.security.microsoft.com"
    assert ep.is_microsoft_login


@pytest.mark.parametrize(
    ("cloud", "login", "mde", "xdr", "graph"),
    [
        (
            Cloud.GCC,
            "https://login.microsoftonline.com",
            "https://api-gcc.securitycenter.microsoft.us",
            "https://api-gcc.security.microsoft.us",
            "https://graph.microsoft.com",
        ),
        (
            Cloud.GCC_HIGH,
            "https://login.microsoftonline.us",
            "https://api-gov.securitycenter.microsoft.us",
            "https://api-gov.security.microsoft.us",
            "https://graph.microsoft.us",
        ),
        (
            Cloud.DOD,
            "https://login.microsoftonline.us",
            "https://api-gov.securitycenter.microsoft.us",
            "https://api-gov.security.microsoft.us",
            "https://dod-graph.microsoft.us",
        ),
    ],
)
def test_us_government_clouds(cloud: Cloud, login: str, mde: str, xdr: str, graph: str) -> None:
    ep = endpoints_for(cloud)
    assert (ep.login_url, ep.mde_api_url, ep.xdr_api_url, ep.graph_url) == (login, mde, xdr, graph)
    # The token audience in these clouds is the cloud's own API host.
    assert ep.mde_resource == mde
    assert ep.xdr_resource == xdr
    assert ep.is_microsoft_login


@pytest.mark.parametrize("region", ["us", "eu", "uk", "au", "swa", "ina", "EU"])
def test_regional_hosts(region: str) -> None:
    ep = endpoints_for("commercial", region)
    assert ep.mde_api_url == f"https://{region.lower()}.api.security.microsoft.com"
    # The token audience does not change with the region.
    assert ep.mde_resource == clouds.MDE_RESOURCE


def test_region_rules() -> None:
    with pytest.raises(ValueError, match="unknown Defender API region"):
        endpoints_for(Cloud.COMMERCIAL, "mars")
    with pytest.raises(ValueError, match="commercial cloud only"):
        endpoints_for(Cloud.GCC_HIGH, "us")


def test_every_url_can_point_at_the_sandbox() -> None:
    ep = endpoints_for(
        Cloud.COMMERCIAL,
        "eu",
        login_url="https://127.0.0.1:8443/",
        mde_api_url="https://127.0.0.1:8443",
        xdr_api_url="https://127.0.0.1:8443/",
        graph_url="https://127.0.0.1:8443",
    )
    assert ep.login_url == ep.mde_api_url == ep.xdr_api_url == "https://127.0.0.1:8443"
    assert ep.graph_url == "https://127.0.0.1:8443"
    assert not ep.is_microsoft_login
    assert ep.mde_resource == clouds.MDE_RESOURCE  # audiences stay Microsoft's


def test_bad_override_refused() -> None:
    with pytest.raises(ValueError):
        endpoints_for(login_url="login.microsoftonline.com")
    with pytest.raises(ValueError):
        endpoints_for(mde_api_url="https://x.test/?a=1")


@pytest.mark.parametrize(
    ("text", "cloud"),
    [
        ("GCC High", Cloud.GCC_HIGH),
        ("gcc-high", Cloud.GCC_HIGH),
        ("DoD", Cloud.DOD),
        ("commercial", Cloud.COMMERCIAL),
        (Cloud.GCC, Cloud.GCC),
    ],
)
def test_parse_cloud(text: str, cloud: Cloud) -> None:
    assert parse_cloud(text) is cloud


def test_parse_cloud_unknown() -> None:
    with pytest.raises(ValueError):
        parse_cloud("moon")


def test_constants() -> None:
    assert clouds.ALERT_READ == "Alert.Read.All"
    assert clouds.ALERT_READWRITE == "Alert.ReadWrite.All"
    assert clouds.INCIDENT_READ == "Incident.Read.All"
    assert scope_for("https://api.securitycenter.microsoft.com/") == (
        "https://api.securitycenter.microsoft.com/.default"
    )


@pytest.mark.parametrize(
    ("cloud", "portal"),
    [
        (Cloud.COMMERCIAL, "https://security.microsoft.com"),
        (Cloud.GCC, "https://security.microsoft.com"),
        (Cloud.GCC_HIGH, "https://security.microsoft.us"),
        (Cloud.DOD, "https://security.apps.mil"),
    ],
)
def test_defender_portal_of_each_cloud(cloud: Cloud, portal: str) -> None:
    assert cloud.portal_url == portal
    assert endpoints_for(cloud).portal_url == portal
    assert parse_cloud(cloud.value).portal_url == portal


def test_defender_portal_can_be_overridden() -> None:
    ep = endpoints_for(Cloud.DOD, portal_url="https://portal.sandbox.test/")
    assert ep.portal_url == "https://portal.sandbox.test"
    with pytest.raises(ValueError):
        endpoints_for(portal_url="security.microsoft.com")
