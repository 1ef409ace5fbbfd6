"""Which application permissions (token roles) a customer needs and holds, per
Microsoft API: the retiring Defender for Endpoint and XDR APIs, and Microsoft Graph.

Verification (`verification.py`) asks here for the roles of a fresh token of each API.
Graph is always asked: a Graph alert role puts the customer on Graph
(`models.roles_are_on_graph`). A tenant that has not consented to Graph (no Graph roles,
or no Graph token at all for a reason of Graph's own) stays on the legacy APIs with a
note saying so; failures that concern the whole tenant or the partner app are raised,
as for any API. A customer on Graph no longer needs the legacy APIs, so their absence
from its tenant is no failure.
"""

from __future__ import annotations

from partner_portal.core.failures import describe_failure
from partner_portal.defender import (
    ALERT_READ,
    ALERT_READWRITE,
    GRAPH_ALERT_READ,
    GRAPH_ALERT_READWRITE,
    GRAPH_HUNTING,
    GRAPH_INCIDENT_READ,
    GRAPH_INCIDENT_READWRITE,
    INCIDENT_READ,
    INCIDENT_READWRITE,
    AppDisabled,
    ConsentMissing,
    Endpoints,
    IdentityThrottled,
    InvalidAssertion,
    InvalidSecret,
    ResourceNotInTenant,
    SecretExpired,
    TenantNotFound,
    TokenError,
    TransientIdentityError,
)
from tenants import microsoft
from tenants.models import GRAPH_ALERT_ROLES, Customer, roles_are_on_graph

#: Failures that say nothing about Graph in particular: the tenant, its consent or the
#: partner app is at fault (or Microsoft is busy), and the legacy APIs would meet the same.
_NOT_GRAPHS_OWN = (
    ConsentMissing,
    TenantNotFound,
    IdentityThrottled,
    TransientIdentityError,
    InvalidSecret,
    SecretExpired,
    AppDisabled,
    InvalidAssertion,
)

#: The Microsoft Graph application permissions the partner app asks each customer for,
#: each with what it lets the partner do, in the words the consent landing page uses.
#: Nothing else is asked: no mail, files, chats or directory.
GRAPH_PERMISSIONS_EXPLAINED: tuple[tuple[str, str], ...] = (
    (
        GRAPH_ALERT_READWRITE,
        "Read the security alerts of every Microsoft Defender product in your organisation "
        "(Endpoint, Office 365, Identity, Cloud Apps and the others), with their evidence, "
        "and update their status, classification, assignment and comments when its "
        "analysts work on them.",
    ),
    (
        GRAPH_INCIDENT_READWRITE,
        "Read the incidents that group those alerts, and update their status, "
        "classification, assignment, tags and comments.",
    ),
    (
        GRAPH_HUNTING,
        "Run hunting queries (read-only searches) over your Defender data while "
        "investigating an alert.",
    ),
)

NOT_ON_GRAPH_YET = (
    "Not on Microsoft Graph yet: {reason} Alerts are read from the Defender for Endpoint "
    "API, which Microsoft stops on 1 February 2027; send the customer's admin a new consent "
    "link to move it to Graph."
)


def required_roles(
    customer: Customer, *, on_graph: bool | None = None
) -> dict[str, tuple[str, ...]]:
    """Roles the portal needs, as alternatives: any one role of each entry will do.

    A customer on Graph needs Graph's roles, any other the legacy APIs'; `on_graph`
    defaults to what the customer's granted roles say.
    """
    graph = customer.on_graph if on_graph is None else on_graph
    needed: dict[str, tuple[str, ...]] = {}
    if customer.collect_alerts:
        if graph:
            needed[GRAPH_ALERT_READ] = (GRAPH_ALERT_READ, GRAPH_ALERT_READWRITE)
        else:
            needed[ALERT_READ] = (ALERT_READ, ALERT_READWRITE)
    if customer.collect_incidents:
        if graph:
            needed[GRAPH_INCIDENT_READ] = (GRAPH_INCIDENT_READ, GRAPH_INCIDENT_READWRITE)
        else:
            needed[INCIDENT_READ] = (INCIDENT_READ, INCIDENT_READWRITE)
    return needed


def roles_for(customer: Customer, resource: str) -> list[str]:
    provider = microsoft.token_provider(customer)
    assert customer.tenant_id
    token = provider.get(customer.tenant_id, resource, force_refresh=True)
    validated = microsoft.token_validator(customer).validate(
        token.token, tenant_id=customer.tenant_id, resource=resource
    )
    return sorted(validated.roles)


def graph_roles(customer: Customer, endpoints: Endpoints, notes: list[str]) -> list[str]:
    """The customer's roles at Microsoft Graph; none, with a note, when Graph will not
    give this tenant a token for a reason of Graph's own (failures of the tenant or the
    partner app are raised, as for any resource)."""
    try:
        roles = roles_for(customer, endpoints.graph_resource)
    except _NOT_GRAPHS_OWN:
        raise
    except TokenError as exc:  # e.g. Graph's service principal missing (AADSTS500011)
        reason = f"Microsoft issued no Graph token for this tenant ({describe_failure(exc).words})"
        notes.append(NOT_ON_GRAPH_YET.format(reason=reason.rstrip(".") + "."))
        return []
    if not roles_are_on_graph(roles):
        reason = f"its consent does not include {' or '.join(GRAPH_ALERT_ROLES)}."
        notes.append(NOT_ON_GRAPH_YET.format(reason=reason))
    return roles


def legacy_roles(
    customer: Customer, endpoints: Endpoints, notes: list[str], *, on_graph: bool
) -> list[str]:
    """The customer's roles at the Defender for Endpoint and XDR APIs. A customer on Graph
    no longer needs them: a resource missing in its tenant is then no failure."""
    roles: list[str] = []
    try:
        roles += roles_for(customer, endpoints.mde_resource)
    except ResourceNotInTenant:
        if not on_graph:
            raise
    if customer.collect_incidents:
        try:
            roles += roles_for(customer, endpoints.xdr_resource)
        except ResourceNotInTenant:
            if not on_graph:
                notes.append("Microsoft Defender XDR is not set up in this tenant.")
    return roles
