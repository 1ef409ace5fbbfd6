"""The base every API client is built on: what an API declares, and the hooks it may
override (the next client, Microsoft Graph security, is built the same way)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import requests
import responses

from partner_portal.defender import errors as e
from partner_portal.defender.client import DefenderApiClient
from partner_portal.defender.clouds import Cloud, endpoints_for
from partner_portal.defender.http import make_session
from partner_portal.defender.mde import MDE_ALERT_LIMITS, MdeClient
from partner_portal.defender.rate_limit import NO_LIMIT, RateLimiter, per_minute
from partner_portal.defender.xdr import XDR_INCIDENT_LIMITS, XdrClient

from .fakes import TENANT


def token(force_refresh: bool) -> str:
    return "token"


def test_each_api_declares_its_documented_limits_once() -> None:
    assert MDE_ALERT_LIMITS == ((100, 60.0), (1500, 3600.0))
    assert XDR_INCIDENT_LIMITS == ((50, 60.0), (1500, 3600.0))
    assert MdeClient.limits is MDE_ALERT_LIMITS
    assert XdrClient.limits is XDR_INCIDENT_LIMITS
    client = MdeClient("https://api.test", TENANT, token, session=make_session())
    assert isinstance(client.limiter, RateLimiter)
    assert client.limiter.limits == MDE_ALERT_LIMITS


@pytest.mark.parametrize("cloud", list(Cloud))
def test_clients_find_their_api_in_a_clouds_endpoints(cloud: Cloud) -> None:
    endpoints = endpoints_for(cloud)
    assert MdeClient.base_url_for(endpoints) == endpoints.mde_api_url
    assert MdeClient.resource_for(endpoints) == endpoints.mde_resource
    assert MdeClient.scope_for(endpoints) == endpoints.mde_resource + "/.default"
    assert XdrClient.base_url_for(endpoints) == endpoints.xdr_api_url
    assert XdrClient.resource_for(endpoints) == endpoints.xdr_resource
    client = XdrClient.for_endpoints(endpoints, TENANT, token, session=make_session())
    assert (client.base_url, client.tenant_id) == (endpoints.xdr_api_url, TENANT)
    assert client.limiter_key == f"xdr:{TENANT}"


def test_sandbox_endpoints_are_followed() -> None:
    endpoints = endpoints_for(mde_api_url="https://api.sandbox.test:8443")
    client = MdeClient.for_endpoints(endpoints, TENANT, token, session=make_session())
    assert client.base_url == "https://api.sandbox.test:8443"


def test_a_client_must_name_real_endpoint_fields() -> None:
    with pytest.raises(TypeError, match="Endpoints has no field 'nowhere_url'"):

        class Lost(DefenderApiClient):
            endpoint_field = "nowhere_url"


def test_a_client_without_limits_needs_a_limiter() -> None:
    class Unlimited(DefenderApiClient):
        pass

    with pytest.raises(TypeError, match="declares no limits"):
        Unlimited("https://api.test", TENANT, token, session=make_session())
    assert Unlimited("https://api.test", TENANT, token, session=make_session(), limiter=NO_LIMIT)
    with pytest.raises(TypeError, match="declares no endpoint_field"):
        Unlimited.base_url_for(endpoints_for())
    with pytest.raises(TypeError, match="declares no resource_field"):
        Unlimited.resource_for(endpoints_for())


class GraphLike(DefenderApiClient):
    """The shape of the coming Graph security client: another host and path, its own
    limits, a header, and Graph's error body with an inner error."""

    endpoint_field = "graph_url"
    base_path = "/v1.0"
    resource_field = "graph_resource"
    limits = (per_minute(150),)
    limiter_scope = "graph"
    max_page_size = 1000
    default_headers: ClassVar[dict[str, str]] = {
        "Accept": "application/json",
        "Prefer": "include-unknown-enum-members",
    }

    def error_fields(self, response: requests.Response) -> tuple[str | None, str]:
        code, message = super().error_fields(response)
        inner = response.json()["error"].get("innerError", {})
        return code, f"{message} (request {inner.get('request-id')})"


@responses.activate
def test_the_base_is_extended_by_class_attributes_and_hooks() -> None:
    endpoints = endpoints_for(Cloud.GCC_HIGH)
    assert GraphLike.base_url_for(endpoints) == "https://graph.microsoft.us/v1.0"
    assert GraphLike.scope_for(endpoints) == "https://graph.microsoft.us/.default"
    client: Any = GraphLike.for_endpoints(endpoints, TENANT, token, session=make_session())
    assert client.limiter.limits == ((150, 60.0),)
    url = "https://graph.microsoft.us/v1.0/security/alerts_v2"
    responses.add(responses.GET, url, json={"value": []})
    responses.add(
        responses.GET,
        url,
        status=403,
        json={
            "error": {
                "code": "Forbidden",
                "message": "Missing SecurityAlert.Read.All.",
                "innerError": {"request-id": "r-1"},
            }
        },
    )
    assert client._request("GET", "/security/alerts_v2") == {"value": []}
    sent = responses.calls[0].request.headers
    assert sent["Prefer"] == "include-unknown-enum-members"
    assert sent["Authorization"] == "Bearer token"
    with pytest.raises(e.Forbidden) as raised:
        client._request("GET", "/security/alerts_v2")
    assert raised.value.message == "Missing SecurityAlert.Read.All. (request r-1)"
    assert raised.value.missing_permissions == ("SecurityAlert.Read.All",)
    with pytest.raises(ValueError, match="between 1 and 1000"):
        client._check_page_size(1001)
