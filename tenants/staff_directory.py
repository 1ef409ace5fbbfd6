"""The partner's own tenant, where its staff sign in to the portal with Microsoft.

Which tenant and app (``staff_directory``: settings, or the sandbox's partner tenant
when no partner app is configured), the OpenID Connect sign-in there (the consent
proof's :class:`AdminSignIn`, checked by the same validator), and Graph's answer to
whether an account is still in the groups that give portal roles.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.urls import reverse

from partner_portal.defender import (
    AdminSignIn,
    AppCredentials,
    Endpoints,
    endpoints_for,
    member_groups,
)
from tenants.microsoft import (
    PartnerApp,
    PartnerAppNotConfigured,
    api_session,
    partner_app,
    provider_for,
    validator_for,
)


@dataclass(frozen=True)
class StaffDirectory:
    """The partner's own tenant, where staff sign in, and the app that signs them in."""

    tenant_id: str
    credentials: AppCredentials
    app: PartnerApp
    #: STAFF_SIGNIN_GROUPS: "<group object ID or app role>=<role or team>|…, …".
    groups: str

    @property
    def endpoints(self) -> Endpoints:
        return endpoints_for(
            settings.PARTNER_CLOUD,
            login_url=self.app.login_url or None,
            graph_url=self.app.graph_url or None,
        )


def staff_directory() -> StaffDirectory | None:
    """Where staff sign in with Microsoft, or None when nothing is configured.

    STAFF_SIGNIN_TENANT_ID configures it (with the partner app's registration, or the
    app STAFF_SIGNIN_CLIENT_ID names). Without it, and with no partner app configured,
    the sandbox's partner tenant and the groups its demo maps are used.
    """
    if settings.STAFF_SIGNIN_TENANT_ID:
        app = partner_app()
        credentials = app.credentials
        if settings.STAFF_SIGNIN_CLIENT_ID:
            credentials = AppCredentials(
                client_id=settings.STAFF_SIGNIN_CLIENT_ID,
                client_secret=settings.STAFF_SIGNIN_CLIENT_SECRET,
            )
        tenant_id = settings.STAFF_SIGNIN_TENANT_ID
        return StaffDirectory(tenant_id, credentials, app, settings.STAFF_SIGNIN_GROUPS)
    if settings.PARTNER_APP_CLIENT_ID:
        return None
    try:
        app = partner_app()
    except (PartnerAppNotConfigured, OSError, ValueError, KeyError):
        return None
    if app.sandbox_staff is None:
        return None
    tenant_id, groups = app.sandbox_staff
    return StaffDirectory(tenant_id, app.credentials, app, groups)


def staff_redirect_uri() -> str:
    """The staff sign-in's redirect URI, to register on the app (from PUBLIC_BASE_URL)."""
    return settings.PUBLIC_BASE_URL.rstrip("/") + reverse("tenants:staff_signin_callback")


def staff_sign_in(directory: StaffDirectory) -> AdminSignIn:
    """The OpenID Connect sign-in at the partner's own tenant (the consent proof's code)."""
    endpoints = directory.endpoints
    validator = validator_for(endpoints, directory.app.ca_file)
    return AdminSignIn(directory.credentials, endpoints, validator, api_session(directory.app))


def staff_member_groups(
    directory: StaffDirectory, *, user_id: str, group_ids: list[str]
) -> frozenset[str]:
    """The groups among ``group_ids`` the account is in now, as Graph says (an app token
    of the partner tenant). Raises a ``DefenderError`` when Graph cannot say."""
    if not group_ids:
        return frozenset()
    app, endpoints = directory.app, directory.endpoints
    provider = provider_for(directory.credentials, endpoints, app.ca_file)

    def token() -> str:
        return provider.get(directory.tenant_id, endpoints.graph_resource).token

    return member_groups(
        session=api_session(app),
        graph_url=endpoints.graph_url,
        token=token,
        user_id=user_id,
        group_ids=group_ids,
    )
