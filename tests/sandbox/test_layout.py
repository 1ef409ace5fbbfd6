"""The sandbox's shape: no Django anywhere in it, modules small enough to read, and the
routes an API module registers reach its handlers."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

import partner_portal.sandbox
from partner_portal.sandbox.api import ApiError, ApiFamily
from partner_portal.sandbox.app import API_MODULES, SandboxApp
from partner_portal.sandbox.directory import Tenant
from partner_portal.sandbox.identity import MDE_AUDIENCE
from partner_portal.sandbox.options import parse_options
from partner_portal.sandbox.pki import ensure_pki
from partner_portal.sandbox.state import Sandbox
from partner_portal.sandbox.web import Request, Response, json_response
from tests.standalone import django_modules_loaded_by

PACKAGE_DIR = Path(partner_portal.sandbox.__file__).parent
# Data and the data generator are long by nature; everything else is split by capability.
LONG_BY_NATURE = {"catalog.py", "generator.py"}
MAX_LINES = 400


def _top_level_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_no_module_imports_django() -> None:
    files = sorted(PACKAGE_DIR.glob("*.py"))
    assert len(files) >= 20
    assert [p.name for p in files if "django" in _top_level_imports(p)] == []


def test_starting_the_server_loads_no_django() -> None:
    code = "import partner_portal.sandbox.__main__, partner_portal.sandbox.server\n"
    assert django_modules_loaded_by(code) == []


def test_modules_stay_under_400_lines() -> None:
    lengths = {
        p.name: len(p.read_text().splitlines())
        for p in PACKAGE_DIR.glob("*.py")
        if p.name not in LONG_BY_NATURE
    }
    assert {name: n for name, n in lengths.items() if n > MAX_LINES} == {}


def test_every_api_module_registers_itself() -> None:
    assert API_MODULES
    for module in API_MODULES:
        assert callable(getattr(module, "register", None)), module.__name__


# --- an API added as a module: its routes pass the same gate as the built-in ones --------
WIDGETS = ApiFamily("widgets", frozenset({MDE_AUDIENCE}), "BadRequest", limits=((60, 2, "Minute"),))


def _register_widgets(app: SandboxApp) -> None:
    def one(request: Request, tenant: Tenant, widget_id: str) -> Response:
        if widget_id == "missing":
            raise ApiError(404, "NotFound", "no such widget")
        return json_response(200, {"id": widget_id, "tenant": tenant.tenant_id})

    app.defender.route("GET", r"widgets/(?P<widget_id>[^/]+)", WIDGETS, {"Alert.Read.All"}, one)


def _request(method: str, url: str, token: str | None = None, body: Any = None) -> Request:
    parts = urlsplit(url)
    return Request(
        method=method,
        path=parts.path,
        query=parse_qs(parts.query),
        headers={"authorization": f"Bearer {token}"} if token else {},
        body=json.dumps(body).encode() if body is not None else b"",
        client_ip="127.0.0.1",
        raw_query=parts.query,
    )


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> SandboxApp:
    state = tmp_path_factory.mktemp("sandbox")
    small = [
        "--tenants",
        "1",
        "--consented",
        "1",
        "--alerts-per-tenant",
        "3",
        "--arrival-rate",
        "0",
    ]
    options = parse_options(["--state-dir", str(state), *small])
    sandbox = Sandbox(options, ensure_pki(options.state_dir, ["127.0.0.1"]))
    sandbox.load()
    built = SandboxApp(sandbox)
    _register_widgets(built)
    return built


def _json(response: Response) -> Any:
    return json.loads(response.body)


def test_a_registered_api_is_served_behind_the_gate(app: SandboxApp) -> None:
    tenant = next(iter(app.sandbox.tenants.values()))
    minted = app.handle(
        _request("POST", "/_sandbox/token", body={"tenant": tenant.tenant_id, "api": "mde"})
    )
    token = _json(minted)["access_token"]

    answer = app.handle(_request("GET", "/api/v1.0/Widgets/w1", token))
    assert (answer.status, _json(answer)) == (200, {"id": "w1", "tenant": tenant.tenant_id})
    missing = app.handle(_request("GET", "/api/widgets/missing", token))
    assert (missing.status, _json(missing)["error"]["code"]) == (404, "NotFound")
    # Its own declared limit (2 a minute) applies: the third call is refused.
    throttled = app.handle(_request("GET", "/api/widgets/w2", token))
    assert throttled.status == 429
    assert "Maximum admitted 2 per Minute" in _json(throttled)["error"]["message"]
    stats = _json(app.handle(_request("GET", "/_sandbox/stats")))
    assert stats["apis"]["widgets"]["calls_total"] == 3


def test_a_registered_api_refuses_before_its_handler_runs(app: SandboxApp) -> None:
    unauthenticated = app.handle(_request("GET", "/api/widgets/w1"))
    assert (unauthenticated.status, _json(unauthenticated)["error"]["code"]) == (
        401,
        "Unauthorized",
    )
    wrong_method = app.handle(_request("DELETE", "/api/widgets/w1"))
    assert (wrong_method.status, _json(wrong_method)["error"]["code"]) == (
        405,
        "MethodNotAllowed",
    )
