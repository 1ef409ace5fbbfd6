"""An alert's evidence as an analyst reads it: one view per item, its fields named and
ordered for the kind of thing it is (a device, a file, a process, an e-mail...).

Defender sends evidence in two shapes. Microsoft Graph (`alerts_v2`) types each item by
`@odata.type` (`#microsoft.graph.security.fileEvidence`) and nests details (a file's
hashes under `fileDetails`, a process's user under `userAccount`); the Defender for
Endpoint API sends flat entities told apart by `entityType` ("Process", "File"...). Both
are described here by a table per kind: which JSON field is shown under which label, and
how (text, an identifier to copy, a command line, a time, a word from a vocabulary).

Every value shown is the value Defender sent, as text, never reformatted: a command line,
a hash or a registry value is the analyst's evidence and must survive character for
character. Only vocabulary words (verdicts, statuses, delivery actions) are shown in
words, through the `word` filter (templatetags/vocabularies.py); a time keeps Microsoft's
text in its `datetime` attribute. A kind the tables do not know, or an item the protocol
core cannot read, is shown with every field it has — never dropped — and every item keeps
its JSON, whole, for the page's "raw" disclosure.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from partner_portal.alerts.reads.evidence_kinds import (
    ACCOUNT,
    ACCOUNT_SPECS,
    BASE_FIELDS,
    COMMAND,
    COPY,
    GRAPH_KINDS,
    GRAPH_PARENT_PROCESS,
    LIST,
    MDE_ACCOUNT,
    MDE_KINDS,
    MDE_PARENT_PROCESS,
    TEXT,
    TIME,
    Spec,
)
from partner_portal.defender import MalformedResponse, parse_timestamp
from partner_portal.defender.graph_evidence import parse_graph_evidence


@dataclass(frozen=True)
class EvidenceField:
    label: str
    #: Text exactly as sent (a number as its JSON digits).
    value: str = ""
    style: str = TEXT
    vocabulary: str = ""
    #: A list's entries, each in parts: ("text",), or an account's ("DOMAIN", "name"),
    #: shown DOMAIN\name with each part as sent.
    values: tuple[tuple[str, ...], ...] = ()
    #: A time's reading, for its display; the `datetime` attribute keeps `value`.
    when: datetime | None = None
    #: Unique on the page, for copy buttons (set by `number_fields`).
    dom_id: str = ""


@dataclass
class EvidenceView:
    kind: str  # "device", "file", ... or "other"
    label: str  # "Device"
    title: str  # what the analyst knows it by: a device name, a file name, an address
    fields: list[EvidenceField]
    #: Named groups under the item ("Parent process", "Image file hashes").
    groups: list[tuple[str, list[EvidenceField]]] = field(default_factory=list)
    verdict: str = ""
    remediation_status: str = ""
    remediation_details: str = ""
    roles: list[str] = field(default_factory=list)
    detailed_roles: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    created: EvidenceField | None = None
    #: Why the item is shown field by field ("a kind the portal does not know").
    note: str = ""
    raw_json: str = ""
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)


def _at(item: Mapping[str, Any], path: str) -> Any:
    value: Any = item
    for step in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def as_text(value: Any) -> str:
    """A JSON value as it was sent: text unchanged, numbers as their JSON digits."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _when(text: str) -> datetime | None:
    try:
        return parse_timestamp(text)
    except MalformedResponse:
        return None


def _field(item: Mapping[str, Any], spec: Spec) -> EvidenceField | None:
    label, path, style, *rest = spec
    value = _at(item, path)
    if value is None or value in ("", [], {}):
        return None
    if style == LIST:
        values = value if isinstance(value, list) else [value]
        return EvidenceField(label, style=LIST, values=tuple(_list_entry(v) for v in values))
    text = as_text(value)
    if style == TIME:
        return EvidenceField(label, text, TIME, when=_when(text))
    return EvidenceField(label, text, style, vocabulary=rest[0] if rest else "")


def _list_entry(value: Any) -> tuple[str, ...]:
    # A logged-on user is {"accountName", "domainName"}: read as DOMAIN\name.
    if isinstance(value, Mapping) and "accountName" in value:
        return account_parts(value) or (as_text(value),)
    return (as_text(value),)


def account_parts(account: Mapping[str, Any] | None) -> tuple[str, ...]:
    """(domain, name) of an account, or (name,); () if it has no name."""
    name = as_text((account or {}).get("accountName"))
    domain = as_text((account or {}).get("domainName"))
    return (domain, name) if domain and name else (name,) if name else ()


def _account_field(account: Mapping[str, Any] | None) -> list[EvidenceField]:
    parts = account_parts(account)
    return [EvidenceField("Account", "\\".join(parts), ACCOUNT, values=(parts,))] if parts else []


def account_name(account: Mapping[str, Any] | None) -> str:
    """DOMAIN\\name of a Graph user account or an MDE entity, or just the name."""
    if not account:
        return ""
    name = as_text(account.get("accountName"))
    domain = as_text(account.get("domainName"))
    return f"{domain}\\{name}" if domain and name else name


def _fields(item: Mapping[str, Any], specs: Iterable[Spec]) -> list[EvidenceField]:
    return [f for f in (_field(item, spec) for spec in specs) if f is not None]


def _first(item: Mapping[str, Any], *paths: str) -> str:
    for path in paths:
        text = as_text(_at(item, path))
        if text:
            return text
    return ""


# ----------------------------------------------------------------- Microsoft Graph


def _account_fields(account: Any) -> list[EvidenceField]:
    if not isinstance(account, Mapping):
        return []
    return _account_field(account) + _fields(account, ACCOUNT_SPECS)


def _graph_kind(item: Mapping[str, Any]) -> str:
    odata_type = item.get("@odata.type")
    return odata_type.rpartition(".")[2].lower() if isinstance(odata_type, str) else ""


def _graph_groups(kind: str, item: Mapping[str, Any]) -> list[tuple[str, list[EvidenceField]]]:
    groups: list[tuple[str, list[EvidenceField]]] = []
    if kind == "processevidence":
        parent = _fields(item, GRAPH_PARENT_PROCESS)
        groups.append(("Parent process", parent))
    if kind in {"processevidence", "userevidence", "mailboxevidence"}:
        heading = "User" if kind == "processevidence" else "Account"
        groups.append((heading, _account_fields(item.get("userAccount"))))
    return [(heading, fields) for heading, fields in groups if fields]


def _list(value: Any) -> list[str]:
    return [as_text(v) for v in value] if isinstance(value, list) else []


def graph_view(item: Mapping[str, Any]) -> EvidenceView:
    """One Graph evidence item as the page shows it."""
    kind = _graph_kind(item)
    note = ""
    try:
        parse_graph_evidence(dict(item))
    except MalformedResponse:
        note = "Defender sent this item in a shape the portal does not read; shown as sent."
        kind = ""
    known = GRAPH_KINDS.get(kind)
    if known is None:
        sent = as_text(item.get("@odata.type")).rpartition(".")[2]
        view = _other(item, label=sent or "Evidence", skip=BASE_FIELDS)
        view.note = note or f"Evidence of a kind the portal does not lay out ({sent or '?'})."
    else:
        view_kind, label, title_paths, specs = known
        fields = _fields(item, specs)
        if kind == "userevidence":
            fields = _account_fields(item.get("userAccount"))
        view = EvidenceView(
            kind=view_kind,
            label=label,
            title=_first(item, *title_paths) or label,
            fields=fields,
            groups=_graph_groups(kind, item),
        )
        if kind == "userevidence":
            view.title = _first(item, "userAccount.userPrincipalName") or account_name(
                item.get("userAccount")
            )
    view.verdict = as_text(item.get("verdict"))
    view.remediation_status = as_text(item.get("remediationStatus"))
    view.remediation_details = as_text(item.get("remediationStatusDetails"))
    view.roles = _list(item.get("roles"))
    view.detailed_roles = _list(item.get("detailedRoles"))
    view.tags = _list(item.get("tags"))
    view.created = _field(item, ("Added", "createdDateTime", TIME))
    return view


def _other(item: Mapping[str, Any], *, label: str, skip: Iterable[str] = ()) -> EvidenceView:
    """A kind without a table: every field it has, as sent, in the order sent."""
    skipped = set(skip)
    fields = [
        EvidenceField(key, as_text(value), COMMAND if isinstance(value, dict | list) else TEXT)
        for key, value in item.items()
        if key not in skipped and value not in (None, "", [], {})
    ]
    return EvidenceView(kind="other", label=label, title=label, fields=fields)


# ------------------------------------------------------------ Defender for Endpoint


def mde_view(item: Mapping[str, Any]) -> EvidenceView:
    """One Defender for Endpoint evidence entity as the page shows it."""
    entity = as_text(item.get("entityType"))
    known = MDE_KINDS.get(entity.lower())
    if known is None:
        view = _other(item, label=entity or "Evidence", skip=("entityType",))
        view.note = f"Evidence of a kind the portal does not lay out ({entity or '?'})."
        return view
    view_kind, label, title_paths, specs = known
    fields = _fields(item, specs)
    groups: list[tuple[str, list[EvidenceField]]] = []
    if view_kind == "user":
        fields[:0] = _account_field(item)
    if view_kind == "process":
        parent = _fields(item, MDE_PARENT_PROCESS)
        user = _account_field(item) + _fields(item, MDE_ACCOUNT)
        groups = [(h, f) for h, f in (("Parent process", parent), ("User", user)) if f]
    view = EvidenceView(
        kind=view_kind,
        label=label,
        title=_first(item, *title_paths) or label,
        fields=fields,
        groups=groups,
    )
    view.created = _field(item, ("Added", "evidenceCreationTime", TIME))
    return view


# ---------------------------------------------------------------------- the whole


def evidence_views(raw: Mapping[str, Any] | None, *, with_json: bool = True) -> list[EvidenceView]:
    """Every evidence item of an alert's stored JSON, in Defender's order, as views
    (`with_json=False` leaves out the pretty-printed JSON a summary does not show)."""
    items = (raw or {}).get("evidence") if isinstance(raw, Mapping) else None
    views: list[EvidenceView] = []
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping):
            view = EvidenceView(kind="other", label="Evidence", title="Evidence", fields=[])
            view.note = "Defender sent this item in a shape the portal does not read."
        elif "@odata.type" in item or "entityType" not in item:
            view = graph_view(item)
        else:
            view = mde_view(item)
        view.raw = item if isinstance(item, Mapping) else {}
        if with_json:
            view.raw_json = json.dumps(item, ensure_ascii=False, indent=2)
        views.append(view)
    number_fields(views)
    return views


def number_fields(views: list[EvidenceView], prefix: str = "ev") -> None:
    """Give every copyable value an ID unique on the page (copy buttons point at it)."""
    for index, view in enumerate(views):
        serial = 0
        for fields in [view.fields, *(group for _, group in view.groups)]:
            for position, item in enumerate(fields):
                if item.style in (COPY, COMMAND, ACCOUNT):
                    serial += 1
                    fields[position] = replace(item, dom_id=f"{prefix}{index}-{serial}")
