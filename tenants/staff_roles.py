"""From Microsoft Entra groups to portal roles and teams, for staff who sign in with
Microsoft.

STAFF_SIGNIN_GROUPS maps a group's object ID (or an app role's value, as the ``roles``
claim carries it) to what it gives in the portal: a role (*Analysts*, *Onboarding
staff*, *Portal admins*) or a team (any other group name, which Scopes can grant
customers to), several joined by ``|``::

    STAFF_SIGNIN_GROUPS="<SOC group ID>=Analysts|SOC EU, <admins group ID>=Portal admins"

A person gets the union of what their groups give. Roles are replaced at each sign-in
and each membership check; of the teams, only those the mapping names are added or
taken away (a team an admin gave by hand stays). An app role counts only until the ID
token that carried it expires (``staff_membership.py``). Someone whose groups give no
role is refused: a team alone opens nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.core.exceptions import ImproperlyConfigured

from partner_portal.core.access import Role
from tenants.audit import audit_record
from tenants.people import ROLES_CHANGED

_ROLES = {role.value.lower(): role for role in Role}


@dataclass(frozen=True)
class Grant:
    roles: frozenset[Role]
    teams: frozenset[str]


def parse_group_map(text: str) -> dict[str, Grant]:
    """STAFF_SIGNIN_GROUPS as {group ID or app role (lower case): what it gives}."""
    mapping: dict[str, Grant] = {}
    for entry in (e.strip() for e in text.split(",")):
        if not entry:
            continue
        key, sep, value = entry.partition("=")
        names = [n.strip() for n in value.split("|") if n.strip()]
        if not sep or not key.strip() or not names:
            raise ImproperlyConfigured(
                f"STAFF_SIGNIN_GROUPS entry {entry!r} is not '<group ID>=<role or team>'."
            )
        roles = frozenset(_ROLES[n.lower()] for n in names if n.lower() in _ROLES)
        teams = frozenset(n for n in names if n.lower() not in _ROLES)
        previous = mapping.get(key.strip().lower(), Grant(frozenset(), frozenset()))
        mapping[key.strip().lower()] = Grant(previous.roles | roles, previous.teams | teams)
    return mapping


def mapped_group_ids(mapping: dict[str, Grant]) -> list[str]:
    """The keys that are group object IDs (the ones Graph can be asked about)."""
    return sorted(k for k in mapping if len(k) == 36 and k.count("-") == 4)


def grant_for(mapping: dict[str, Grant], held: Iterable[str]) -> Grant:
    """What the held groups and app roles give, together."""
    roles: set[Role] = set()
    teams: set[str] = set()
    for key in {h.lower() for h in held}:
        grant = mapping.get(key)
        if grant is not None:
            roles |= grant.roles
            teams |= grant.teams
    return Grant(frozenset(roles), frozenset(teams))


def _listed(names: set[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def _names(user: User) -> tuple[set[str], set[str]]:
    current = set(user.groups.values_list("name", flat=True))
    role_names = {r.value for r in Role}
    return current & role_names, current - role_names


def apply_grant(
    *, user: User, grant: Grant, mapping: dict[str, Grant], ip_address: str | None
) -> bool:
    """Give ``user`` the grant's roles (only those) and mapped teams; audit a change.

    Returns whether anything changed."""
    roles_before, teams_before = _names(user)
    mapped_teams = set().union(*(g.teams for g in mapping.values())) if mapping else set()
    roles_after = {r.value for r in grant.roles}
    teams_after = (teams_before - mapped_teams) | set(grant.teams)
    if (roles_before, teams_before) == (roles_after, teams_after):
        return False
    # Role groups come from a data migration; a team named in the mapping may not exist
    # yet: made at the first sign-in that gives it (then Scopes can grant it customers).
    wanted = [
        Group.objects.get_or_create(name=name)[0] for name in sorted(roles_after | teams_after)
    ]
    user.groups.set(wanted)
    if hasattr(user, "_portal_roles"):
        del user._portal_roles
    audit_record(
        action=ROLES_CHANGED,
        customer=None,
        actor_label="Microsoft Entra groups",
        ip_address=ip_address,
        summary=(
            f"{user.get_username()}'s roles follow their Microsoft Entra groups: "
            f"{_listed(roles_before)} → {_listed(roles_after)}"
        ),
        details={
            "user_id": user.pk,
            "username": user.get_username(),
            "roles_before": sorted(roles_before),
            "roles_after": sorted(roles_after),
            "teams_before": sorted(teams_before),
            "teams_after": sorted(teams_after),
        },
    )
    return True
