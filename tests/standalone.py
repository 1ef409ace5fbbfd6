"""What importing the Microsoft code (defender, sandbox) loads in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def django_modules_loaded_by(code: str) -> list[str]:
    """The Django modules loaded once ``code`` (Python source) has run in a new
    interpreter, sorted.

    The project package's own ``__init__`` starts the Celery app (and so Django), so an
    empty ``partner_portal`` package stands in for it: only what ``code`` imports counts.
    """
    program = (
        "import json, sys, types\n"
        "parent = types.ModuleType('partner_portal')\n"
        f"parent.__path__ = [{str(REPO_ROOT / 'partner_portal')!r}]\n"
        "sys.modules['partner_portal'] = parent\n"
        f"{code}"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'django')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO_ROOT)},
        check=True,
    )
    loaded: list[str] = json.loads(result.stdout.strip().splitlines()[-1])
    return loaded
