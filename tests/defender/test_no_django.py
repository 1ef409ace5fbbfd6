"""The protocol core must stay free of Django: checked in the source and at import time."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import partner_portal.defender

PACKAGE_DIR = Path(partner_portal.defender.__file__).parent
REPO_ROOT = PACKAGE_DIR.parent.parent


def _imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
        ):
            names.add(str(node.args[0].value))
    return names


def test_no_module_imports_django_in_source() -> None:
    files = sorted(PACKAGE_DIR.rglob("*.py"))
    assert len(files) >= 8
    offenders = {
        str(path.relative_to(REPO_ROOT)): sorted(
            m for m in _imported_modules(path) if m == "django" or m.startswith("django.")
        )
        for path in files
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_importing_the_package_loads_no_django() -> None:
    # The project package's own __init__ starts the Celery app (and so Django); stand in
    # an empty parent package so that only the protocol core itself is measured.
    code = (
        "import json, sys, types\n"
        "parent = types.ModuleType('partner_portal')\n"
        f"parent.__path__ = [{str(PACKAGE_DIR.parent)!r}]\n"
        "sys.modules['partner_portal'] = parent\n"
        "import importlib, pkgutil\n"
        "import partner_portal.defender\n"
        "from partner_portal.defender import client, clouds, consent, errors, http, records\n"
        "from partner_portal.defender import graph, mde, tokens, validation, xdr\n"
        "assert mde.MdeClient and xdr.XdrClient and graph.GraphClient\n"
        "assert tokens.TokenProvider and validation.TokenValidator\n"
        "# Every module of the package, those added later included.\n"
        "prefix = partner_portal.defender.__name__ + '.'\n"
        "for info in pkgutil.walk_packages(partner_portal.defender.__path__, prefix):\n"
        "    importlib.import_module(info.name)\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'django')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
        check=True,
    )
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


def test_ast_check_catches_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from django.conf import settings\nimport importlib\nimportlib.import_module('django.db')\n"
    )
    assert _imported_modules(sample) >= {"django.conf", "django.db"}
