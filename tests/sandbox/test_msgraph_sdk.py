"""Microsoft's Graph SDK for Python (msgraph-sdk) against the sandbox, configured as
MICROSOFT.md describes for a local host: an azure-identity credential with the sandbox's
authority and CA, the sandbox's host allowed, an httpx client trusting the CA, and the
request adapter's base URL at the sandbox's ``/v1.0``."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from azure.identity import ClientSecretCredential
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.security.alert import Alert
from msgraph.generated.models.security.alert_comment import AlertComment
from msgraph.generated.models.security.alert_status import AlertStatus
from msgraph.generated.models.security.service_source import ServiceSource
from msgraph.generated.security.alerts_v2.alerts_v2_request_builder import (
    Alerts_v2RequestBuilder,
)
from msgraph.generated.security.incidents.incidents_request_builder import (
    IncidentsRequestBuilder,
)
from msgraph.generated.security.microsoft_graph_security_run_hunting_query.run_hunting_query_post_request_body import (  # noqa: E501
    RunHuntingQueryPostRequestBody,
)
from msgraph_core import GraphClientFactory
from msgraph_core.tasks.page_iterator import PageIterator

from partner_portal.sandbox.testing import SandboxProcess

pytestmark = [
    pytest.mark.sandbox,
    # msgraph-sdk 1.65 warns about its own deprecated request-configuration classes.
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

GRAPH_SCOPE = "https://graph.microsoft.com/.default"


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    process = SandboxProcess(
        Path(tmp_path_factory.mktemp("msgraph")),
        tenants=1,
        consented=1,
        alerts_per_tenant=40,
        arrival_rate=0,
        seed=5,
        page_size=10000,
    )
    with process:
        yield process


def make_client(sandbox: SandboxProcess) -> GraphServiceClient:
    cfg = sandbox.config
    tenant = cfg["tenants"][0]["tenant_id"]
    credential = ClientSecretCredential(
        tenant,
        cfg["client_id"],
        cfg["client_secret"],
        authority=cfg["login_url"],
        disable_instance_discovery=True,
        connection_verify=cfg["ca_file"],
    )
    host = urlparse(cfg["graph_url"]).hostname
    auth = AzureIdentityAuthenticationProvider(
        credential, scopes=[GRAPH_SCOPE], allowed_hosts=[str(host)]
    )
    context = ssl.create_default_context(cafile=cfg["ca_file"])
    http = GraphClientFactory.create_with_default_middleware(
        client=httpx.AsyncClient(verify=context, trust_env=False, timeout=30)
    )
    adapter = GraphRequestAdapter(auth, client=http)
    adapter.base_url = f"{cfg['graph_url']}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def run(coroutine: Any) -> Any:
    return asyncio.run(coroutine)


def test_sdk_lists_alerts_through_every_page(graph: SandboxProcess) -> None:
    async def scenario() -> tuple[list[Any], int]:
        client = make_client(graph)
        query = Alerts_v2RequestBuilder.Alerts_v2RequestBuilderGetQueryParameters(top=9)
        first = await client.security.alerts_v2.get(RequestConfiguration(query_parameters=query))
        assert first is not None and first.odata_next_link
        seen: list[Any] = []

        def collect(alert: Any) -> bool:
            seen.append(alert)
            return True

        await PageIterator(first, client.request_adapter).iterate(collect)
        everything = await client.security.alerts_v2.get()
        assert everything is not None and everything.value is not None
        return seen, len(everything.value)

    seen, total = run(scenario())
    assert len(seen) == total > 9
    assert len({a.id for a in seen}) == total
    sources = {str(a.service_source.value) for a in seen}
    assert "microsoftDefenderForEndpoint" in sources and len(sources) > 3
    assert any(a.evidence for a in seen)


def test_sdk_filter_incidents_patch_comment_and_hunt(graph: SandboxProcess) -> None:
    tenant = graph.tenants[0]["tenant_id"]

    async def scenario() -> dict[str, Any]:
        client = make_client(graph)
        everything = await client.security.alerts_v2.get()
        assert everything is not None and everything.value
        stamps = sorted(a.last_update_date_time for a in everything.value)
        middle = stamps[len(stamps) // 2].strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        query = Alerts_v2RequestBuilder.Alerts_v2RequestBuilderGetQueryParameters(
            filter=f"lastUpdateDateTime gt {middle}", orderby=["lastUpdateDateTime asc"]
        )
        newer = await client.security.alerts_v2.get(RequestConfiguration(query_parameters=query))
        incidents_query = IncidentsRequestBuilder.IncidentsRequestBuilderGetQueryParameters(
            expand=["alerts"]
        )
        incidents = await client.security.incidents.get(
            RequestConfiguration(query_parameters=incidents_query)
        )
        target = everything.value[0]
        item = client.security.alerts_v2.by_alert_id(str(target.id))
        patched = await item.patch(Alert(status=AlertStatus.InProgress, assigned_to="sdk@x.com"))
        await item.comments.post([AlertComment(comment="from the SDK")])
        hunted = await client.security.microsoft_graph_security_run_hunting_query.post(
            RunHuntingQueryPostRequestBody(
                query="AlertInfo | summarize count() by ServiceSource", timespan="P60D"
            )
        )
        return {
            "middle": stamps[len(stamps) // 2],
            "all": everything.value,
            "newer": newer,
            "incidents": incidents,
            "target": target.id,
            "patched": patched,
            "hunted": hunted,
        }

    out = run(scenario())
    newer = out["newer"].value
    # Python keeps microseconds, the sandbox 100 ns: the middle alert itself may match.
    assert newer and all(a.last_update_date_time >= out["middle"] for a in newer)
    assert len(newer) < len(out["all"])
    incidents = out["incidents"].value
    assert incidents and all(i.alerts for i in incidents)
    assert out["patched"].status == AlertStatus.InProgress
    assert out["patched"].assigned_to == "sdk@x.com"
    hunted = out["hunted"]
    assert [c.name for c in hunted.schema] == ["ServiceSource", "count_"]
    assert hunted.results
    truth = graph.control("GET", f"/_sandbox/tenants/{tenant}/graph/ground-truth").json()
    alert = next(a for a in truth["alerts"] if a["id"] == out["target"])
    assert alert["status"] == "inProgress"
    assert alert["comments"][-1]["comment"] == "from the SDK"


def test_sdk_sees_newer_enum_members_only_when_it_asks(graph: SandboxProcess) -> None:
    """msgraph-sdk does not send ``Prefer: include-unknown-enum-members`` by itself: its
    user reads Defender for Cloud alerts as ``UnknownFutureValue`` until they add it."""
    tenant = graph.tenants[0]["tenant_id"]
    truth = graph.control("GET", f"/_sandbox/tenants/{tenant}/graph/ground-truth").json()
    cloud = {a["id"] for a in truth["alerts"] if a["serviceSource"] == "microsoftDefenderForCloud"}
    assert cloud

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        client = make_client(graph)
        plain = await client.security.alerts_v2.get()
        config: RequestConfiguration[Any] = RequestConfiguration()
        config.headers.add("Prefer", "include-unknown-enum-members")
        asked = await client.security.alerts_v2.get(config)
        assert plain is not None and plain.value and asked is not None and asked.value
        return (
            {a.id: a.service_source for a in plain.value},
            {a.id: a.service_source for a in asked.value},
        )

    plain, asked = run(scenario())
    assert {plain[i] for i in cloud} == {ServiceSource.UnknownFutureValue}
    assert {asked[i] for i in cloud} == {ServiceSource.MicrosoftDefenderForCloud}
    others = set(plain) - cloud
    assert others and all(plain[i] == asked[i] != ServiceSource.UnknownFutureValue for i in others)
