"""Group membership: Microsoft Graph's answer, and the control API's way to change it.

Graph (behind the Graph gate, ``graph_gate.py``, with an app token of the tenant holding
``GroupMember.Read.All`` or ``Directory.Read.All``):

- ``POST /v1.0/users/{id|upn}/checkMemberGroups`` ``{"groupIds": [...]}`` (at most 20)
  answers ``{"value": [...]}``, the asked groups the user is a member of;
- ``POST /v1.0/users/{id|upn}/getMemberGroups`` ``{"securityEnabledOnly": bool}``
  answers every group of the user.

An unknown user is 404 ``Request_ResourceNotFound``; a body Graph would refuse is 400
``Request_BadRequest``. Only the partner's own tenant has groups (``partner_directory.py``).

Control API (loopback only), for tests and the demo:

- ``GET /_sandbox/partner``: the partner's tenant, its groups and staff;
- ``PUT`` / ``DELETE /_sandbox/tenants/{tid}/groups/{group}/members/{user}``: add a
  user to a group or take them out (group by object ID or display name, user by object
  ID or user principal name).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from .api import ApiError
from .catalog import DIRECTORY_ROLES
from .control import ControlError
from .directory import Group, Tenant, User
from .graph_gate import graph_family
from .web import Request, Response, json_response

if TYPE_CHECKING:
    from .app import SandboxApp

GRAPH_DIRECTORY = graph_family("graph_directory", per_minute=600)
MAX_CHECKED_GROUPS = 20
_USER = r"users/(?P<user_id>[^/]+)"
_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)"


def register(app: SandboxApp) -> None:
    api = DirectoryApi(app)
    for name, handler in (
        ("checkMemberGroups", api.check_member_groups),
        ("getMemberGroups", api.get_member_groups),
    ):
        for prefix in ("", r"microsoft\.graph\."):
            app.graph.route(
                "POST", rf"{_USER}/{prefix}{name}", GRAPH_DIRECTORY, set(DIRECTORY_ROLES), handler
            )
    app.control.route("GET", r"/_sandbox/partner", api.partner)
    members = r"/_sandbox/tenants/(?P<tid>[^/]+)/groups/(?P<group>[^/]+)/members/(?P<user>[^/]+)"
    app.control.route("PUT", members, api.add_member)
    app.control.route("DELETE", members, api.remove_member)
    assignment = (
        r"/_sandbox/tenants/(?P<tid>[^/]+)/users/(?P<user>[^/]+)/app-roles/(?P<value>[^/]+)"
    )
    app.control.route("PUT", assignment, api.assign_app_role)
    app.control.route("DELETE", assignment, api.unassign_app_role)


def _not_found(user_id: str) -> ApiError:
    return ApiError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{user_id}' does not exist or one of its queried reference-property "
        "objects are not present.",
    )


class DirectoryApi:
    def __init__(self, app: SandboxApp) -> None:
        self.app = app
        self.sandbox = app.sandbox

    @staticmethod
    def _user(tenant: Tenant, user_id: str) -> User:
        user = tenant.user(user_id)
        if user is None:
            raise _not_found(user_id)
        return user

    # ---- Graph --------------------------------------------------------------------

    def check_member_groups(self, request: Request, tenant: Tenant, user_id: str) -> Response:
        body = _body(request)
        ids = body.get("groupIds")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise ApiError(400, "Request_BadRequest", "groupIds must be a list of group IDs.")
        if len(ids) > MAX_CHECKED_GROUPS:
            raise ApiError(
                400,
                "Request_BadRequest",
                f"Too many groups: at most {MAX_CHECKED_GROUPS} can be checked at once.",
            )
        with self.sandbox.lock:
            held = set(tenant.groups_of(self._user(tenant, user_id)))
        asked = [i for i in ids if i.lower() in held]
        return json_response(200, {"@odata.context": _CONTEXT, "value": asked})

    def get_member_groups(self, request: Request, tenant: Tenant, user_id: str) -> Response:
        body = _body(request)
        if not isinstance(body.get("securityEnabledOnly"), bool):
            raise ApiError(
                400,
                "Request_BadRequest",
                "The request body must contain the parameter 'securityEnabledOnly'.",
            )
        with self.sandbox.lock:
            held = tenant.groups_of(self._user(tenant, user_id))
        return json_response(200, {"@odata.context": _CONTEXT, "value": held})

    # ---- control ------------------------------------------------------------------

    def partner(self, request: Request, payload: dict[str, Any]) -> Response:
        from .partner_directory import partner_public

        if self.sandbox.partner is None:
            raise ControlError(404, "this sandbox has no partner tenant")
        return json_response(200, partner_public(self.sandbox.partner))

    def _target(
        self, request: Request, tid: str, group: str, user: str
    ) -> tuple[Tenant, Group, User]:
        tenant = self.app.control.tenant(request, tid)
        group, user = unquote(group), unquote(user)
        found = next(
            (g for g in tenant.groups if group.lower() in {g.object_id, g.display_name.lower()}),
            None,
        )
        if found is None:
            raise ControlError(404, f"no group {group} in {tenant.name}")
        return tenant, found, _person(tenant, user)

    def _member(self, request: Request, tid: str, group: str, user: str, member: bool) -> Response:
        tenant, found, person = self._target(request, tid, group, user)
        self.sandbox.set_membership(tenant, found.object_id, person, member)
        return json_response(200, found.as_json())

    def add_member(
        self, request: Request, payload: dict[str, Any], tid: str, group: str, user: str
    ) -> Response:
        return self._member(request, tid, group, user, True)

    def remove_member(
        self, request: Request, payload: dict[str, Any], tid: str, group: str, user: str
    ) -> Response:
        return self._member(request, tid, group, user, False)

    def _app_role(
        self, request: Request, tid: str, user: str, value: str, assigned: bool
    ) -> Response:
        from .partner_directory import app_role_value

        tenant = self.app.control.tenant(request, tid)
        if tenant is not self.sandbox.partner:
            raise ControlError(404, f"{tenant.name} is not the partner's own tenant")
        person = _person(tenant, unquote(user))
        known = app_role_value(unquote(value))
        if known is None:
            raise ControlError(404, f"the partner app defines no app role {unquote(value)}")
        self.sandbox.set_app_role(person, known, assigned)
        return json_response(200, person.as_json())

    def assign_app_role(
        self, request: Request, payload: dict[str, Any], tid: str, user: str, value: str
    ) -> Response:
        return self._app_role(request, tid, user, value, True)

    def unassign_app_role(
        self, request: Request, payload: dict[str, Any], tid: str, user: str, value: str
    ) -> Response:
        return self._app_role(request, tid, user, value, False)


def _person(tenant: Tenant, user: str) -> User:
    """The tenant's user by ID or UPN, or the control API's 404 in words."""
    person = tenant.user(user)
    if person is None:
        raise ControlError(404, f"no user {user} in {tenant.name}")
    return person


def _body(request: Request) -> dict[str, Any]:
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise ApiError(400, "Request_BadRequest", "The request body must be a JSON object.")
    return body
