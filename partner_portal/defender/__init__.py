"""Microsoft protocol core of the Partner Portal, free of any web framework.

The Django side injects settings, the token cache backend and the rate limiter; nothing
here imports Django. Callers import the public names from this package; the modules,
by capability:

* where to talk to: ``clouds`` (clouds, regions, endpoints, resources, Defender portal
  hosts) and ``http`` (sessions with a default timeout that ignore the environment);
* onboarding a customer: ``consent`` (admin-consent links and callbacks),
  ``tenant_lookup`` (the tenant behind a domain) and ``signin`` (the customer admin's
  sign-in that proves who consented, and the partner's staff signing in to the portal);
* the partner's own staff: ``directory_groups`` (whether someone is still in a group);
* tokens: ``credentials`` (the partner app's secret or certificate), ``token_cache``
  (cache backends shared across processes), ``tokens`` (app-only tokens per tenant)
  and ``validation`` (checking a token is what was asked for);
* calling the APIs: ``client`` (the base client, the one door every call goes
  through), ``retry``, ``rate_limit`` and ``paging`` (what it is made of), and one
  module per API: ``mde`` (Defender for Endpoint alerts), ``xdr`` (Defender XDR
  incidents), ``graph`` (Microsoft Graph security: alerts_v2, incidents, hunting; its
  listings in ``graph_listing``, its small parts in ``graph_requests`` and
  ``graph_hunting``), which replaces both;
* what the APIs send: ``records`` (typed alerts and incidents, and the vocabularies of
  their enum fields with the portal's labels); for Graph, ``graph_records``,
  ``graph_evidence``, ``graph_observables`` and ``graph_vocab``; what both are read
  with: ``fields`` (single values, and the words for what is wrong with one),
  ``timestamps`` and ``generated`` (readers compiled from declarations);
* what goes wrong: ``errors`` (the base and API errors) and ``identity_errors`` (Entra
  ID's: refused tokens, tenant look-ups, token validation).
"""

from . import graph_records
from .client import ClientStats, DefenderApiClient
from .clouds import (
    ALERT_READ,
    ALERT_READWRITE,
    GRAPH_ALERT_READ,
    GRAPH_ALERT_READWRITE,
    GRAPH_HUNTING,
    GRAPH_INCIDENT_READ,
    GRAPH_INCIDENT_READWRITE,
    GRAPH_RESOURCE,
    INCIDENT_READ,
    INCIDENT_READWRITE,
    MDE_RESOURCE,
    REGIONS,
    XDR_RESOURCE,
    Cloud,
    Endpoints,
    endpoints_for,
    parse_cloud,
    scope_for,
)
from .consent import (
    CodeReceived,
    ConsentDenied,
    ConsentGranted,
    ConsentInvalid,
    ConsentResult,
    admin_consent_url,
    normalise_tenant_id,
    parse_consent_callback,
    partner_consent_url,
)
from .credentials import AppCredentials, certificate_thumbprint
from .directory_groups import MembershipUnknown, member_groups
from .errors import (
    ApiError,
    DefenderError,
    Forbidden,
    InvalidRequest,
    MalformedResponse,
    NotFound,
    PageLimitExceeded,
    ServerError,
    Throttled,
    TransportError,
    Unauthorized,
)
from .graph import GRAPH_MAX_TOP, GRAPH_SECURITY_LIMITS, GraphClient, GraphClientStats
from .graph_evidence import AlertEvidence, UnknownEvidence, parse_graph_evidence
from .graph_hunting import HuntingColumn, HuntingResult
from .graph_observables import Observable, ObservableKind, evidence_observables

# Every vocabulary, as ``vocabularies.__all__`` lists them: a new one is named there only;
# likewise every Graph record and its parser, as ``graph_records.__all__`` lists them.
from .graph_records import *  # noqa: F403
from .graph_vocab import (
    GRAPH_ALERT_CLASSIFICATIONS,
    GRAPH_ALERT_DETERMINATIONS,
    GRAPH_ALERT_SEVERITIES,
    GRAPH_ALERT_STATUSES,
    GRAPH_DETECTION_SOURCES,
    GRAPH_EVIDENCE_REMEDIATION_STATUSES,
    GRAPH_EVIDENCE_ROLES,
    GRAPH_EVIDENCE_VERDICTS,
    GRAPH_INCIDENT_STATUSES,
    GRAPH_SERVICE_SOURCES,
    service_source_label,
)
from .http import DEFAULT_TIMEOUT, make_session
from .identity_errors import (
    AppDisabled,
    BadSignature,
    ConsentMissing,
    IdentityThrottled,
    InvalidAssertion,
    InvalidSecret,
    InvalidToken,
    MalformedToken,
    ResourceNotInTenant,
    SecretExpired,
    TenantLookupError,
    TenantLookupUnavailable,
    TenantNotFound,
    TokenError,
    TokenExpired,
    TokenNotYetValid,
    TransientIdentityError,
    UnknownSigningKey,
    UnknownTenantName,
    UnreadableDiscovery,
    WrongAudience,
    WrongIssuer,
    WrongNonce,
    WrongTenant,
    token_error_from_result,
)
from .mde import MDE_ALERT_LIMITS, MdeClient
from .paging import PageInfo
from .rate_limit import NO_LIMIT, Limiter, RateLimiter
from .records import (
    AlertComment,
    AlertRecord,
    IncidentAlert,
    IncidentRecord,
    RelatedUser,
    format_timestamp,
    parse_alert,
    parse_incident,
    parse_timestamp,
    vocabularies,
)
from .records.vocabularies import *  # noqa: F403
from .retry import RetryPolicy
from .signin import (
    CONSENT_ADMIN_ROLES,
    AdminSignIn,
    SignedInUser,
    SignInMismatch,
    SignInRequest,
)
from .tenant_lookup import (
    CONSUMER_TENANT_ID,
    LOOKUP_TIMEOUT,
    InvalidTenantName,
    resolve_tenant_id,
)
from .token_cache import FileTokenCache, InMemoryTokenCache, TokenCacheBackend
from .tokens import AccessToken, TokenProvider
from .validation import TokenValidator, ValidatedToken
from .xdr import XDR_INCIDENT_LIMITS, XdrClient

__all__ = [
    "ALERT_READ",
    "ALERT_READWRITE",
    "CONSENT_ADMIN_ROLES",
    "CONSUMER_TENANT_ID",
    "DEFAULT_TIMEOUT",
    "GRAPH_ALERT_CLASSIFICATIONS",
    "GRAPH_ALERT_DETERMINATIONS",
    "GRAPH_ALERT_READ",
    "GRAPH_ALERT_READWRITE",
    "GRAPH_ALERT_SEVERITIES",
    "GRAPH_ALERT_STATUSES",
    "GRAPH_DETECTION_SOURCES",
    "GRAPH_EVIDENCE_REMEDIATION_STATUSES",
    "GRAPH_EVIDENCE_ROLES",
    "GRAPH_EVIDENCE_VERDICTS",
    "GRAPH_HUNTING",
    "GRAPH_INCIDENT_READ",
    "GRAPH_INCIDENT_READWRITE",
    "GRAPH_INCIDENT_STATUSES",
    "GRAPH_MAX_TOP",
    "GRAPH_RESOURCE",
    "GRAPH_SECURITY_LIMITS",
    "GRAPH_SERVICE_SOURCES",
    "INCIDENT_READ",
    "INCIDENT_READWRITE",
    "LOOKUP_TIMEOUT",
    "MDE_ALERT_LIMITS",
    "MDE_RESOURCE",
    "NO_LIMIT",
    "REGIONS",
    "XDR_INCIDENT_LIMITS",
    "XDR_RESOURCE",
    "AccessToken",
    "AdminSignIn",
    "AlertComment",
    "AlertEvidence",
    "AlertRecord",
    "ApiError",
    "AppCredentials",
    "AppDisabled",
    "BadSignature",
    "ClientStats",
    "Cloud",
    "CodeReceived",
    "ConsentDenied",
    "ConsentGranted",
    "ConsentInvalid",
    "ConsentMissing",
    "ConsentResult",
    "DefenderApiClient",
    "DefenderError",
    "Endpoints",
    "FileTokenCache",
    "Forbidden",
    "GraphClient",
    "GraphClientStats",
    "HuntingColumn",
    "HuntingResult",
    "IdentityThrottled",
    "InMemoryTokenCache",
    "IncidentAlert",
    "IncidentRecord",
    "InvalidAssertion",
    "InvalidRequest",
    "InvalidSecret",
    "InvalidTenantName",
    "InvalidToken",
    "Limiter",
    "MalformedResponse",
    "MalformedToken",
    "MdeClient",
    "MembershipUnknown",
    "NotFound",
    "Observable",
    "ObservableKind",
    "PageInfo",
    "PageLimitExceeded",
    "RateLimiter",
    "RelatedUser",
    "ResourceNotInTenant",
    "RetryPolicy",
    "SecretExpired",
    "ServerError",
    "SignInMismatch",
    "SignInRequest",
    "SignedInUser",
    "TenantLookupError",
    "TenantLookupUnavailable",
    "TenantNotFound",
    "Throttled",
    "TokenCacheBackend",
    "TokenError",
    "TokenExpired",
    "TokenNotYetValid",
    "TokenProvider",
    "TokenValidator",
    "TransientIdentityError",
    "TransportError",
    "Unauthorized",
    "UnknownEvidence",
    "UnknownSigningKey",
    "UnknownTenantName",
    "UnreadableDiscovery",
    "ValidatedToken",
    "WrongAudience",
    "WrongIssuer",
    "WrongNonce",
    "WrongTenant",
    "XdrClient",
    "admin_consent_url",
    "certificate_thumbprint",
    "endpoints_for",
    "evidence_observables",
    "format_timestamp",
    "make_session",
    "member_groups",
    "normalise_tenant_id",
    "parse_alert",
    "parse_cloud",
    "parse_consent_callback",
    "parse_graph_evidence",
    "parse_incident",
    "parse_timestamp",
    "partner_consent_url",
    "resolve_tenant_id",
    "scope_for",
    "service_source_label",
    "token_error_from_result",
]
__all__ += vocabularies.__all__ + graph_records.__all__
