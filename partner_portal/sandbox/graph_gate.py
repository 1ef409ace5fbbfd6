"""The gate of Microsoft Graph's security API, mounted at ``/v1.0/``.

It is the Defender gate (``api.py``: route, token, count, faults, limits, handler, late
faults) with Graph's ways: the routes are matched against the path after
``/v1.0/security/`` (``alerts_v2/ID``, ``incidents``, ``runHuntingQuery``), tokens must
carry the audience ``https://graph.microsoft.com`` (or the Graph app ID), and errors have
Graph's shape ``{"error": {"code", "message", "innerError": {"date", "request-id",
"client-request-id"}}}``. The API modules (``graph_alerts_api.py``,
``graph_incidents_api.py``, ``hunting_api.py``) register their routes with
:meth:`GraphApi.route` through ``app.graph``. A successful answer to a request with
``Prefer: include-unknown-enum-members`` says ``Preference-Applied`` (``graph_enums.py``).
"""

from __future__ import annotations

import datetime as dt
import uuid

from .api import ApiFamily, DefenderApi
from .graph_enums import PREFERENCE, wants_newer
from .identity import GRAPH_APP_ID, GRAPH_AUDIENCE
from .web import Request, Response, json_response

GRAPH_AUDIENCES = frozenset({GRAPH_AUDIENCE, GRAPH_APP_ID, f"{GRAPH_AUDIENCE}/"})
# Microsoft documents 150 requests per minute per app and tenant for security alerts.
GRAPH_LIMIT = (60, 150, "Minute")


def graph_family(name: str, per_minute: int = 150) -> ApiFamily:
    """An API behind the Graph gate: its limit and counts are kept under ``name``."""
    return ApiFamily(name, GRAPH_AUDIENCES, "BadRequest", limits=((60, per_minute, "Minute"),))


def graph_error(
    status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
) -> Response:
    """Graph's error body."""
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    request_id = str(uuid.uuid4())
    body = {
        "error": {
            "code": code,
            "message": message,
            "innerError": {
                "date": now,
                "request-id": request_id,
                "client-request-id": request_id,
            },
        }
    }
    return json_response(status, body, [("request-id", request_id), *(headers or [])])


class GraphApi(DefenderApi):
    """Serves ``/v1.0/security/...`` for every tenant; the token says which tenant."""

    PREFIX = r"/v1\.0/"

    @staticmethod
    def resource_path(path: str) -> str:
        """``/v1.0/security/alerts_v2/ID`` → ``alerts_v2/ID``; ``/v1.0/users/ID/…`` stays
        ``users/ID/…`` (``directory_api.py``); other paths match nothing."""
        parts = [p for p in path.split("/") if p]
        if len(parts) >= 3 and parts[0] == "v1.0" and parts[1].lower() == "users":
            return "/".join(["users", *parts[2:]])
        if len(parts) < 3 or parts[0] != "v1.0" or parts[1].lower() != "security":
            return ""
        return "/".join(parts[2:])

    def handle(self, request: Request) -> Response:
        """The Defender gate's answer, saying when newer enum members were shown."""
        response = super().handle(request)
        if 200 <= response.status < 300 and wants_newer(request):
            response.headers.append(("Preference-Applied", PREFERENCE))
        return response

    def error(
        self, status: int, code: str, message: str, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        if code == "Unauthorized":
            code = "InvalidAuthenticationToken"
        return graph_error(status, code, message, headers)
