"""The sandbox's identity platform: real clients (MSAL, azure-identity, curl) get tokens,
the tokens validate against the published keys, and errors carry Microsoft's codes."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import uuid

import jwt
import msal
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from partner_portal.sandbox.testing import SandboxProcess

from .helpers import (
    MDE_SCOPE,
    XDR_SCOPE,
    aadsts,
    certificate_credential,
    msal_app,
    secret_form,
    token_request,
)

pytestmark = pytest.mark.sandbox

MDE_AUD = "https://api.securitycenter.microsoft.com"


def _jwks_keys(sandbox: SandboxProcess, path: str) -> dict[str, jwt.PyJWK]:
    with sandbox.session() as session:
        keys = session.get(sandbox.url + path, timeout=10).json()["keys"]
    return {k["kid"]: jwt.PyJWK(k) for k in keys}


def _validate(sandbox: SandboxProcess, token: str, tenant_id: str, audience: str) -> dict:
    keys = _jwks_keys(sandbox, f"/{tenant_id}/discovery/v2.0/keys")
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "RS256"
    assert header["x5t"] == header["kid"]
    return jwt.decode(
        token,
        keys[header["kid"]],
        algorithms=["RS256"],
        audience=audience,
        issuer=f"https://sts.windows.net/{tenant_id}/",
    )


def test_msal_gets_a_token_with_the_secret(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]
    app = msal_app(sandbox, tenant["tenant_id"])
    first = app.acquire_token_for_client([MDE_SCOPE])
    assert first["token_type"] == "Bearer", first
    assert first["token_source"] == "identity_provider"
    assert first["expires_in"] > 3500
    second = app.acquire_token_for_client([MDE_SCOPE])
    assert second["token_source"] == "cache"

    claims = _validate(sandbox, first["access_token"], tenant["tenant_id"], MDE_AUD)
    assert claims["tid"] == tenant["tenant_id"]
    assert claims["appid"] == sandbox.config["client_id"]
    assert claims["appidacr"] == "1"
    assert claims["ver"] == "1.0"
    assert claims["idp"] == f"https://sts.windows.net/{tenant['tenant_id']}/"
    assert claims["oid"] == claims["sub"]
    assert claims["exp"] - time.time() == pytest.approx(3600, abs=30)
    assert set(claims["roles"]) == {"Alert.Read.All", "Alert.ReadWrite.All"}


def test_msal_gets_a_token_with_the_certificate(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[1]
    app = msal_app(sandbox, tenant["tenant_id"], certificate_credential(sandbox))
    result = app.acquire_token_for_client([XDR_SCOPE])
    assert "access_token" in result, result
    claims = _validate(
        sandbox, result["access_token"], tenant["tenant_id"], "https://api.security.microsoft.com"
    )
    assert claims["appidacr"] == "2"
    assert claims["roles"] == ["Incident.Read.All"]


def test_msal_by_domain_and_windowsatpservice_scope(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]
    app = msal_app(sandbox, tenant["domain"])
    result = app.acquire_token_for_client(
        ["https://securitycenter.onmicrosoft.com/windowsatpservice/.default"]
    )
    assert "access_token" in result, result
    claims = jwt.decode(result["access_token"], options={"verify_signature": False})
    assert claims["aud"] == MDE_AUD
    assert claims["tid"] == tenant["tenant_id"]


def test_msal_raises_value_error_for_unknown_tenant(sandbox: SandboxProcess) -> None:
    with pytest.raises(ValueError, match="Unable to get authority configuration") as raised:
        msal_app(sandbox, str(uuid.uuid4()))
    # MSAL keeps the discovery answer (Microsoft's error body) as the cause.
    assert "AADSTS90002" in str(raised.value.__context__)
    with pytest.raises(ValueError):
        msal_app(sandbox, "nobody.onmicrosoft.com")


def test_azure_identity_client_secret_credential(sandbox: SandboxProcess) -> None:
    from azure.identity import ClientSecretCredential

    tenant = sandbox.tenants[0]
    credential = ClientSecretCredential(
        tenant["tenant_id"],
        sandbox.config["client_id"],
        sandbox.config["client_secret"],
        authority=sandbox.config["login_url"],
        disable_instance_discovery=True,
        connection_verify=sandbox.ca_file,
    )
    token = credential.get_token(MDE_SCOPE)
    assert token.expires_on > time.time() + 3000
    claims = _validate(sandbox, token.token, tenant["tenant_id"], MDE_AUD)
    assert claims["tid"] == tenant["tenant_id"]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_gets_a_token(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]["tenant_id"]
    env = {"PATH": "/usr/bin:/bin"}  # no CURL_CA_BUNDLE: --cacert alone must do
    result = subprocess.run(
        [
            "curl",
            "-sS",
            "--cacert",
            sandbox.ca_file,
            "-X",
            "POST",
            f"{sandbox.url}/{tenant}/oauth2/v2.0/token",
            "-H",
            "Content-Type: application/x-www-form-urlencoded",
            "-d",
            f"client_id={sandbox.config['client_id']}",
            "--data-urlencode",
            f"scope={MDE_SCOPE}",
            "--data-urlencode",
            f"client_secret={sandbox.config['client_secret']}",
            "-d",
            "grant_type=client_credentials",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=True,
    )
    body = json.loads(result.stdout)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3599
    _validate(sandbox, body["access_token"], tenant, MDE_AUD)


def test_discovery_documents(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]
    tid, url = tenant["tenant_id"], sandbox.url
    with sandbox.session() as session:
        v2 = session.get(f"{url}/{tenant['domain']}/v2.0/.well-known/openid-configuration").json()
        v1 = session.get(f"{url}/{tid}/.well-known/openid-configuration").json()
        common = session.get(f"{url}/common/v2.0/.well-known/openid-configuration").json()
        orgs = session.get(f"{url}/organizations/v2.0/.well-known/openid-configuration")
        v1_keys = session.get(f"{url}/common/discovery/keys").json()
    assert v2["issuer"] == f"{url}/{tid}/v2.0"
    assert v2["token_endpoint"] == f"{url}/{tid}/oauth2/v2.0/token"
    assert v2["jwks_uri"] == f"{url}/{tid}/discovery/v2.0/keys"
    # A person's browser signs in at the plain-HTTP loopback pages; programs stay on HTTPS.
    assert sandbox.browser_url.startswith("http://127.0.0.1:")
    assert v2["authorization_endpoint"] == f"{sandbox.browser_url}/{tid}/oauth2/v2.0/authorize"
    assert v1["authorization_endpoint"] == f"{sandbox.browser_url}/{tid}/oauth2/authorize"
    assert v1["issuer"] == f"https://sts.windows.net/{tid}/"
    assert v1["jwks_uri"] == f"{url}/common/discovery/keys"
    assert v1["token_endpoint"] == f"{url}/{tid}/oauth2/token"
    assert common["issuer"] == f"{url}/{{tenantid}}/v2.0"
    assert orgs.status_code == 200
    assert v1_keys["keys"][0]["kty"] == "RSA"


def test_v1_token_endpoint_answers_strings(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]["tenant_id"]
    form = secret_form(sandbox)
    del form["scope"]
    form["resource"] = "https://api.security.microsoft.com"
    response = token_request(sandbox, tenant, form, v1=True)
    assert response.status_code == 200, response.text
    body = response.json()
    for key in ("expires_in", "ext_expires_in", "expires_on", "not_before"):
        assert isinstance(body[key], str) and body[key].isdigit()
    assert body["resource"] == "https://api.security.microsoft.com"


def test_http_basic_client_authentication(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]["tenant_id"]
    with sandbox.session() as session:
        response = session.post(
            f"{sandbox.url}/{tenant}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "scope": MDE_SCOPE},
            auth=(sandbox.config["client_id"], sandbox.config["client_secret"]),
        )
    assert response.status_code == 200, response.text


def test_unconsented_tenant_gives_700016(sandbox: SandboxProcess) -> None:
    unconsented = sandbox.tenants[2]
    assert unconsented["consented"] is False
    response = token_request(sandbox, unconsented["tenant_id"], secret_form(sandbox))
    assert response.status_code == 400
    assert response.json()["error"] == "unauthorized_client"
    assert aadsts(response) == 700016


def test_revoked_consent_gives_700016_and_grant_restores(
    sandbox_factory,
) -> None:
    sb = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=5)
    tenant = sb.tenants[0]["tenant_id"]
    assert token_request(sb, tenant, secret_form(sb)).status_code == 200
    assert sb.control("DELETE", f"/_sandbox/tenants/{tenant}/consent").status_code == 200
    assert aadsts(token_request(sb, tenant, secret_form(sb))) == 700016
    sb.control("POST", f"/_sandbox/tenants/{tenant}/consent", json={"roles": ["Alert.Read.All"]})
    response = token_request(sb, tenant, secret_form(sb))
    assert response.status_code == 200
    claims = jwt.decode(response.json()["access_token"], options={"verify_signature": False})
    assert claims["roles"] == ["Alert.Read.All"]


def test_wrong_and_expired_secret(sandbox_factory) -> None:
    sb = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=5)
    tenant = sb.tenants[0]["tenant_id"]
    wrong = token_request(sb, tenant, secret_form(sb, client_secret="not-the-secret"))
    assert wrong.status_code == 401
    assert wrong.json()["error"] == "invalid_client"
    assert aadsts(wrong) == 7000215

    sb.control("POST", "/_sandbox/secret/expire")
    expired = token_request(sb, tenant, secret_form(sb))
    assert expired.status_code == 401
    assert aadsts(expired) == 7000222
    # The certificate keeps working while the secret is expired.
    app = msal_app(sb, tenant, certificate_credential(sb))
    assert "access_token" in app.acquire_token_for_client([MDE_SCOPE])

    sb.control("POST", "/_sandbox/secret/restore")
    assert token_request(sb, tenant, secret_form(sb)).status_code == 200


def test_unknown_tenant_gives_90002(sandbox: SandboxProcess) -> None:
    for tenant in (str(uuid.uuid4()), "nobody.onmicrosoft.com"):
        response = token_request(sandbox, tenant, secret_form(sandbox))
        assert response.status_code == 400
        assert aadsts(response) == 90002
        with sandbox.session() as session:
            discovery = session.get(f"{sandbox.url}/{tenant}/v2.0/.well-known/openid-configuration")
        assert discovery.status_code == 400
        assert aadsts(discovery) == 90002


def test_assertion_signed_by_another_key_gives_700027(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]["tenant_id"]
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    # Same thumbprint as the registered certificate, wrong key: the signature fails.
    credential = {"private_key": pem, "thumbprint": sandbox.config["certificate"]["thumbprint"]}
    result = msal_app(sandbox, tenant, credential).acquire_token_for_client([MDE_SCOPE])
    assert result.get("error") == "invalid_client"
    assert result["error_codes"] == [700027]
    # An unregistered thumbprint is refused as well.
    credential["thumbprint"] = "00" * 20
    result = msal_app(sandbox, tenant, credential).acquire_token_for_client([MDE_SCOPE])
    assert result["error_codes"] == [700027]


def test_assertion_for_another_audience_is_refused(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]["tenant_id"]
    key = certificate_credential(sandbox)["private_key"]
    thumb = sandbox.config["certificate"]["thumbprint"]
    x5t = jwt.utils.base64url_encode(bytes.fromhex(thumb)).decode()
    client_id = sandbox.config["client_id"]
    now = int(time.time())

    def assertion(aud: str, exp: int) -> str:
        claims = {
            "aud": aud,
            "iss": client_id,
            "sub": client_id,
            "exp": exp,
            "jti": "x",
            "nbf": now - 60,
        }
        return jwt.encode(claims, key, algorithm="RS256", headers={"x5t": x5t})

    good_aud = f"{sandbox.url}/{tenant}/oauth2/v2.0/token"
    for aud, exp, code in (
        ("https://login.microsoftonline.com/x/oauth2/v2.0/token", now + 600, 700027),
        (good_aud, now - 60, 700024),
        (good_aud, now + 600, None),
    ):
        form = {
            "client_id": client_id,
            "grant_type": "client_credentials",
            "scope": MDE_SCOPE,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion(aud, exp),
        }
        response = token_request(sandbox, tenant, form)
        if code is None:
            assert response.status_code == 200, response.text
        else:
            assert response.status_code == 401
            assert aadsts(response) == code


def test_bad_scope_and_unknown_resource(sandbox: SandboxProcess) -> None:
    tenant = sandbox.tenants[0]["tenant_id"]
    bad_scope = token_request(sandbox, tenant, secret_form(sandbox, scope="Alert.Read.All"))
    assert bad_scope.status_code == 400
    assert bad_scope.json()["error"] == "invalid_scope"
    assert aadsts(bad_scope) == 70011
    unknown = token_request(
        sandbox, tenant, secret_form(sandbox, scope="https://unknown.example.com/.default")
    )
    assert unknown.status_code == 400
    assert aadsts(unknown) == 500011
    form = secret_form(sandbox)
    del form["scope"]
    v1 = token_request(sandbox, tenant, {**form, "resource": "https://nope.example"}, v1=True)
    assert aadsts(v1) == 500011


def test_msal_surfaces_sandbox_errors(sandbox: SandboxProcess) -> None:
    app = msal.ConfidentialClientApplication(
        sandbox.config["client_id"],
        client_credential="wrong",
        authority=f"{sandbox.url}/{sandbox.tenants[0]['tenant_id']}",
        instance_discovery=False,
        http_client=sandbox.session(),
    )
    result = app.acquire_token_for_client([MDE_SCOPE])
    assert result["error"] == "invalid_client"
    assert 7000215 in result["error_codes"]
