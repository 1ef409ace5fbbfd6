"""Files in the data folder are the portal account's alone.

DATA_DIR holds the SQLite database (sessions, password hashes), the secret key, the
token caches and the sandbox's secrets. Settings create the folder 0700; this module
keeps the embedded database file 0600 whoever created it (SQLite gives its -wal and -shm
files the database file's mode), and `run_portal` sets a private umask for its children.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077

_protected: set[str] = set()


def private_umask() -> int:
    """Make files this process (and its children) create readable by its account only;
    the previous umask is returned."""
    return os.umask(PRIVATE_UMASK)


def protect_sqlite_file(sender: Any, connection: Any, **kwargs: Any) -> None:
    """`connection_created` receiver: the SQLite database file becomes mode 0600."""
    if connection.vendor != "sqlite":
        return
    name = str(connection.settings_dict.get("NAME") or "")
    if not name or name in _protected or name.startswith("file:") or ":memory:" in name:
        return
    path = Path(name)
    for candidate in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if candidate.exists() and candidate.stat().st_mode & 0o077:
            candidate.chmod(PRIVATE_FILE)
    _protected.add(name)
