"""Microsoft-shaped fakes for the protocol core's unit tests (used with ``responses``)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from jwt.algorithms import RSAAlgorithm

TENANT = "6f1c2a3b-4d5e-4f60-8a9b-0c1d2e3f4a5b"
OTHER_TENANT = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
CLIENT_ID = "3c2b1a09-8f7e-4d6c-9b5a-4e3d2c1b0a9f"
SECRET = "s3cr3t~value-that-must-never-leak"
LOGIN = "https://login.sandbox.test"
API = "https://api.sandbox.test"
MDE = "https://api.securitycenter.microsoft.com"


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def self_signed_cert(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "partner-portal-test")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    data = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    data.update({"kid": kid, "use": "sig", "x5t": kid})
    return dict(data)


def make_token(
    key: rsa.RSAPrivateKey,
    kid: str = "key-1",
    *,
    tenant: str = TENANT,
    aud: str = MDE,
    roles: list[str] | None = None,
    iat: float | None = None,
    lifetime: int = 3599,
    version: str = "1.0",
    **extra: Any,
) -> str:
    now = int(iat if iat is not None else time.time())
    iss = f"https://sts.windows.net/{tenant}/" if version == "1.0" else f"{LOGIN}/{tenant}/v2.0"
    claims: dict[str, Any] = {
        "aud": aud,
        "iss": iss,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime,
        "appid": CLIENT_ID,
        "appidacr": "1",
        "idp": iss,
        "oid": str(uuid.uuid4()),
        "sub": str(uuid.uuid4()),
        "tid": tenant,
        "ver": version,
        "roles": roles if roles is not None else ["Alert.Read.All"],
    }
    claims.update(extra)
    return jwt.encode(claims, private_pem(key), algorithm="RS256", headers={"kid": kid, "x5t": kid})


def add_identity(
    rsps: responses.RequestsMock,
    *,
    tenant: str = TENANT,
    login: str = LOGIN,
    keys: list[dict[str, Any]] | None = None,
) -> None:
    """Discovery documents (v1 and v2) and key sets for ``tenant``, as Entra ID serves them."""
    rsps.add(
        responses.GET,
        f"{login}/{tenant}/v2.0/.well-known/openid-configuration",
        json={
            "issuer": f"{login}/{tenant}/v2.0",
            "authorization_endpoint": f"{login}/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{login}/{tenant}/oauth2/v2.0/token",
            "jwks_uri": f"{login}/{tenant}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "tenant_region_scope": "EU",
        },
    )
    rsps.add(
        responses.GET,
        f"{login}/{tenant}/.well-known/openid-configuration",
        json={
            "issuer": f"https://sts.windows.net/{tenant}/",
            "authorization_endpoint": f"{login}/{tenant}/oauth2/authorize",
            "token_endpoint": f"{login}/{tenant}/oauth2/token",
            "jwks_uri": f"{login}/common/discovery/keys",
        },
    )
    if keys is not None:
        rsps.add(responses.GET, f"{login}/common/discovery/keys", json={"keys": keys})
        rsps.add(responses.GET, f"{login}/{tenant}/discovery/v2.0/keys", json={"keys": keys})


def token_body(access_token: str = "eyJ0eXAi.fake.token", expires_in: int = 3599) -> dict[str, Any]:  # noqa: S107
    return {
        "token_type": "Bearer",
        "expires_in": expires_in,
        "ext_expires_in": expires_in,
        "access_token": access_token,
    }


def aad_error(code: int, error: str = "invalid_request", text: str = "") -> dict[str, Any]:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text or 'Something went wrong.'} "
        "Trace ID: 0b1c2d3e-0000-4000-8000-000000000000 "
        "Correlation ID: 9a8b7c6d-0000-4000-8000-000000000000 "
        "Timestamp: 2025-01-14 10:11:12Z",
        "error_codes": [code],
        "timestamp": "2025-01-14 10:11:12Z",
        "trace_id": "0b1c2d3e-0000-4000-8000-000000000000",
        "correlation_id": "9a8b7c6d-0000-4000-8000-000000000000",
        "error_uri": f"https://login.microsoftonline.com/error?code={code}",
    }


def add_unknown_tenant(
    rsps: responses.RequestsMock, *, tenant: str = TENANT, text: str = ""
) -> None:
    """The v2 discovery document of ``tenant`` refused as Entra ID refuses a tenant it does
    not know (AADSTS90002)."""
    rsps.add(
        responses.GET,
        f"{LOGIN}/{tenant}/v2.0/.well-known/openid-configuration",
        status=400,
        json=aad_error(90002, "invalid_tenant", text),
    )


def alert_json(n: int = 1, **overrides: Any) -> dict[str, Any]:
    """An alert as ``GET /api/alerts`` returns it."""
    data: dict[str, Any] = {
        "id": f"da63747290038283886{n % 10}_{1364969600 + n}",
        "incidentId": 1126093 + n,
        "investigationId": None,
        "assignedTo": None,
        "severity": "Low",
        "status": "New",
        "classification": None,
        "determination": None,
        "investigationState": "Queued",
        "detectionSource": "WindowsDefenderAv",
        "detectorId": "17e10bbc-3a68-474a-8aad-faef14d43952",
        "category": "SuspiciousActivity",
        "threatFamilyName": None,
        "threatName": None,
        "title": "Low-reputation arbitrary code executed by signed executable",
        "description": "Binaries signed by Microsoft can be used to run low-reputation code.",
        "alertCreationTime": "2021-01-26T20:33:57.7220239Z",
        "firstEventTime": "2021-01-26T20:31:32.9562661Z",
        "lastEventTime": "2021-01-26T20:31:33.0577322Z",
        "lastUpdateTime": "2021-01-26T20:33:59.2Z",
        "resolvedTime": None,
        "machineId": "111e6dd8c833c8a052ea231ec1b19adaf497b625",
        "computerDnsName": "temp123.middleeast.corp.microsoft.com",
        "rbacGroupName": "A",
        "aadTenantId": TENANT,
        "threatFamily": None,
        "mitreTechniques": ["T1064", "T1085", "T1220"],
        "relatedUser": {"userName": "temp123", "domainName": "MIDDLEEAST"},
        "loggedOnUsers": [{"accountName": "temp123", "domainName": "MIDDLEEAST"}],
        "comments": [
            {
                "comment": "test comment for docs",
                "createdBy": "secop123@contoso.com",
                "createdTime": "2021-01-26T01:00:37.8404534Z",
            }
        ],
        "evidence": [],
    }
    data.update(overrides)
    return data


def page(items: list[dict[str, Any]], next_link: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.context": f"{API}/api/$metadata#Alerts", "value": items}
    if next_link:
        body["@odata.nextLink"] = next_link
    return body


def b64url_sha1_of_hex(thumbprint: str) -> str:
    return base64.urlsafe_b64encode(bytes.fromhex(thumbprint)).rstrip(b"=").decode()


class FakeTime:
    """A clock and a sleep that advances it, for limiter and retry tests."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
