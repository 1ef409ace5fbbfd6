"""The Microsoft Graph client a customer gets: its host from settings, sandbox.json or the
customer's cloud, and tokens for Graph's audience from the shared cache."""

from __future__ import annotations

from typing import Any

import jwt
import pytest

from partner_portal.defender import GRAPH_SECURITY_LIMITS, GraphClient
from partner_portal.sandbox.testing import SandboxProcess
from tenants import microsoft
from tests.alerts.conftest import point_portal_at
from tests.tenants.factories import CustomerFactory

TENANT = "6b1a2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


@pytest.fixture
def configured_app(settings: Any) -> Any:
    settings.PARTNER_APP_CLIENT_ID = "11111111-aaaa-bbbb-cccc-222222222222"
    settings.PARTNER_APP_CLIENT_SECRET = "not-used"
    settings.PARTNER_APP_CERTIFICATE_KEY_FILE = ""
    settings.MICROSOFT_LOGIN_URL = ""
    settings.MICROSOFT_MDE_API_URL = ""
    settings.MICROSOFT_XDR_API_URL = ""
    settings.MICROSOFT_GRAPH_URL = ""
    microsoft.reset_for_tests()
    yield settings
    microsoft.reset_for_tests()


@pytest.mark.django_db
def test_graph_url_setting_overrides_the_clouds_graph_host(configured_app: Any) -> None:
    configured_app.MICROSOFT_GRAPH_URL = "https://graph.proxy.example.test/"
    customer = CustomerFactory(tenant_id=TENANT, cloud="gcc_high")

    assert microsoft.partner_app().graph_url == "https://graph.proxy.example.test/"
    client = microsoft.graph_client(customer)
    assert isinstance(client, GraphClient)
    assert client.base_url == "https://graph.proxy.example.test/v1.0"
    # The token audience stays the cloud's Graph, whatever host the calls go to.
    assert GraphClient.resource_for(microsoft.endpoints_for_customer(customer)) == (
        "https://graph.microsoft.us"
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("cloud", "base_url"),
    [
        ("commercial", "https://graph.microsoft.com/v1.0"),
        ("gcc", "https://graph.microsoft.com/v1.0"),
        ("gcc_high", "https://graph.microsoft.us/v1.0"),
        ("dod", "https://dod-graph.microsoft.us/v1.0"),
    ],
)
def test_without_an_override_the_customers_cloud_picks_the_graph_host(
    configured_app: Any, cloud: str, base_url: str
) -> None:
    customer = CustomerFactory(tenant_id=TENANT, cloud=cloud)
    client = microsoft.graph_client(customer)
    assert client.base_url == base_url
    assert client.limits == GRAPH_SECURITY_LIMITS
    assert client.limiter_key == f"graph:{TENANT}"


@pytest.mark.django_db
def test_a_customer_without_a_tenant_gets_no_graph_client(configured_app: Any) -> None:
    customer = CustomerFactory(awaiting_consent=True)
    with pytest.raises(ValueError, match="no verified tenant"):
        microsoft.graph_client(customer)


@pytest.mark.sandbox
@pytest.mark.django_db
def test_the_sandbox_describes_its_graph_url_and_graph_tokens_are_cached(
    sandbox: SandboxProcess, settings: Any
) -> None:
    point_portal_at(sandbox, settings)
    try:
        assert microsoft.partner_app().graph_url == sandbox.config["graph_url"]
        tenant = next(t for t in sandbox.tenants if t["consented"])
        customer = CustomerFactory(tenant_id=tenant["tenant_id"])
        sources: list[str] = []
        client = microsoft.graph_client(customer, token_sources=sources)
        assert client.base_url == sandbox.config["graph_url"].rstrip("/") + "/v1.0"

        pages = list(client.iter_alert_pages(page_size=50))
        assert sum(len(page) for page in pages) > 0
        assert {a.tenant_id for page in pages for a in page} == {tenant["tenant_id"]}
        # A second client of the same customer reuses the cached Graph token.
        again: list[str] = []
        list(microsoft.graph_client(customer, token_sources=again).iter_alert_pages(page_size=50))
        assert sources[0] in ("identity_provider", "cache") and set(again) == {"cache"}
        provider = microsoft.token_provider(customer)
        token = provider.get(tenant["tenant_id"], "https://graph.microsoft.com").token
        claims = jwt.decode(token, options={"verify_signature": False})
        assert claims["aud"] == "https://graph.microsoft.com"
        assert "SecurityAlert.ReadWrite.All" in claims["roles"]
    finally:
        microsoft.reset_for_tests()
