"""Small helpers shared by the sandbox tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msal
import requests

from partner_portal.defender import GraphClient
from partner_portal.defender.clouds import Endpoints, endpoints_for
from partner_portal.defender.credentials import AppCredentials
from partner_portal.defender.http import make_session
from partner_portal.defender.token_cache import InMemoryTokenCache
from partner_portal.defender.tokens import TokenProvider
from partner_portal.sandbox.testing import SandboxProcess

MDE_SCOPE = "https://api.securitycenter.microsoft.com/.default"
XDR_SCOPE = "https://api.security.microsoft.com/.default"


def msal_app(
    sandbox: SandboxProcess, tenant_id: str, credential: Any = None
) -> msal.ConfidentialClientApplication:
    """An unmodified MSAL confidential client pointed at the sandbox."""
    return msal.ConfidentialClientApplication(
        sandbox.config["client_id"],
        client_credential=credential or sandbox.config["client_secret"],
        authority=f"{sandbox.config['login_url']}/{tenant_id}",
        instance_discovery=False,
        http_client=sandbox.session(),
    )


def certificate_credential(sandbox: SandboxProcess) -> dict[str, str]:
    cert = sandbox.config["certificate"]
    return {
        "private_key": Path(cert["private_key_file"]).read_text(),
        "thumbprint": cert["thumbprint"],
    }


def token_request(
    sandbox: SandboxProcess, tenant: str, data: dict[str, str], *, v1: bool = False
) -> requests.Response:
    path = "oauth2/token" if v1 else "oauth2/v2.0/token"
    with sandbox.session() as session:
        return session.post(f"{sandbox.url}/{tenant}/{path}", data=data, timeout=30)


def secret_form(sandbox: SandboxProcess, **extra: str) -> dict[str, str]:
    return {
        "client_id": sandbox.config["client_id"],
        "client_secret": sandbox.config["client_secret"],
        "grant_type": "client_credentials",
        "scope": MDE_SCOPE,
        **extra,
    }


def api_get(
    sandbox: SandboxProcess,
    token: str,
    path: str,
    params: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> requests.Response:
    with sandbox.session() as session:
        return session.get(
            sandbox.url + path,
            params=params,
            headers={"Authorization": f"Bearer {token}", **(headers or {})},
            timeout=30,
        )


def aadsts(response: requests.Response) -> int:
    """The AADSTS code of an error answer, checking the body has Microsoft's shape."""
    body = response.json()
    for key in ("error", "error_description", "error_codes", "timestamp", "trace_id",
                "correlation_id", "error_uri"):  # fmt: skip
        assert key in body, key
    code = body["error_codes"][0]
    assert body["error_description"].startswith(f"AADSTS{code}:")
    return int(code)


def sandbox_endpoints(sandbox: SandboxProcess) -> Endpoints:
    """The product's view of where the sandbox's sign-in and APIs are."""
    cfg = sandbox.config
    return endpoints_for(
        login_url=cfg["login_url"],
        mde_api_url=cfg["api_url"],
        xdr_api_url=cfg.get("xdr_api_url") or cfg["api_url"],
        graph_url=cfg["graph_url"],
    )


def token_provider(sandbox: SandboxProcess) -> TokenProvider:
    """The product's token code (MSAL, client secret) against the sandbox."""
    cfg = sandbox.config
    return TokenProvider(
        AppCredentials(client_id=cfg["client_id"], client_secret=cfg["client_secret"]),
        sandbox_endpoints(sandbox),
        InMemoryTokenCache(),
        ca_file=cfg["ca_file"],
    )


def graph_client(
    sandbox: SandboxProcess,
    tenant_id: str,
    *,
    resource: str | None = None,
    provider: TokenProvider | None = None,
    **kwargs: Any,
) -> GraphClient:
    """The product's Graph client for one sandbox tenant, over real HTTPS and the
    sandbox's CA; tokens are for ``resource`` (Graph's unless said)."""
    endpoints = sandbox_endpoints(sandbox)
    tokens = provider or token_provider(sandbox)
    audience = resource or GraphClient.resource_for(endpoints)

    def get_token(force_refresh: bool) -> str:
        return tokens.get(tenant_id, audience, force_refresh=force_refresh).token

    kwargs.setdefault("session", make_session(sandbox.config["ca_file"]))
    return GraphClient.for_endpoints(endpoints, tenant_id, get_token, **kwargs)
