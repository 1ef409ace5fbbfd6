"""The protocol core against the running sandbox (real HTTPS, real MSAL, real paging).

Needs the ``sandbox`` / ``sandbox_factory`` fixtures from ``tests/fixtures/sandbox.py``.
"""

from __future__ import annotations

import multiprocessing
import uuid
from pathlib import Path
from typing import Any

import jwt
import pytest

from partner_portal.defender import identity_errors as e
from partner_portal.defender.clouds import (
    ALERT_READ,
    ALERT_READWRITE,
    MDE_RESOURCE,
    XDR_RESOURCE,
    Endpoints,
    endpoints_for,
)
from partner_portal.defender.consent import admin_consent_url, partner_consent_url
from partner_portal.defender.credentials import AppCredentials
from partner_portal.defender.http import make_session
from partner_portal.defender.mde import MdeClient
from partner_portal.defender.rate_limit import NO_LIMIT
from partner_portal.defender.retry import RetryPolicy
from partner_portal.defender.token_cache import FileTokenCache, InMemoryTokenCache
from partner_portal.defender.tokens import TokenProvider
from partner_portal.defender.validation import TokenValidator
from partner_portal.sandbox.testing import token_requests as sandbox_token_requests
from tests.fixtures.sandbox import sandbox_fixture

pytestmark = pytest.mark.sandbox


# ----------------------------------------------------------------------------- helpers


def _json(answer: Any) -> Any:
    """The control API's answer as data (it hands back a ``requests`` response)."""
    if hasattr(answer, "raise_for_status"):
        answer.raise_for_status()
        return answer.json() if answer.content else None
    return answer


def endpoints(cfg: dict[str, Any]) -> Endpoints:
    return endpoints_for(
        login_url=cfg["login_url"],
        mde_api_url=cfg["api_url"],
        xdr_api_url=cfg.get("xdr_api_url") or cfg["api_url"],
    )


def secret_credentials(cfg: dict[str, Any], secret: str | None = None) -> AppCredentials:
    return AppCredentials(client_id=cfg["client_id"], client_secret=secret or cfg["client_secret"])


def certificate_credentials(cfg: dict[str, Any]) -> AppCredentials:
    cert = cfg["certificate"]
    return AppCredentials.from_certificate_files(
        cfg["client_id"],
        cert["private_key_file"],
        cert.get("certificate_file"),
        cert.get("thumbprint"),
    )


def provider(
    sb: Any, cache: Any = None, credentials: AppCredentials | None = None
) -> TokenProvider:
    cfg = sb.config
    return TokenProvider(
        credentials or secret_credentials(cfg),
        endpoints(cfg),
        cache if cache is not None else InMemoryTokenCache(),
        ca_file=cfg["ca_file"],
    )


def validator(sb: Any, clock: Any = None) -> TokenValidator:
    session = make_session(sb.config["ca_file"])
    if clock is None:
        return TokenValidator(endpoints(sb.config), session)
    return TokenValidator(endpoints(sb.config), session, clock=clock)


def tenants(sb: Any) -> list[dict[str, Any]]:
    return list(sb.config["tenants"])


def consent(sb: Any, tenant_id: str, roles: list[str]) -> None:
    _json(sb.control("POST", f"/_sandbox/tenants/{tenant_id}/consent", json={"roles": roles}))


def revoke(sb: Any, tenant_id: str) -> None:
    _json(sb.control("DELETE", f"/_sandbox/tenants/{tenant_id}/consent"))


def stats(sb: Any, tenant_id: str) -> dict[str, Any]:
    return dict(_json(sb.control("GET", f"/_sandbox/stats?tenant={tenant_id}")))


def token_requests(sb: Any, tenant_id: str) -> int | None:
    """Token requests the sandbox counted for a tenant (None if it does not say)."""
    return sandbox_token_requests(stats(sb, tenant_id))


def ground_truth_ids(sb: Any, tenant_id: str) -> set[str]:
    data = _json(sb.control("GET", f"/_sandbox/ground-truth?tenant={tenant_id}"))
    items = data["value"] if isinstance(data, dict) else data
    return {item["id"] if isinstance(item, dict) else str(item) for item in items}


def set_faults(sb: Any, tenant_id: str | None, **faults: float) -> None:
    body: dict[str, Any] = dict(faults)
    if tenant_id:
        body["tenant"] = tenant_id
    _json(sb.control("PUT", "/_sandbox/faults", json=body))


def mde_client(sb: Any, tp: TokenProvider, tenant_id: str, **kwargs: Any) -> MdeClient:
    def get_token(force_refresh: bool) -> str:
        return tp.get(tenant_id, MDE_RESOURCE, force_refresh=force_refresh).token

    return MdeClient(
        sb.config["api_url"],
        tenant_id,
        get_token,
        session=make_session(sb.config["ca_file"]),
        **kwargs,
    )


# This module's own sandbox: its tests change consent, which others must not see.
# Tenants: 0 and 3 consented with read and write roles, 1 for a missing role, 2 for
# the shared cache, 4 and 5 never consented.
sandbox = sandbox_fixture("defender-sandbox", tenants=6, consented=4, alerts_per_tenant=20, seed=11)


@pytest.fixture
def fresh_tenant(sandbox: Any) -> str:
    """Tenant 0, consented with read and write roles."""
    tid = str(tenants(sandbox)[0]["tenant_id"])
    consent(sandbox, tid, [ALERT_READ, ALERT_READWRITE])
    return tid


# ----------------------------------------------------------------------------- consent


def test_both_consent_links_show_the_sign_in_page(sandbox: Any) -> None:
    cfg = sandbox.config
    redirect = cfg["redirect_uris"][0]
    session = make_session(cfg["ca_file"])
    links = [
        admin_consent_url(
            login_url=cfg["login_url"],
            client_id=cfg["client_id"],
            redirect_uri=redirect,
            state="state-v2",
        ),
        partner_consent_url(
            login_url=cfg["login_url"],
            client_id=cfg["client_id"],
            redirect_uri=redirect,
            state="state-v1",
        ),
    ]
    for link in links:
        answer = session.get(link, allow_redirects=True)
        assert answer.status_code == 200, answer.text[:300]
        assert "html" in answer.headers.get("Content-Type", "")
        assert "AADSTS" not in answer.text
        assert "<form" in answer.text.lower()


# ------------------------------------------------------------------------------ tokens


def test_token_with_secret_validates(sandbox: Any, fresh_tenant: str) -> None:
    tp = provider(sandbox)
    token = tp.get(fresh_tenant, MDE_RESOURCE)
    assert token.source == "identity_provider"
    assert tp.get(fresh_tenant, MDE_RESOURCE).source == "cache"
    result = validator(sandbox).validate(
        token.token,
        tenant_id=fresh_tenant,
        resource=MDE_RESOURCE,
        required_roles=[ALERT_READ, ALERT_READWRITE],
    )
    assert result.complete
    assert result.claims["appidacr"] == "1"


def test_token_with_certificate_validates(sandbox: Any, fresh_tenant: str) -> None:
    tp = provider(sandbox, credentials=certificate_credentials(sandbox.config))
    token = tp.get(fresh_tenant, MDE_RESOURCE)
    result = validator(sandbox).validate(
        token.token, tenant_id=fresh_tenant, resource=MDE_RESOURCE, required_roles=[ALERT_READ]
    )
    assert result.claims["appidacr"] == "2"


def test_missing_role_is_reported(sandbox: Any) -> None:
    tid = str(tenants(sandbox)[1]["tenant_id"])
    consent(sandbox, tid, [ALERT_READ])
    token = provider(sandbox).get(tid, MDE_RESOURCE, force_refresh=True)
    result = validator(sandbox).validate(
        token.token,
        tenant_id=tid,
        resource=MDE_RESOURCE,
        required_roles=[ALERT_READ, ALERT_READWRITE],
    )
    assert result.missing_roles == (ALERT_READWRITE,)


def _worker(args: tuple[dict[str, Any], str, str, int]) -> list[str]:
    cfg, cache_dir, tenant_id, calls = args
    tp = TokenProvider(
        secret_credentials(cfg), endpoints(cfg), FileTokenCache(cache_dir), ca_file=cfg["ca_file"]
    )
    return [tp.get(tenant_id, MDE_RESOURCE).source for _ in range(calls)]


def test_cache_shared_across_processes(sandbox: Any, tmp_path: Path) -> None:
    tid = str(tenants(sandbox)[2]["tenant_id"])
    consent(sandbox, tid, [ALERT_READ])
    before = token_requests(sandbox, tid)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(4) as pool:
        sources = pool.map(_worker, [(sandbox.config, str(tmp_path / "cache"), tid, 50)] * 4)
    flat = [s for chunk in sources for s in chunk]
    assert len(flat) == 200
    assert flat.count("identity_provider") == 1
    after = token_requests(sandbox, tid)
    if before is not None and after is not None:
        assert after - before == 1


# -------------------------------------------------------------------------- AADSTS codes


def test_unconsented_tenant_is_consent_missing(sandbox: Any) -> None:
    tid = str(tenants(sandbox)[4]["tenant_id"])
    revoke(sandbox, tid)
    with pytest.raises(e.ConsentMissing) as info:
        provider(sandbox).get(tid, MDE_RESOURCE)
    assert info.value.aadsts_code == 700016


def test_wrong_secret_is_invalid_secret(sandbox: Any, fresh_tenant: str) -> None:
    tp = provider(sandbox, credentials=secret_credentials(sandbox.config, "not-the-secret"))
    with pytest.raises(e.InvalidSecret) as info:
        tp.get(fresh_tenant, MDE_RESOURCE)
    assert info.value.aadsts_code == 7000215
    assert "not-the-secret" not in str(info.value)


def test_unknown_tenant_is_tenant_not_found(sandbox: Any) -> None:
    with pytest.raises(e.TenantNotFound):
        provider(sandbox).get(str(uuid.uuid4()), MDE_RESOURCE)


def test_expired_secret_is_secret_expired(sandbox_factory: Any) -> None:
    sb = sandbox_factory(tenants=1, consented=1, alerts_per_tenant=5)
    tid = str(tenants(sb)[0]["tenant_id"])
    _json(sb.control("POST", "/_sandbox/secret/expire"))
    with pytest.raises(e.SecretExpired) as info:
        provider(sb).get(tid, MDE_RESOURCE)
    assert info.value.aadsts_code == 7000222
    # A certificate still works while the secret is expired.
    assert provider(sb, credentials=certificate_credentials(sb.config)).get(tid, MDE_RESOURCE)


# ------------------------------------------------------------------------- validation


def test_validation_failures_for_real(sandbox: Any, fresh_tenant: str) -> None:
    other = str(tenants(sandbox)[3]["tenant_id"])
    tp = provider(sandbox)
    token = tp.get(fresh_tenant, MDE_RESOURCE).token
    v = validator(sandbox)

    with pytest.raises(e.WrongTenant):
        v.validate(token, tenant_id=other, resource=MDE_RESOURCE)

    xdr = tp.get(fresh_tenant, XDR_RESOURCE).token
    with pytest.raises(e.WrongAudience):
        v.validate(xdr, tenant_id=fresh_tenant, resource=MDE_RESOURCE)

    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    with pytest.raises(e.TokenExpired):
        validator(sandbox, clock=lambda: exp + 3600).validate(
            token, tenant_id=fresh_tenant, resource=MDE_RESOURCE
        )

    head, body, sig = token.split(".")
    flipped = sig[:-4] + ("AAAA" if sig[-4:] != "AAAA" else "BBBB")
    with pytest.raises(e.BadSignature):
        v.validate(f"{head}.{body}.{flipped}", tenant_id=fresh_tenant, resource=MDE_RESOURCE)

    # Same claims, signed by a key the tenant does not publish.
    claims = jwt.decode(token, options={"verify_signature": False})
    unknown_kid = jwt.encode(
        claims,
        _throwaway_key_pem(),
        algorithm="RS256",
        headers={"kid": "no-such-key"},
    )
    fetches = v.key_fetches
    with pytest.raises(e.UnknownSigningKey):
        v.validate(unknown_kid, tenant_id=fresh_tenant, resource=MDE_RESOURCE)
    assert v.key_fetches == fetches + 1  # refreshed once, then refused


def _throwaway_key_pem() -> str:
    from .fakes import new_key, private_pem

    return private_pem(new_key())


# ------------------------------------------------------------------------------ paging


big_sandbox = sandbox_fixture(
    "big-sandbox",
    timeout=120,
    tenants=1,
    consented=1,
    alerts_per_tenant=25_000,
    no_rate_limit=True,
    page_size=2_000,
)


@pytest.mark.parametrize("page_size", [None, 5_000])
def test_pages_through_25000_alerts(big_sandbox: Any, page_size: int | None) -> None:
    sb = big_sandbox
    tid = str(tenants(sb)[0]["tenant_id"])
    client = mde_client(sb, provider(sb), tid, limiter=NO_LIMIT)
    ids: list[str] = []
    for page in client.iter_alert_pages(page_size=page_size):
        ids.extend(a.id for a in page)
    assert len(ids) == len(set(ids))
    assert set(ids) == ground_truth_ids(sb, tid)
    assert len(ids) >= 25_000


# Rate limits stay on: the client's own limiter must keep it under them.
storm_sandbox = sandbox_fixture("storm-sandbox", tenants=2, consented=2, alerts_per_tenant=3_000)


def _read_all_under_faults(
    sb: Any, tid: str, retry: RetryPolicy, **faults: float
) -> tuple[MdeClient, list[str]]:
    """The client and the IDs of all of ``tid``'s alerts it read with ``faults`` set."""
    set_faults(sb, tid, **faults)
    try:
        client = mde_client(sb, provider(sb), tid, retry=retry)
        ids = [a.id for a in client.iter_alerts(page_size=200)]
    finally:
        set_faults(sb, tid)
    return client, ids


def test_survives_a_429_storm(storm_sandbox: Any) -> None:
    sb = storm_sandbox
    tid = str(tenants(sb)[0]["tenant_id"])
    client, ids = _read_all_under_faults(
        sb,
        tid,
        RetryPolicy(backoff_base=0.2, backoff_max=2.0),
        rate_429=0.3,
        rate_429_no_retry_after=0.1,
        retry_after_seconds=1,
    )
    assert len(ids) == len(set(ids))
    assert set(ids) == ground_truth_ids(sb, tid)
    assert client.stats.throttled_waits > 0


def test_survives_a_5xx_and_reset_storm(storm_sandbox: Any) -> None:
    sb = storm_sandbox
    tid = str(tenants(sb)[1]["tenant_id"])
    client, ids = _read_all_under_faults(
        sb,
        tid,
        RetryPolicy(max_attempts=10, backoff_base=0.1, backoff_max=1.0),
        rate_500=0.1,
        rate_503=0.1,
        rate_drop=0.1,
        rate_truncated=0.05,
        rate_malformed=0.05,
    )
    assert len(ids) == len(set(ids))
    assert set(ids) == ground_truth_ids(sb, tid)
    assert client.stats.retries > 0
