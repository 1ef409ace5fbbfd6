"""Small helpers shared by the sandbox tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msal
import requests

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
    sandbox: SandboxProcess, token: str, path: str, params: dict[str, Any] | None = None
) -> requests.Response:
    with sandbox.session() as session:
        return session.get(
            sandbox.url + path,
            params=params,
            headers={"Authorization": f"Bearer {token}"},
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
