"""Dependencies point one way: core <- tenants <- alerts <- correlation <- notifications, and
the Microsoft code stands alone.

Every `.py` file under `partner_portal/` and `tenants/` is parsed (never imported) and
each import it could make is collected: top-level and nested `import`/`from` statements
(inside functions and `if TYPE_CHECKING:` blocks too), relative imports resolved against
the file's package, and `importlib.import_module(...)` or `__import__(...)` called with a
literal module name. Each is then held against the rules below; a broken rule is reported
as `file:line: the import (why)`.

- `partner_portal.core` knows no app: no `tenants`, no `partner_portal.alerts`, no
  `partner_portal.notifications`.
- `tenants` never reaches up into `partner_portal.alerts` or `partner_portal.notifications`;
  the apps above plug into tenants' extension points instead (see `tenants/panels.py`).
- `partner_portal.alerts` never reaches up into `partner_portal.correlation` or
  `partner_portal.notifications`; those apps hear about stored alerts through the sync's
  listeners (`alerts/sync/stored.py`) and add cards to the alert page through its slot
  (`alerts/detail_panels.py`). Correlation never reaches up into notifications.
- `partner_portal.defender` and `partner_portal.sandbox` are plain Python: no Django and
  no other project package (each may import itself).

The project-level modules (settings, URLs, Celery app, WSGI/ASGI, the package's
`__init__`) wire everything together and are exempt.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CHECKED_PACKAGES = ("partner_portal", "tenants")
COMPOSITION_ROOT = frozenset(
    f"partner_portal/{name}"
    for name in ("settings.py", "urls.py", "celery.py", "wsgi.py", "asgi.py", "__init__.py")
)
PROJECT_PACKAGES = ("partner_portal", "tenants")
STANDALONE = ("partner_portal.defender", "partner_portal.sandbox")
#: Each app, lowest first: an app may import those before it, never those after it.
LAYERS = (
    "tenants",
    "partner_portal.alerts",
    "partner_portal.correlation",
    "partner_portal.hunting",
    "partner_portal.notifications",
)


@dataclass(frozen=True)
class Found:
    """One import a module makes: where, what it names, and how it was written."""

    line: int
    module: str
    written: str


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _resolve(name: str | None, level: int, importer: str, is_package: bool) -> str:
    """The absolute module a (possibly relative) `from` names, seen from `importer`."""
    if level == 0:
        return name or ""
    parts = importer.split(".")
    base = parts if is_package else parts[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, name] if name else base)


def _dynamic_target(node: ast.Call) -> str | None:
    """The literal module name given to `import_module(...)` or `__import__(...)`."""
    func = node.func
    called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    if called not in ("import_module", "__import__") or not node.args:
        return None
    first = node.args[0]
    if isinstance(first, ast.Constant) and isinstance(first.value, str):
        return first.value
    return None


def imports_of(source: str, *, module: str, is_package: bool = False) -> Iterator[Found]:
    """Every import in `source`, the text of module `module`, wherever it stands."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Found(node.lineno, alias.name, f"import {alias.name}")
        elif isinstance(node, ast.ImportFrom):
            origin = _resolve(node.module, node.level, module, is_package)
            written = f"from {'.' * node.level}{node.module or ''} import " + ", ".join(
                alias.name for alias in node.names
            )
            # `from a import b` may load the module `a.b`: judge the most precise name.
            for alias in node.names:
                target = origin if alias.name == "*" else f"{origin}.{alias.name}"
                yield Found(node.lineno, target, written)
        elif isinstance(node, ast.Call):
            target = _dynamic_target(node)
            if target is not None and not target.startswith("."):
                call = ast.unparse(node.func)
                yield Found(node.lineno, target, f"{call}({target!r})")


def why_forbidden(importer: str, imported: str) -> str | None:
    """The rule `importer` would break by importing `imported`, or None."""
    if _within(importer, "partner_portal.core"):
        for app in LAYERS:
            if _within(imported, app):
                return f"partner_portal.core imports no app ({app})"
    for level, app in enumerate(LAYERS):
        if not _within(importer, app):
            continue
        for higher in LAYERS[level + 1 :]:
            if _within(imported, higher):
                return f"{app} never imports {higher}"
    for package in STANDALONE:
        if not _within(importer, package):
            continue
        if _within(imported, "django"):
            return f"{package} imports no Django"
        if _within(imported, package):
            return None
        if any(_within(imported, project) for project in PROJECT_PACKAGES):
            return f"{package} imports no other project package"
    return None


def violations(source: str, *, path: str) -> list[str]:
    """`file:line: import (rule)` for each import in `source` (the file at `path`,
    relative to the repository) that goes against the dependency direction."""
    if path in COMPOSITION_ROOT:
        return []
    parts = Path(path).with_suffix("").parts
    is_package = parts[-1] == "__init__"
    module = ".".join(parts[:-1] if is_package else parts)
    found = []
    for item in imports_of(source, module=module, is_package=is_package):
        reason = why_forbidden(module, item.module)
        if reason is not None:
            found.append(f"{path}:{item.line}: {item.written} ({reason})")
    return sorted(set(found), key=lambda text: (text.split(":")[0], int(text.split(":")[1])))


def _project_files() -> list[Path]:
    return sorted(
        path
        for package in CHECKED_PACKAGES
        for path in (REPO_ROOT / package).rglob("*.py")
        if ".venv" not in path.parts
    )


def test_every_import_follows_the_dependency_direction() -> None:
    files = _project_files()
    # A glob that found nothing would make the check pass silently.
    assert len(files) > 100
    assert {str(p.relative_to(REPO_ROOT)) for p in files} >= COMPOSITION_ROOT
    broken = [
        line
        for path in files
        for line in violations(path.read_text(), path=str(path.relative_to(REPO_ROOT)))
    ]
    assert not broken, "Imports against the dependency direction:\n" + "\n".join(broken)


# --- the checker itself ----------------------------------------------------------------------
WRONG_WAY_IN_A_FUNCTION = '''\
"""A tenants module that reaches into the alerts app where nobody looks."""


def sync_card(customer):
    from partner_portal.alerts.selectors_sync import customer_sync_overview

    return customer_sync_overview(customer=customer)
'''


def test_a_wrong_way_import_inside_a_function_is_reported() -> None:
    assert violations(WRONG_WAY_IN_A_FUNCTION, path="tenants/widgets.py") == [
        "tenants/widgets.py:5: from partner_portal.alerts.selectors_sync import "
        "customer_sync_overview (tenants never imports partner_portal.alerts)"
    ]


@pytest.mark.parametrize(
    ("path", "source", "rule"),
    [
        (
            "partner_portal/core/rules.py",
            "if TYPE_CHECKING:\n    from tenants.models import Customer\n",
            "partner_portal.core imports no app (tenants)",
        ),
        (
            "partner_portal/core/rules.py",
            "import importlib\nmodels = importlib.import_module('partner_portal.alerts.models')\n",
            "partner_portal.core imports no app (partner_portal.alerts)",
        ),
        (
            "tenants/management/commands/peek.py",
            "from partner_portal import alerts\n",
            "tenants never imports partner_portal.alerts",
        ),
        (
            "partner_portal/alerts/views/peek.py",
            "def f():\n    return __import__('partner_portal.alerts.models')\n",
            None,
        ),
        (
            "partner_portal/defender/peek.py",
            "def f():\n    from django.conf import settings\n    return settings\n",
            "partner_portal.defender imports no Django",
        ),
        (
            "partner_portal/sandbox/peek.py",
            "from partner_portal.defender import clouds\n",
            "partner_portal.sandbox imports no other project package",
        ),
        (
            "partner_portal/sandbox/web/peek.py",
            "from ...core import locks\n",
            "partner_portal.sandbox imports no other project package",
        ),
        ("partner_portal/sandbox/web/peek.py", "from .. import state\n", None),
        (
            "partner_portal/alerts/sync/upsert.py",
            "from partner_portal.notifications.outbox import record_stored\n",
            "partner_portal.alerts never imports partner_portal.notifications",
        ),
        (
            "tenants/views.py",
            "def f():\n    from partner_portal.notifications import models\n",
            "tenants never imports partner_portal.notifications",
        ),
        (
            "partner_portal/core/views.py",
            "import partner_portal.notifications.models\n",
            "partner_portal.core imports no app (partner_portal.notifications)",
        ),
        (
            "partner_portal/notifications/outbox.py",
            "from partner_portal.alerts import models\n",
            None,
        ),
        ("partner_portal/notifications/views.py", "from tenants import scoping\n", None),
        ("partner_portal/settings.py", "from tenants import models\n", None),
        ("tenants/views.py", "from partner_portal.core.access import Role\n", None),
    ],
)
def test_the_rules(path: str, source: str, rule: str | None) -> None:
    found = violations(source, path=path)
    if rule is None:
        assert found == []
    else:
        assert len(found) == 1 and found[0].endswith(f"({rule})"), found
