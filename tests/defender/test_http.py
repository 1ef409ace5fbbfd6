"""The session ignores CA-bundle environment variables and always has a timeout."""

from __future__ import annotations

import pytest
import responses

from partner_portal.defender.http import DEFAULT_TIMEOUT, make_session


def test_configured_ca_file_wins_over_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/other.pem")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/other.pem")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.invalid:3128")
    session = make_session("/tmp/sandbox-ca.pem")
    settings = session.merge_environment_settings(
        "https://127.0.0.1:8443/", proxies={}, stream=None, verify=None, cert=None
    )
    assert settings["verify"] == "/tmp/sandbox-ca.pem"
    assert settings["proxies"] == {}


def test_default_store_without_ca_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/other.pem")
    settings = make_session().merge_environment_settings(
        "https://x.test/", proxies={}, stream=None, verify=None, cert=None
    )
    assert settings["verify"] is True


@responses.activate
def test_default_timeout_applied_and_explicit_one_kept() -> None:
    responses.add(responses.GET, "https://api.test/a")
    session = make_session(timeout=(3.0, 9.0))
    session.get("https://api.test/a")
    session.get("https://api.test/a", timeout=1.5)
    assert responses.calls[0].request.req_kwargs["timeout"] == (3.0, 9.0)  # type: ignore[attr-defined]
    assert responses.calls[1].request.req_kwargs["timeout"] == 1.5  # type: ignore[attr-defined]
    assert DEFAULT_TIMEOUT[0] > 0 and DEFAULT_TIMEOUT[1] > 0
