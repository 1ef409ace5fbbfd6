"""The protocol core must stay free of Django: checked in the source and at import time."""

from __future__ import annotations

import ast
from pathlib import Path

import partner_portal.defender
from tests.standalone import django_modules_loaded_by

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
    code = (
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
    )
    assert django_modules_loaded_by(code) == []


def test_ast_check_catches_an_import(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "from django.conf import settings\nimport importlib\nimportlib.import_module('django.db')\n"
    )
    assert _imported_modules(sample) >= {"django.conf", "django.db"}
