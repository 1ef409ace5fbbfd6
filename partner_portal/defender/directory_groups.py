"""Is this person still in these groups? Microsoft Graph's ``checkMemberGroups``.

The portal signs its staff in with their accounts in the partner's own tenant and gives
them roles by their security groups. A sign-in's ``groups`` claim is only true when the
token was issued; to take access away from someone removed from a group before their
portal session ends, the portal asks Graph again, with an app-only token of the partner
app in its home tenant (application permission ``GroupMember.Read.All``):

``POST {graph}/v1.0/users/{object id}/checkMemberGroups`` ``{"groupIds": [...]}`` answers
the asked groups the user is a member of (directly or through nested groups), at most
20 per call. A user that no longer exists (404) is in no group. Anything else that is
not an answer raises: :class:`MembershipUnknown` (Microsoft could not be asked, or did
not answer in shape), so that the caller decides what an unknown answer means.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import requests

from .consent import normalise_tenant_id
from .errors import DefenderError

__all__ = ["CHECK_BATCH", "MembershipUnknown", "member_groups"]

#: Graph checks at most this many groups per call.
CHECK_BATCH = 20


class MembershipUnknown(DefenderError):
    """Microsoft could not say whether the user is in the groups."""

    explanation = "Microsoft Graph could not be asked which groups the person is in."


def member_groups(
    *,
    session: requests.Session,
    graph_url: str,
    token: Callable[[], str],
    user_id: str,
    group_ids: Iterable[str],
) -> frozenset[str]:
    """The groups among ``group_ids`` that ``user_id`` (an object ID) is a member of."""
    if normalise_tenant_id(user_id) is None:
        raise ValueError("user_id must be an object ID (a GUID)")
    wanted = sorted({g.lower() for g in group_ids})
    held: set[str] = set()
    url = f"{graph_url.rstrip('/')}/v1.0/users/{user_id}/checkMemberGroups"
    for start in range(0, len(wanted), CHECK_BATCH):
        batch = wanted[start : start + CHECK_BATCH]
        try:
            response = session.post(
                url,
                json={"groupIds": batch},
                headers={"Authorization": f"Bearer {token()}"},
            )
        except requests.RequestException as exc:
            raise MembershipUnknown(f"Graph unreachable: {type(exc).__name__}") from None
        if response.status_code == 404:
            return frozenset()  # the account is gone: in no group
        if response.status_code != 200:
            raise MembershipUnknown(f"Graph answered HTTP {response.status_code}")
        try:
            value = response.json().get("value")
        except (ValueError, AttributeError):
            value = None
        if not isinstance(value, list):
            raise MembershipUnknown("Graph's answer has no list of groups")
        held |= {str(v).lower() for v in value if str(v).lower() in batch}
    return frozenset(held)
