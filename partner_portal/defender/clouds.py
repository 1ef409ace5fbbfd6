"""Microsoft clouds, Defender API regions, resources and permission names.

A customer lives in one Microsoft cloud (commercial, GCC, GCC High or DoD); each cloud
has its own sign-in host, API hosts and Defender portal (where deep links to an alert
or incident go). Commercial customers may also be served from a regional Defender for
Endpoint host. Every URL can be overridden so that the portal can talk to the local
sandbox instead of Microsoft.

Sources: Microsoft's "Defender for Endpoint for US Government customers" and "Microsoft
Defender XDR for US Government customers" pages (sign-in and API hosts, and the
Defender portal hosts, their "Portal URLs": GCC keeps the commercial one), and the
Microsoft Graph "national cloud deployments" page (Graph hosts). For the US Government
clouds the token audience (resource) is the cloud's own API host, as those pages'
samples use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import urlsplit

__all__ = [
    "ALERT_READ",
    "ALERT_READWRITE",
    "DEFENDER_PORTAL_URL",
    "GRAPH_ALERT_READ",
    "GRAPH_ALERT_READWRITE",
    "GRAPH_APP_ID",
    "GRAPH_HUNTING",
    "GRAPH_INCIDENT_READ",
    "GRAPH_INCIDENT_READWRITE",
    "GRAPH_RESOURCE",
    "INCIDENT_READ",
    "INCIDENT_READWRITE",
    "MDE_APP_ID",
    "MDE_RESOURCE",
    "MICROSOFT_LOGIN_HOSTS",
    "REGIONS",
    "XDR_APP_ID",
    "XDR_RESOURCE",
    "Cloud",
    "Endpoints",
    "endpoints_for",
    "is_microsoft_login_host",
    "parse_cloud",
    "scope_for",
]

#: Token audience of the Defender for Endpoint API ("WindowsDefenderATP").
MDE_RESOURCE = "https://api.securitycenter.microsoft.com"
#: Token audience of the Defender XDR (Microsoft 365 Defender) API.
XDR_RESOURCE = "https://api.security.microsoft.com"
GRAPH_RESOURCE = "https://graph.microsoft.com"
#: Application IDs of those resources: version 2.0 tokens carry these as ``aud``.
MDE_APP_ID = "fc780465-2017-40d4-a0c5-307022471b92"
XDR_APP_ID = "8ee8fdad-f234-4243-8f3b-15c294843740"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"

#: The Defender portal of the commercial cloud (and GCC).
DEFENDER_PORTAL_URL = "https://security.microsoft.com"

ALERT_READ = "Alert.Read.All"
ALERT_READWRITE = "Alert.ReadWrite.All"
INCIDENT_READ = "Incident.Read.All"
INCIDENT_READWRITE = "Incident.ReadWrite.All"
#: Microsoft Graph's application permissions for the security API.
GRAPH_ALERT_READ = "SecurityAlert.Read.All"
GRAPH_ALERT_READWRITE = "SecurityAlert.ReadWrite.All"
GRAPH_INCIDENT_READ = "SecurityIncident.Read.All"
GRAPH_INCIDENT_READWRITE = "SecurityIncident.ReadWrite.All"
GRAPH_HUNTING = "ThreatHunting.Read.All"

#: Regional Defender for Endpoint hosts (commercial cloud only); Microsoft recommends the
#: one nearest to the caller. ``aea`` is the newest one listed by Microsoft.
REGIONS: tuple[str, ...] = ("us", "eu", "uk", "au", "swa", "ina", "aea")

#: Sign-in hosts run by Microsoft; MSAL may use instance discovery only against these.
MICROSOFT_LOGIN_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoft.com",
        "login.windows.net",
        "sts.windows.net",
        "login.microsoftonline.us",
        "login.usgovcloudapi.net",
        "login.partner.microsoftonline.cn",
        "login.chinacloudapi.cn",
    }
)


class Cloud(StrEnum):
    COMMERCIAL = "commercial"
    GCC = "gcc"
    GCC_HIGH = "gcc_high"
    DOD = "dod"

    @property
    def portal_url(self) -> str:
        """The cloud's Defender portal, for deep links to its alerts and incidents."""
        return _CLOUDS[self].portal


@dataclass(frozen=True)
class Endpoints:
    """Where to sign in and which API hosts to call, plus the token audiences and the
    Defender portal that deep links point to.

    URLs carry no trailing slash. The resources are the token audiences and stay the
    real Microsoft values even when the URLs point at the sandbox.

    ``browser_login_url`` is where a person's browser goes for consent (the sandbox's
    plain-HTTP loopback pages); empty, it is ``login_url``, as it is at Microsoft.
    """

    login_url: str
    mde_api_url: str
    xdr_api_url: str
    graph_url: str
    mde_resource: str = MDE_RESOURCE
    xdr_resource: str = XDR_RESOURCE
    graph_resource: str = GRAPH_RESOURCE
    portal_url: str = DEFENDER_PORTAL_URL
    browser_login_url: str = ""

    @property
    def interactive_login_url(self) -> str:
        """The sign-in host a person's browser is sent to (consent links)."""
        return self.browser_login_url or self.login_url

    @property
    def login_host(self) -> str:
        return (urlsplit(self.login_url).hostname or "").lower()

    @property
    def is_microsoft_login(self) -> bool:
        return is_microsoft_login_host(self.login_url)


@dataclass(frozen=True)
class _CloudHosts:
    """A cloud's hosts. The token audience (resource) of each API is the cloud's own host
    of that API: for the commercial cloud, :data:`MDE_RESOURCE` and its like."""

    login: str
    mde_api: str
    xdr_api: str
    graph: str
    portal: str


_CLOUDS: dict[Cloud, _CloudHosts] = {
    Cloud.COMMERCIAL: _CloudHosts(
        login="https://login.microsoftonline.com",
        mde_api=MDE_RESOURCE,
        xdr_api=XDR_RESOURCE,
        graph=GRAPH_RESOURCE,
        portal=DEFENDER_PORTAL_URL,
    ),
    # GCC signs in at the commercial host and uses commercial Graph, but has its own
    # Defender API hosts; its Defender portal is the commercial one.
    Cloud.GCC: _CloudHosts(
        login="https://login.microsoftonline.com",
        mde_api="https://api-gcc.securitycenter.microsoft.us",
        xdr_api="https://api-gcc.security.microsoft.us",
        graph=GRAPH_RESOURCE,
        portal=DEFENDER_PORTAL_URL,
    ),
    Cloud.GCC_HIGH: _CloudHosts(
        login="https://login.microsoftonline.us",
        mde_api="https://api-gov.securitycenter.microsoft.us",
        xdr_api="https://api-gov.security.microsoft.us",
        graph="https://graph.microsoft.us",
        portal="https://security.microsoft.us",
    ),
    Cloud.DOD: _CloudHosts(
        login="https://login.microsoftonline.us",
        mde_api="https://api-gov.securitycenter.microsoft.us",
        xdr_api="https://api-gov.security.microsoft.us",
        graph="https://dod-graph.microsoft.us",
        portal="https://security.apps.mil",
    ),
}

_CLOUD_ALIASES = {
    "commercial": Cloud.COMMERCIAL,
    "public": Cloud.COMMERCIAL,
    "global": Cloud.COMMERCIAL,
    "gcc": Cloud.GCC,
    "gcc_high": Cloud.GCC_HIGH,
    "gcchigh": Cloud.GCC_HIGH,
    "gcc-high": Cloud.GCC_HIGH,
    "dod": Cloud.DOD,
}


def parse_cloud(value: str | Cloud) -> Cloud:
    """Accept a :class:`Cloud` or its name in the usual spellings ("GCC High", "gcc-high")."""
    if isinstance(value, Cloud):
        return value
    key = value.strip().lower().replace(" ", "_")
    try:
        return _CLOUD_ALIASES[key]
    except KeyError:
        raise ValueError(f"unknown Microsoft cloud: {value!r}") from None


def _clean_url(url: str, what: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError(f"{what} must be an absolute http(s) URL, got {url!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"{what} must not carry a query or fragment")
    return url.rstrip("/")


def endpoints_for(
    cloud: Cloud | str = Cloud.COMMERCIAL,
    region: str | None = None,
    *,
    login_url: str | None = None,
    mde_api_url: str | None = None,
    xdr_api_url: str | None = None,
    graph_url: str | None = None,
    portal_url: str | None = None,
    browser_login_url: str | None = None,
) -> Endpoints:
    """Return the endpoints of ``cloud``; explicit URLs win over the cloud's defaults.

    ``region`` selects a regional Defender for Endpoint host
    (``https://{region}.api.security.microsoft.com``); regions exist in the commercial
    cloud only.
    """
    chosen = parse_cloud(cloud)
    hosts = _CLOUDS[chosen]
    mde = hosts.mde_api
    if region:
        reg = region.strip().lower()
        if reg not in REGIONS:
            raise ValueError(f"unknown Defender API region {region!r}; expected one of {REGIONS}")
        if chosen is not Cloud.COMMERCIAL:
            raise ValueError("regional Defender API hosts exist in the commercial cloud only")
        mde = f"https://{reg}.api.security.microsoft.com"
    return Endpoints(
        login_url=_clean_url(login_url or hosts.login, "login_url"),
        mde_api_url=_clean_url(mde_api_url or mde, "mde_api_url"),
        xdr_api_url=_clean_url(xdr_api_url or hosts.xdr_api, "xdr_api_url"),
        graph_url=_clean_url(graph_url or hosts.graph, "graph_url"),
        mde_resource=hosts.mde_api,
        xdr_resource=hosts.xdr_api,
        graph_resource=hosts.graph,
        portal_url=_clean_url(portal_url or hosts.portal, "portal_url"),
        browser_login_url=(
            _clean_url(browser_login_url, "browser_login_url") if browser_login_url else ""
        ),
    )


def is_microsoft_login_host(url: str) -> bool:
    """True when ``url`` points at one of Microsoft's own sign-in hosts."""
    host = (urlsplit(url).hostname or "").lower()
    return host in MICROSOFT_LOGIN_HOSTS


def scope_for(resource: str) -> str:
    """The client-credentials scope of a resource: ``{resource}/.default``."""
    return resource.rstrip("/") + "/.default"
