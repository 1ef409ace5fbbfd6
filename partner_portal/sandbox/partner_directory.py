"""The partner's own tenant: the directory its staff sign in from.

The partner app is registered in this tenant (its home), so the app holds its Graph
directory permission here (``GroupMember.Read.All``, consented once by the partner's
admin) and its sign-ins carry the ``groups`` claim: the object IDs of the security
groups the person is in. The portal maps those groups to its roles. The app also
defines app roles (``APP_ROLES``); those assigned to a person come in the ``roles``
claim, which the portal can map too. Graph's membership check does not cover them, so
the portal trusts them only as long as the ID token that carried them is valid.

The tenant is made once from the seed, like the customer tenants, with a few staff
and three groups: *SOC analysts*, *Portal admins* and *Onboarding*. Some staff have a
second factor (they pass the second step an authentication context asks for,
``auth_context.py``), one is in no group at all; nobody holds an app role.
Membership and app role assignments change through the control API
(``directory_api.py``) and are saved in ``state.json``; the tenant holds no Defender
data and is never a customer.
"""

from __future__ import annotations

import uuid
from typing import Any

from .directory import Group, Tenant, User
from .model import seeded

PARTNER_NAME = "Contoso Security Services"
PARTNER_DOMAIN = "contososecurity.onmicrosoft.com"
# (display name, what the demo maps it to in the portal: roles and teams, "|" between)
GROUPS = (
    ("SOC analysts", "Analysts|SOC analysts"),
    ("Portal admins", "Portal admins"),
    ("Onboarding", "Onboarding staff"),
)
# The partner app's app roles: (value, as the ``roles`` claim carries it; what the demo
# maps it to in the portal).
APP_ROLES = (
    ("Portal.Analyst", "Analysts|SOC analysts"),
    ("Portal.Admin", "Portal admins"),
    ("Portal.Onboarding", "Onboarding staff"),
)
# (first, last, Global administrator, signs in with a second factor, groups)
STAFF = (
    ("Dana", "Reyes", False, True, ("SOC analysts",)),
    ("Lee", "Marsh", False, False, ("SOC analysts",)),
    ("Sam", "Okafor", True, True, ("Portal admins",)),
    ("Ari", "Lindqvist", False, True, ("Onboarding",)),
    ("Robin", "Vale", False, True, ()),
)
# The partner app's permission in its home tenant.
HOME_ROLES = ["GroupMember.Read.All"]


def _uuid(rng: Any) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def new_partner_tenant(seed: int) -> Tenant:
    """The partner's tenant as the seed makes it."""
    rng = seeded(f"{seed}:partner-tenant")
    tenant_id = _uuid(rng)
    groups = {name: Group(_uuid(rng), name, portal_role=role) for name, role in GROUPS}
    users = []
    for first, last, admin, mfa, member_of in STAFF:
        user = User(
            upn=f"{first.lower()}.{last.lower()}@{PARTNER_DOMAIN}",
            display_name=f"{first} {last}",
            admin=admin,
            object_id=_uuid(rng),
            mfa=mfa,
        )
        users.append(user)
        for name in member_of:
            groups[name].members.append(user.object_id)
    return Tenant(
        tenant_id=tenant_id,
        name=PARTNER_NAME,
        domain=PARTNER_DOMAIN,
        index=-1,
        alert_count=0,
        users=users,
        consented=True,
        roles=list(HOME_ROLES),
        consent_roles=list(HOME_ROLES),
        groups=list(groups.values()),
    )


def app_role_value(wanted: str) -> str | None:
    """The app role named ``wanted`` (any case), as the app defines it; None if none."""
    return next((value for value, _ in APP_ROLES if value.lower() == wanted.lower()), None)


def partner_record(tenant: Tenant) -> dict[str, Any]:
    """What ``state.json`` keeps of the partner's tenant."""
    return {
        "tenant_id": tenant.tenant_id,
        "name": tenant.name,
        "domain": tenant.domain,
        "users": [u.as_json() for u in tenant.users],
        "groups": [g.as_json() for g in tenant.groups],
        "roles": list(tenant.roles),
    }


def restore_partner(record: dict[str, Any]) -> Tenant:
    return Tenant(
        tenant_id=record["tenant_id"],
        name=record["name"],
        domain=record["domain"],
        index=-1,
        alert_count=0,
        users=[User(**u) for u in record["users"]],
        consented=True,
        roles=list(record["roles"]),
        consent_roles=list(record["roles"]),
        groups=[Group(**g) for g in record["groups"]],
    )


def partner_public(tenant: Tenant) -> dict[str, Any]:
    """The partner's tenant as ``sandbox.json`` and the control API describe it."""
    names = {g.object_id: g.display_name for g in tenant.groups}
    return {
        "tenant_id": tenant.tenant_id,
        "name": tenant.name,
        "domain": tenant.domain,
        "groups": [g.as_json() for g in tenant.groups],
        "app_roles": [{"value": value, "portal_role": role} for value, role in APP_ROLES],
        "users": [
            {**u.as_json(), "groups": [names[g] for g in tenant.groups_of(u)]} for u in tenant.users
        ],
    }
