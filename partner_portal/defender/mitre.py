"""MITRE ATT&CK technique names for the IDs Defender puts on alerts.

Defender's alerts name techniques by ID only (`T1059.001`); analysts read names. The table
(`mitre_techniques.tsv`, ATT&CK Enterprise 18.1) is read once. A sub-technique reads as
"parent: sub-technique" ("Command and Scripting Interpreter: PowerShell"); an ID the table
does not know (a newer ATT&CK release, a typo in a custom detection) has no name, and the
caller shows the ID alone. Links point to MITRE's page for the technique.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

_TABLE = Path(__file__).with_name("mitre_techniques.tsv")
_ID = re.compile(r"^T\d{4}(?:\.\d{3})?$")


@cache
def _names() -> dict[str, str]:
    names: dict[str, str] = {}
    for line in _TABLE.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#"):
            technique, _, name = line.partition("\t")
            names[technique] = name
    return names


def technique_name(technique: str) -> str | None:
    """The technique's name, with its parent's for a sub-technique; None when unknown."""
    key = technique.strip().upper()
    if not _ID.match(key):
        return None
    names = _names()
    name = names.get(key)
    if name is None:
        return None
    parent, dot, _ = key.partition(".")
    if dot and parent in names:
        return f"{names[parent]}: {name}"
    return name


def technique_label(technique: str) -> str:
    """ "T1059.001 Command and Scripting Interpreter: PowerShell", or the ID alone."""
    name = technique_name(technique)
    return f"{technique} {name}" if name else technique


def technique_url(technique: str) -> str | None:
    """MITRE's page for a known technique (sub-techniques live under their parent's path)."""
    key = technique.strip().upper()
    if technique_name(key) is None:
        return None
    return "https://attack.mitre.org/techniques/" + key.replace(".", "/") + "/"
