"""Discovery documents by domain, as Entra ID serves them, and the portal's look-up on them."""

from __future__ import annotations

import pytest

from partner_portal.defender import identity_errors as e
from partner_portal.defender.http import make_session
from partner_portal.defender.tenant_lookup import resolve_tenant_id
from partner_portal.sandbox.testing import SandboxProcess

from .helpers import aadsts

pytestmark = pytest.mark.sandbox


def test_a_domain_names_its_tenant_in_both_discovery_documents(sandbox: SandboxProcess) -> None:
    url = sandbox.url
    with sandbox.session() as session:
        for tenant in sandbox.tenants:
            tid, domain = tenant["tenant_id"], tenant["domain"]
            for name in (domain, domain.upper()):
                v2 = session.get(f"{url}/{name}/v2.0/.well-known/openid-configuration", timeout=10)
                v1 = session.get(f"{url}/{name}/.well-known/openid-configuration", timeout=10)
                assert v2.status_code == v1.status_code == 200
                # As at Entra ID: the GUID, not the domain, in the issuer and endpoints.
                assert v2.json()["issuer"] == f"{url}/{tid}/v2.0"
                assert v2.json()["token_endpoint"] == f"{url}/{tid}/oauth2/v2.0/token"
                assert v1.json()["issuer"] == f"https://sts.windows.net/{tid}/"
                assert v1.json()["token_endpoint"] == f"{url}/{tid}/oauth2/token"


def test_an_unknown_domain_answers_aadsts90002_in_both_documents(sandbox: SandboxProcess) -> None:
    with sandbox.session() as session:
        for path in ("v2.0/.well-known/openid-configuration", ".well-known/openid-configuration"):
            response = session.get(f"{sandbox.url}/nobody-here.onmicrosoft.com/{path}", timeout=10)
            assert response.status_code == 400
            assert aadsts(response) == 90002
            assert response.json()["error"] == "invalid_tenant"


def test_the_portal_look_up_finds_each_tenant_by_its_domain(sandbox: SandboxProcess) -> None:
    session = make_session(sandbox.ca_file)
    login = sandbox.config["login_url"]
    for tenant in sandbox.tenants:
        found = resolve_tenant_id(tenant["domain"], login_url=login, session=session)
        assert found == tenant["tenant_id"]
    with pytest.raises(e.UnknownTenantName) as raised:
        resolve_tenant_id("nobody-here.onmicrosoft.com", login_url=login, session=session)
    assert raised.value.aadsts_code == 90002


def test_the_look_up_without_the_sandbox_ca_cannot_connect(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]
    with pytest.raises(e.TenantLookupUnavailable, match="could not connect"):
        resolve_tenant_id(
            tenant["domain"], login_url=sandbox.config["login_url"], session=make_session()
        )
