"""What every page shows the partner's staff about their customers as a whole.

Microsoft stops the Defender for Endpoint and XDR APIs on 1 February 2027. Until every
customer has consented again to the Microsoft Graph permissions, onboarding staff and
portal admins see on every page how many still must, with a link to the customers
list, where each one is marked. The count is worked out at most once a minute (it reads
every connected customer's granted roles) and shared through the cache; verification
forgets it when a customer moves onto or off the legacy API.

The sign-in page also learns here whether staff may sign in with Microsoft.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from partner_portal.core.access import Role, user_roles
from tenants.reconsent import legacy_api_count


def graph_migration(request: HttpRequest) -> dict[str, Any]:
    if not user_roles(request.user) & {Role.ONBOARDING, Role.ADMIN}:
        return {}
    return {"legacy_api_customers": legacy_api_count()}


def staff_signin(request: HttpRequest) -> dict[str, Any]:
    """Whether the sign-in page offers **Sign in with Microsoft** (staff_signin.py)."""
    match = request.resolver_match
    if match is None or match.url_name != "login":
        return {}
    from tenants.staff_signin import enabled

    return {"staff_signin_enabled": enabled()}
