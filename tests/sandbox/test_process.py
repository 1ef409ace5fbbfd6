"""The sandbox as a program: options, sandbox.json, persistence across restarts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from partner_portal.sandbox.testing import SandboxProcess
from tests.waiting import wait_until

from .helpers import secret_form, token_request

pytestmark = pytest.mark.sandbox

ROOT = Path(__file__).resolve().parents[2]


def test_non_loopback_host_is_refused(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "partner_portal.sandbox",
            "--host",
            "0.0.0.0",  # noqa: S104 - the refusal is what is tested
            "--state-dir",
            str(tmp_path),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr
    assert not (tmp_path / "sandbox.json").exists()


def test_sandbox_json_has_exactly_the_documented_keys(sandbox: SandboxProcess) -> None:
    config = json.loads((sandbox.state_dir / "sandbox.json").read_text())
    assert set(config) == {
        "login_url", "browser_login_url", "api_url", "xdr_api_url", "graph_url", "ca_file",
        "client_id", "client_secret", "certificate", "redirect_uris", "tenants", "partner_tenant",
    }  # fmt: skip
    assert config["login_url"] == config["api_url"] == config["xdr_api_url"] == sandbox.url
    assert config["browser_login_url"].startswith("http://127.0.0.1:")
    assert config["graph_url"] == sandbox.url
    assert sandbox.url.startswith("https://127.0.0.1:") and not sandbox.url.endswith(":0")
    assert set(config["certificate"]) == {"private_key_file", "certificate_file", "thumbprint"}
    assert len(config["certificate"]["thumbprint"]) == 40
    assert Path(config["ca_file"]).exists()
    assert "http://127.0.0.1:8000/consent/callback/" in config["redirect_uris"]
    assert "http://localhost:8000/consent/callback/" in config["redirect_uris"]
    assert "http://127.0.0.1:8000/accounts/microsoft/callback/" in config["redirect_uris"]
    assert len(config["tenants"]) == 3
    assert set(config["partner_tenant"]) == {
        "tenant_id", "name", "domain", "groups", "app_roles", "users"
    }  # fmt: skip
    for tenant in config["tenants"]:
        assert set(tenant) == {"tenant_id", "name", "domain", "admin_user", "consented", "roles"}
        assert tenant["admin_user"].endswith("@" + tenant["domain"])
    assert [t["consented"] for t in config["tenants"]] == [True, True, False]
    health = sandbox.control("GET", "/_sandbox/health").json()
    assert health["status"] == "ok"


def test_restart_keeps_state_and_seeded_data(sandbox_factory, tmp_path: Path) -> None:
    state = tmp_path / "state"
    sb = sandbox_factory(state_dir=state, tenants=2, consented=1, alerts_per_tenant=20,
                         redirect_uri=["http://127.0.0.1:9999/cb"])  # fmt: skip
    config = sb.config
    assert "http://127.0.0.1:9999/cb" in config["redirect_uris"]
    second = sb.tenants[1]["tenant_id"]
    sb.control("POST", f"/_sandbox/tenants/{second}/consent")
    added = sb.control("POST", "/_sandbox/tenants", json={"name": "Example Co", "alerts": 4})
    assert added.status_code == 201
    new_ids = sb.control("POST", f"/_sandbox/tenants/{second}/alerts", json={"count": 2}).json()[
        "ids"
    ]
    truth = sb.control("GET", f"/_sandbox/ground-truth?tenant={second}").json()["value"]
    ca = Path(config["ca_file"]).read_bytes()
    sb.stop()

    again = sandbox_factory(state_dir=state, tenants=2, alerts_per_tenant=20)
    assert again.config["client_id"] == config["client_id"]
    assert again.config["client_secret"] == config["client_secret"]
    assert again.config["certificate"]["thumbprint"] == config["certificate"]["thumbprint"]
    assert Path(again.config["ca_file"]).read_bytes() == ca
    names = [t["name"] for t in again.tenants]
    assert len(names) == 3 and names[2] == "Example Co"
    assert again.tenants[1]["consented"] is True
    assert token_request(again, second, secret_form(again)).status_code == 200
    truth_again = again.control("GET", f"/_sandbox/ground-truth?tenant={second}").json()["value"]
    assert truth_again == truth
    assert [a["id"] for a in truth_again[-2:]] == new_ids


def test_state_dir_from_environment(tmp_path: Path) -> None:
    env = {**os.environ, "SANDBOX_STATE_DIR": str(tmp_path / "from-env")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "partner_portal.sandbox",
            "--port",
            "0",
            "--tenants",
            "1",
            "--alerts-per-tenant",
            "1",
            "--arrival-rate",
            "0",
            "--quiet",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("sandbox ready https://127.0.0.1:")
        assert (tmp_path / "from-env" / "sandbox.json").exists()
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_control_api_errors(sandbox: SandboxProcess) -> None:
    assert sandbox.control("GET", "/_sandbox/nothing").status_code == 404
    assert sandbox.control("GET", "/_sandbox/ground-truth").status_code == 400
    assert sandbox.control("GET", "/_sandbox/ground-truth?tenant=nope").status_code == 404
    bad_roles = sandbox.control(
        "POST",
        f"/_sandbox/tenants/{sandbox.tenants[2]['tenant_id']}/consent",
        json={"roles": ["Nope"]},
    )
    assert bad_roles.status_code == 400
    listed = sandbox.control("GET", "/_sandbox/tenants").json()["value"]
    assert [t["tenant_id"] for t in listed] == [t["tenant_id"] for t in sandbox.tenants]
    assert all(t["alert_count"] == 50 for t in listed)


def test_alerts_keep_arriving(sandbox_factory) -> None:
    sb = sandbox_factory(tenants=1, alerts_per_tenant=5, arrival_rate=1200)  # 20 per second
    tenant = sb.tenants[0]["tenant_id"]
    seen = [5]

    def more_than_ten() -> int:
        seen.append(sb.control("GET", f"/_sandbox/tenants/{tenant}").json()["alert_count"])
        return seen[-1] if seen[-1] > 10 else 0

    count = wait_until(
        more_than_ten, timeout=10, every=0.1, message=lambda: f"alert counts seen: {seen}"
    )
    assert count > 10
    statuses = {
        a["status"]
        for a in sb.control("GET", f"/_sandbox/ground-truth?tenant={tenant}").json()["value"]
    }
    assert "New" in statuses


def test_consent_changes_at_the_same_moment_are_all_saved(sandbox_factory: Any) -> None:
    # Control requests and the background saver write the state files at once; none of
    # them may fail, and the file must end with the last change of each tenant.
    sb = sandbox_factory(tenants=4, consented=4, alerts_per_tenant=5, arrival_rate=600)
    tenants = [t["tenant_id"] for t in sb.tenants]

    def flip(round_number: int) -> list[int]:
        codes = []
        for tenant in tenants:
            method = "DELETE" if round_number % 2 else "POST"
            codes.append(sb.control(method, f"/_sandbox/tenants/{tenant}/consent").status_code)
        return codes

    with ThreadPoolExecutor(8) as pool:
        codes = [code for batch in pool.map(flip, range(40)) for code in batch]
    assert codes and set(codes) == {200}
    for tenant in tenants:
        sb.control("POST", f"/_sandbox/tenants/{tenant}/consent").raise_for_status()
    saved = json.loads((sb.state_dir / "state.json").read_text())
    assert all(record["consented"] for record in saved["tenants"])


def test_sandbox_state_is_private_to_its_account(sandbox: SandboxProcess) -> None:
    """sandbox.json holds the app's client secret; the folder also holds private keys."""
    state_dir = Path(sandbox.state_dir)
    assert oct(state_dir.stat().st_mode & 0o777) == "0o700"
    config = json.loads((state_dir / "sandbox.json").read_text())
    private = [state_dir / "sandbox.json", Path(config["certificate"]["private_key_file"])]
    private += [path for path in state_dir.glob("*.json") if path.name != "sandbox.json"]
    for path in private:
        assert oct(path.stat().st_mode & 0o777) == "0o600", path.name
