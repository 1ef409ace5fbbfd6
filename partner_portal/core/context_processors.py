"""What the base layout needs on every page: the user's roles and navigation."""

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.urls import NoReverseMatch, reverse

from partner_portal.core.access import Role, user_roles

# (label, url name, roles that see it); entries whose URL is not installed are left out.
NAVIGATION: list[tuple[str, str, tuple[Role, ...]]] = [
    ("Overview", "alerts:overview", (Role.ANALYST,)),
    ("Alerts", "alerts:list", (Role.ANALYST,)),
    ("Incidents", "alerts:incidents", (Role.ANALYST,)),
    ("Campaigns", "correlation:campaigns", (Role.ANALYST,)),
    ("Hunting", "hunting:hunts", (Role.ANALYST,)),
    ("Tenant health", "alerts:health", (Role.ANALYST, Role.ONBOARDING)),
    ("Customers", "tenants:customer_list", (Role.ONBOARDING,)),
    ("Notifications", "notifications:policies", (Role.ANALYST, Role.ADMIN)),
    ("People", "tenants:people", (Role.ADMIN,)),
    ("Scopes", "alerts:scopes", (Role.ADMIN,)),
    ("Audit log", "tenants:audit_log", (Role.ADMIN,)),
]


def portal(request: HttpRequest) -> dict[str, Any]:
    roles = user_roles(request.user)
    items = []
    for label, url_name, allowed in NAVIGATION:
        if roles & set(allowed):
            try:
                items.append({"label": label, "url": reverse(url_name)})
            except NoReverseMatch:
                continue
    return {
        "nav_items": items,
        "user_roles": sorted(role.value for role in roles),
        "is_portal_admin": Role.ADMIN in roles,
        # May change routing policies and suppression rules (within their scope).
        "is_soc_lead": Role.SOC_LEAD in roles,
        "partner_name": settings.PARTNER_NAME,
    }
