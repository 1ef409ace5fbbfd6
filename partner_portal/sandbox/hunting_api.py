"""Graph's advanced hunting: ``POST /v1.0/security/runHuntingQuery`` with
``{"Query", "Timespan"}`` (also msgraph-sdk's
``/v1.0/security/microsoft.graph.security.runHuntingQuery`` with ``query``/``timespan``).

A small KQL subset over the tenant's alerts and devices: the tables ``AlertInfo``,
``AlertEvidence`` and ``DeviceInfo``, then any of ``| where COL OP VALUE`` (``==``,
``!=``, ``contains``, ``>``, ``<``, ``>=``, ``<=``; numbers, ``"strings"``,
``datetime(...)``, ``ago(7d)``), ``| project a, b``, ``| take N`` (``limit N``) and
``| summarize count() by col``. Anything else is 400 ``BadRequest`` saying what was not
understood. ``Timespan`` is an ISO 8601 duration back from now (``P30D``, ``PT12H``) or
``start/end``. Role ``ThreatHunting.Read.All``; 45 calls a minute per app and tenant.
The answer: ``{"schema": [{"name", "type"}], "results": [...]}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .api import ApiError
from .directory import Tenant
from .graph_data import GraphData
from .graph_gate import graph_family
from .graph_views import alert_views, upper_first
from .model import TICKS_PER_SECOND, format_ticks, now_ticks, parse_datetime
from .web import Request, Response, json_response

if TYPE_CHECKING:
    from .app import SandboxApp

GRAPH_HUNTING = graph_family("graph_hunting", per_minute=45)
ROLES = {"ThreatHunting.Read.All"}
MAX_ROWS = 100_000
PRODUCT_NAMES = {
    "microsoftDefenderForEndpoint": "Microsoft Defender for Endpoint",
    "microsoftDefenderForOffice365": "Microsoft Defender for Office 365",
    "microsoftDefenderForIdentity": "Microsoft Defender for Identity",
    "microsoftDefenderForCloudApps": "Microsoft Defender for Cloud Apps",
    "azureAdIdentityProtection": "Microsoft Entra ID Protection",
    "dataLossPrevention": "Microsoft Data Loss Prevention",
    "microsoftDefenderForCloud": "Microsoft Defender for Cloud",
}
TABLES: dict[str, list[tuple[str, str]]] = {
    "AlertInfo": [
        ("Timestamp", "DateTime"), ("AlertId", "String"), ("Title", "String"),
        ("Category", "String"), ("Severity", "String"), ("ServiceSource", "String"),
        ("DetectionSource", "String"), ("AttackTechniques", "String"),
    ],
    "AlertEvidence": [
        ("Timestamp", "DateTime"), ("AlertId", "String"), ("Title", "String"),
        ("Category", "String"), ("ServiceSource", "String"), ("EntityType", "String"),
        ("EvidenceRole", "String"), ("DeviceId", "String"), ("DeviceName", "String"),
        ("AccountName", "String"), ("AccountUpn", "String"), ("FileName", "String"),
        ("SHA1", "String"), ("RemoteIP", "String"), ("RemoteUrl", "String"),
    ],
    "DeviceInfo": [
        ("Timestamp", "DateTime"), ("DeviceId", "String"), ("DeviceName", "String"),
        ("OSPlatform", "String"), ("OSBuild", "Int64"), ("MachineGroup", "String"),
        ("AadDeviceId", "String"),
    ],
}  # fmt: skip
_UNITS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_WHERE = re.compile(r"^where\s+(\w+)\s*(==|!=|>=|<=|>|<|contains\b)\s*(.+)$", re.IGNORECASE)


def register(app: SandboxApp) -> None:
    api = HuntingApi(app.graph_data)
    for path in (r"runHuntingQuery", r"microsoft\.graph\.security\.runHuntingQuery"):
        app.graph.route("POST", path, GRAPH_HUNTING, ROLES, api.run)


class HuntingError(ApiError):
    def __init__(self, message: str) -> None:
        super().__init__(400, "BadRequest", message)


def _duration(text: str) -> int:
    """``P30D``, ``PT12H``, ``P1DT2H30M`` → ticks."""
    match = re.fullmatch(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?", text.strip())
    if not match or not any(match.groups()):
        raise HuntingError(f"Timespan '{text}' is not an ISO 8601 duration or 'start/end'.")
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    return (days * 86400 + hours * 3600 + minutes * 60 + seconds) * TICKS_PER_SECOND


def time_range(timespan: Any) -> tuple[int, int]:
    now = now_ticks()
    if timespan in (None, ""):
        return now - 30 * 86400 * TICKS_PER_SECOND, now
    if not isinstance(timespan, str):
        raise HuntingError("Timespan must be a string.")
    if "/" in timespan:
        start, _, end = timespan.partition("/")
        try:
            return parse_datetime(start), parse_datetime(end)
        except ValueError:
            raise HuntingError(f"Timespan '{timespan}' has an invalid date-time.") from None
    return now - _duration(timespan), now


def _literal(text: str) -> Any:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        return text[1:-1]
    match = re.fullmatch(r"datetime\((.+)\)", text)
    if match:
        try:
            return parse_datetime(match.group(1).strip("\"' "))
        except ValueError:
            raise HuntingError(f"Invalid datetime literal '{text}'.") from None
    match = re.fullmatch(r"ago\((\d+)([dhms])\)", text)
    if match:
        return now_ticks() - int(match.group(1)) * _UNITS[match.group(2)] * TICKS_PER_SECOND
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return float(text) if "." in text else int(text)
    raise HuntingError(f"Cannot understand the value '{text}' (quote strings with \").")


def _split_pipes(query: str) -> list[str]:
    parts, current, quote = [], "", ""
    for char in query:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char == "|":
            parts.append(current.strip())
            current = ""
            continue
        current += char
    parts.append(current.strip())
    return parts


class HuntingApi:
    def __init__(self, data: GraphData) -> None:
        self.data = data

    def run(self, request: Request, tenant: Tenant) -> Response:
        try:
            body = request.json()
        except ValueError:
            raise HuntingError("The request body is not valid JSON.") from None
        if not isinstance(body, dict):
            raise HuntingError("The request body must be a JSON object.")
        query = body.get("Query", body.get("query"))
        if not isinstance(query, str) or not query.strip():
            raise HuntingError("The body must carry a 'Query'.")
        start, end = time_range(body.get("Timespan", body.get("timespan")))
        schema, rows = self.execute(tenant, query, start, end)
        return json_response(200, {"schema": schema, "results": rows})

    def execute(
        self, tenant: Tenant, query: str, start: int, end: int
    ) -> tuple[list[dict[str, str]], list[dict[str, Any]]]:
        stages = _split_pipes(query)
        table = stages[0]
        if table not in TABLES:
            raise HuntingError(
                f"Failed to resolve table '{table}'. The sandbox knows {', '.join(TABLES)}."
            )
        columns = list(TABLES[table])
        rows = [r for r in self._rows(tenant, table) if start <= r["Timestamp"] <= end]
        for stage in stages[1:]:
            word = stage.split(None, 1)[0].lower() if stage else ""
            if word == "where":
                rows = [r for r in rows if self._condition(stage, columns)(r)]
            elif word == "project":
                names = [n.strip() for n in stage[len("project") :].split(",")]
                known = {c[0]: c for c in columns}
                missing = [n for n in names if n not in known]
                if missing or not names:
                    raise HuntingError(f"project: unknown column(s) {', '.join(missing)}.")
                columns = [known[n] for n in names]
                rows = [{n: r[n] for n in names} for r in rows]
            elif word in {"take", "limit"}:
                count = stage.split(None, 1)[1].strip() if " " in stage else ""
                if not count.isdigit():
                    raise HuntingError(f"{word} needs a row count: '{stage}'.")
                rows = rows[: int(count)]
            elif word == "summarize":
                match = re.fullmatch(r"summarize\s+count\(\)\s+by\s+(\w+)", stage)
                if not match or match.group(1) not in {c[0] for c in columns}:
                    raise HuntingError(
                        f"Only 'summarize count() by <column>' is supported: '{stage}'."
                    )
                key = match.group(1)
                kind = next(c[1] for c in columns if c[0] == key)
                counts: dict[Any, int] = {}
                for row in rows:
                    counts[row[key]] = counts.get(row[key], 0) + 1
                columns = [(key, kind), ("count_", "Int64")]
                rows = [{key: k, "count_": v} for k, v in counts.items()]
            else:
                raise HuntingError(
                    f"The operator '{word or stage}' is not supported by the sandbox (where, "
                    "project, take, limit, summarize count() by)."
                )
        kinds = dict(columns)
        results = [
            {k: format_ticks(v) if kinds.get(k) == "DateTime" else v for k, v in r.items()}
            for r in rows[:MAX_ROWS]
        ]
        return [{"name": n, "type": t} for n, t in columns], results

    @staticmethod
    def _condition(stage: str, columns: list[tuple[str, str]]) -> Callable[[dict], bool]:
        match = _WHERE.match(stage.strip())
        if not match:
            raise HuntingError(f"Cannot parse '{stage}': use 'where <column> <op> <value>'.")
        name, op, raw = match.group(1), match.group(2).lower(), match.group(3)
        kinds = dict(columns)
        if name not in kinds:
            raise HuntingError(f"where: unknown column '{name}'.")
        value = _literal(raw)
        kind = kinds[name]
        if op in {">", "<", ">=", "<="} and kind == "String":
            raise HuntingError(f"Operator '{op}' needs a number or a time; '{name}' is a string.")
        if op == "contains":
            text = str(value).lower()
            return lambda r: text in str(r[name] or "").lower()
        compare: dict[str, Callable[[Any, Any], bool]] = {
            "==": lambda a, b: a == b,
            "!=": lambda a, b: a != b,
            ">": lambda a, b: a is not None and a > b,
            "<": lambda a, b: a is not None and a < b,
            ">=": lambda a, b: a is not None and a >= b,
            "<=": lambda a, b: a is not None and a <= b,
        }
        if kind != "String" and isinstance(value, str):
            raise HuntingError(f"'{name}' is {kind}; compare it with a number or datetime().")
        return lambda r: compare[op](r[name], value)

    def _rows(self, tenant: Tenant, table: str) -> list[dict[str, Any]]:
        if table == "DeviceInfo":
            with tenant.data.lock:
                return [
                    {
                        "Timestamp": max(d.first_seen, tenant.anchor - 3600 * TICKS_PER_SECOND),
                        "DeviceId": d.machine_id,
                        "DeviceName": d.dns_name,
                        "OSPlatform": d.os_platform,
                        "OSBuild": d.os_build,
                        "MachineGroup": d.rbac_group,
                        "AadDeviceId": d.aad_device_id,
                    }
                    for d in tenant.data.devices
                ]
        rows = []
        for view in alert_views(tenant, self.data.of(tenant)):
            a = view.record
            base = {
                "Timestamp": view.created,
                "AlertId": a["id"],
                "Title": a["title"],
                "Category": a["category"],
                "ServiceSource": PRODUCT_NAMES.get(a["serviceSource"], a["serviceSource"]),
            }
            if table == "AlertInfo":
                rows.append(
                    {
                        **base,
                        "Severity": a["severity"].capitalize(),
                        "DetectionSource": a["detectionSource"],
                        "AttackTechniques": ", ".join(a["mitreTechniques"]),
                    }
                )
                continue
            for e in a["evidence"]:
                account = e.get("userAccount") or {}
                details = e.get("fileDetails") or e.get("imageFile") or {}
                rows.append(
                    {
                        **base,
                        "EntityType": upper_first(
                            e["@odata.type"].rsplit(".", 1)[1].removesuffix("Evidence")
                        ),
                        "EvidenceRole": "Impacted" if e.get("roles") else "Related",
                        "DeviceId": e.get("mdeDeviceId"),
                        "DeviceName": e.get("deviceDnsName"),
                        "AccountName": account.get("accountName"),
                        "AccountUpn": account.get("userPrincipalName"),
                        "FileName": details.get("fileName"),
                        "SHA1": details.get("sha1"),
                        "RemoteIP": e.get("ipAddress"),
                        "RemoteUrl": e.get("url"),
                    }
                )
        return rows
