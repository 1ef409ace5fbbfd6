"""The directory the sandbox plays: the partner app's registration details, the
customer tenants, each with its users, its consent and its Defender data, and the
partner's own tenant with its staff and their security groups (``partner_tenant.py``).

These are plain records. Every change to them goes through :class:`state.Sandbox`, which
owns the locks and saves what changed (``persistence.py``).
"""

from __future__ import annotations

import random
import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from .catalog import (
    APP_PERMISSIONS,
    DIRECTORY_ROLES,
    GRAPH_ROLES,
    MDE_ROLES,
    XDR_ROLES,
    roles_in_scope,
)
from .model import TenantData

APP_DISPLAY_NAME = "Partner Portal"
KNOWN_ROLES = frozenset(MDE_ROLES + XDR_ROLES + GRAPH_ROLES + DIRECTORY_ROLES)


def new_client_secret() -> str:
    """A secret shaped like Entra ID's: 40 characters with "Q~" after the first four."""
    alphabet = string.ascii_letters + string.digits + "._-~"
    head = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(3))
    return (
        head
        + secrets.choice(string.digits)
        + "Q~"
        + "".join(secrets.choice(alphabet) for _ in range(34))
    )


@dataclass
class User:
    """A person who can sign in at the sandbox's consent pages."""

    upn: str
    display_name: str
    admin: bool
    object_id: str
    #: Has a second factor: can pass the sign-in's second step, which an authentication
    #: context asks for (``auth_context.py``).
    mfa: bool = False
    #: The partner app's app roles assigned to this person (their values), in the
    #: partner's own tenant: its sign-ins carry them in the ``roles`` claim.
    app_roles: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "upn": self.upn,
            "display_name": self.display_name,
            "admin": self.admin,
            "object_id": self.object_id,
            "mfa": self.mfa,
            "app_roles": list(self.app_roles),
        }


@dataclass
class Group:
    """A security group of a tenant and its members' object IDs."""

    object_id: str
    display_name: str
    members: list[str] = field(default_factory=list)
    #: What the portal's demo maps this group to: roles and teams, "|" between.
    portal_role: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "object_id": self.object_id,
            "display_name": self.display_name,
            "members": list(self.members),
            "portal_role": self.portal_role,
        }


@dataclass
class Tenant:
    """A customer's Entra ID tenant and its Defender data."""

    tenant_id: str
    name: str
    domain: str
    index: int
    alert_count: int
    users: list[User]
    anchor: int = 0  # the base alerts cover the 30 days before this time
    consented: bool = False
    roles: list[str] = field(default_factory=list)
    consent_roles: list[str] = field(default_factory=lambda: list(APP_PERMISSIONS))
    # Which APIs the app asks this tenant to consent to: "both", "defender" or "graph".
    consent_scope: str = "both"
    # When consent was last removed (epoch seconds); tokens issued before it are refused.
    revoked_at: float = 0.0
    data: TenantData = field(default_factory=lambda: TenantData(devices=[], accounts=[]))
    next_incident: int = 1
    changed: set[str] = field(default_factory=set)
    added: list[str] = field(default_factory=list)
    rng: random.Random = field(default_factory=random.Random)
    #: Security groups; only the partner's own tenant has any. Its sign-ins then carry
    #: the ``groups`` claim (the app's ``groupMembershipClaims`` is ``SecurityGroup``).
    groups: list[Group] = field(default_factory=list)

    def groups_of(self, user: User) -> list[str]:
        """Object IDs of the groups ``user`` is a member of."""
        return [g.object_id for g in self.groups if user.object_id in g.members]

    def user(self, key: str) -> User | None:
        """The user with this object ID or user principal name (case-insensitive)."""
        wanted = key.lower()
        return next((u for u in self.users if wanted in {u.object_id.lower(), u.upn.lower()}), None)

    def requested_roles(self) -> list[str]:
        """What an admin's consent grants now: the consent set within the consent scope."""
        return roles_in_scope(self.consent_roles, self.consent_scope)

    @property
    def admin(self) -> User:
        return next(u for u in self.users if u.admin)

    @property
    def plain_user(self) -> User:
        return next(u for u in self.users if not u.admin)

    def public(self) -> dict[str, Any]:
        """The tenant as ``sandbox.json`` describes it."""
        return {
            "tenant_id": self.tenant_id,
            "name": self.name,
            "domain": self.domain,
            "admin_user": self.admin.upn,
            "consented": self.consented,
            "roles": list(self.roles),
        }

    def detail(self) -> dict[str, Any]:
        """The tenant as the control API describes it: more than ``sandbox.json``."""
        with self.data.lock:
            counts = {
                "alert_count": len(self.data.alerts),
                "incident_count": len(self.data.incidents),
            }
        return {
            **self.public(),
            "plain_user": self.plain_user.upn,
            "users": [u.as_json() for u in self.users],
            "consent_roles": list(self.consent_roles),
            "consent_scope": self.consent_scope,
            **counts,
        }
