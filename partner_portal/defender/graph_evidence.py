"""Typed evidence of Microsoft Graph security alerts (``alerts_v2``).

A Graph alert carries its evidence inline: a list of objects told apart by
``@odata.type`` (``#microsoft.graph.security.fileEvidence``...). Every item has the fields
of the base type ``alertEvidence`` (:class:`AlertEvidence`: when it was added, the
automated investigation's ``verdict``, the ``remediationStatus``, its roles and tags);
each kind adds its own. The kinds an MSSP analyst works with (devices, files, processes,
registry keys and values, users, mailboxes, e-mails, IP addresses, URLs, cloud and OAuth
applications) become their own classes. Microsoft lists forty-odd kinds and adds more, so
any other kind becomes an :class:`UnknownEvidence`: its base fields are read, the rest
stays in ``raw``, whole, and nothing fails.

``verdict``, ``remediationStatus`` and ``roles`` are read case-insensitively into Graph's
spelling; a value Microsoft has not documented is kept as sent and named in the item's
``unknown_values`` (see :mod:`.graph_vocab`). A field of the wrong type is malformed
data and raises :class:`~partner_portal.defender.errors.MalformedResponse`.

What the product indexes an alert by (hashes, addresses, IDs) is drawn from these
records by :mod:`.graph_observables`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

from .fields import FieldError, malformed, wrong
from .graph_schema import graph_field, reader
from .graph_vocab import GRAPH_EVIDENCE_REMEDIATION_STATUSES as _REMEDIATION
from .graph_vocab import GRAPH_EVIDENCE_ROLES as _ROLES
from .graph_vocab import GRAPH_EVIDENCE_VERDICTS as _VERDICTS

__all__ = [
    "AlertEvidence",
    "AnalyzedMessageEvidence",
    "CloudApplicationEvidence",
    "DeviceEvidence",
    "EmailSender",
    "FileDetails",
    "FileEvidence",
    "IpEvidence",
    "LoggedOnUser",
    "MailboxEvidence",
    "OAuthApplicationEvidence",
    "ProcessEvidence",
    "RegistryKeyEvidence",
    "RegistryValueEvidence",
    "UnknownEvidence",
    "UrlEvidence",
    "UserAccount",
    "UserEvidence",
    "VmMetadata",
    "parse_graph_evidence",
]


@dataclass(frozen=True, kw_only=True)
class FileDetails:
    sha1: str | None
    sha256: str | None
    file_name: str | None
    file_path: str | None
    file_size: int | None
    file_publisher: str | None
    signer: str | None
    issuer: str | None


@dataclass(frozen=True, kw_only=True)
class UserAccount:
    account_name: str | None
    domain_name: str | None
    user_sid: str | None
    azure_ad_user_id: str | None
    user_principal_name: str | None
    display_name: str | None


@dataclass(frozen=True, kw_only=True)
class EmailSender:
    email_address: str | None
    display_name: str | None
    domain_name: str | None


@dataclass(frozen=True, kw_only=True)
class LoggedOnUser:
    account_name: str | None
    domain_name: str | None


@dataclass(frozen=True, kw_only=True)
class VmMetadata:
    vm_id: str | None
    cloud_provider: str | None
    resource_id: str | None
    subscription_id: str | None


@dataclass(frozen=True, kw_only=True)
class AlertEvidence:
    """The fields every evidence item has (Graph's base type ``alertEvidence``)."""

    #: Graph's name for the kind (``"fileEvidence"``); None on :class:`UnknownEvidence`.
    graph_type: ClassVar[str | None] = None

    #: ``@odata.type`` exactly as sent (None if Microsoft left it out).
    odata_type: str | None = graph_field(json="@odata.type")
    created_date_time: datetime | None
    verdict: str | None = graph_field(vocab=_VERDICTS)
    remediation_status: str | None = graph_field(vocab=_REMEDIATION)
    remediation_status_details: str | None
    roles: tuple[str, ...] = graph_field(vocab=_ROLES)
    detailed_roles: tuple[str, ...]
    tags: tuple[str, ...]
    #: JSON names of fields whose value Microsoft does not document (kept as sent).
    unknown_values: tuple[str, ...] = ()
    #: The item exactly as Microsoft sent it, fields of unknown kinds included.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True, kw_only=True)
class DeviceEvidence(AlertEvidence):
    graph_type = "deviceEvidence"
    first_seen_date_time: datetime | None
    mde_device_id: str | None
    azure_ad_device_id: str | None
    device_dns_name: str | None
    os_platform: str | None
    os_build: int | None
    version: str | None
    health_status: str | None
    risk_score: str | None
    rbac_group_id: int | None
    rbac_group_name: str | None
    onboarding_status: str | None
    defender_av_status: str | None
    ip_interfaces: tuple[str, ...]
    last_ip_address: str | None
    last_external_ip_address: str | None
    logged_on_users: tuple[LoggedOnUser, ...]
    vm_metadata: VmMetadata | None


@dataclass(frozen=True, kw_only=True)
class FileEvidence(AlertEvidence):
    graph_type = "fileEvidence"
    file_details: FileDetails | None
    detection_status: str | None
    mde_device_id: str | None


@dataclass(frozen=True, kw_only=True)
class ProcessEvidence(AlertEvidence):
    graph_type = "processEvidence"
    process_id: int | None
    parent_process_id: int | None
    process_command_line: str | None
    process_creation_date_time: datetime | None
    parent_process_creation_date_time: datetime | None
    image_file: FileDetails | None
    parent_process_image_file: FileDetails | None
    user_account: UserAccount | None
    detection_status: str | None
    mde_device_id: str | None


@dataclass(frozen=True, kw_only=True)
class RegistryKeyEvidence(AlertEvidence):
    graph_type = "registryKeyEvidence"
    registry_key: str | None
    registry_hive: str | None


@dataclass(frozen=True, kw_only=True)
class RegistryValueEvidence(AlertEvidence):
    graph_type = "registryValueEvidence"
    registry_key: str | None
    registry_hive: str | None
    registry_value: str | None
    registry_value_name: str | None
    registry_value_type: str | None
    mde_device_id: str | None


@dataclass(frozen=True, kw_only=True)
class UserEvidence(AlertEvidence):
    graph_type = "userEvidence"
    user_account: UserAccount | None


@dataclass(frozen=True, kw_only=True)
class MailboxEvidence(AlertEvidence):
    graph_type = "mailboxEvidence"
    display_name: str | None
    primary_address: str | None
    upn: str | None
    user_account: UserAccount | None


@dataclass(frozen=True, kw_only=True)
class AnalyzedMessageEvidence(AlertEvidence):
    """An e-mail Defender for Office 365 analysed."""

    graph_type = "analyzedMessageEvidence"
    network_message_id: str | None
    internet_message_id: str | None
    subject: str | None
    language: str | None
    #: The envelope sender (P1, ``MAIL FROM``) and the header sender (P2, ``From:``).
    p1_sender: EmailSender | None
    p2_sender: EmailSender | None
    sender_ip: str | None
    recipient_email_address: str | None
    anti_spam_direction: str | None
    delivery_action: str | None
    delivery_location: str | None
    received_date_time: datetime | None
    urn: str | None
    threats: tuple[str, ...]
    threat_detection_methods: tuple[str, ...]
    urls: tuple[str, ...]
    url_count: int | None
    attachments_count: int | None


@dataclass(frozen=True, kw_only=True)
class IpEvidence(AlertEvidence):
    graph_type = "ipEvidence"
    ip_address: str | None
    country_letter_code: str | None


@dataclass(frozen=True, kw_only=True)
class UrlEvidence(AlertEvidence):
    graph_type = "urlEvidence"
    url: str | None


@dataclass(frozen=True, kw_only=True)
class CloudApplicationEvidence(AlertEvidence):
    """A SaaS application seen by Defender for Cloud Apps (its IDs are numbers)."""

    graph_type = "cloudApplicationEvidence"
    app_id: int | None
    display_name: str | None
    instance_id: int | None
    instance_name: str | None
    saas_app_id: int | None


@dataclass(frozen=True, kw_only=True)
class OAuthApplicationEvidence(AlertEvidence):
    """An Entra ID application (``appId`` is its client ID, a GUID)."""

    graph_type = "oauthApplicationEvidence"
    app_id: str | None
    display_name: str | None
    object_id: str | None
    publisher: str | None


@dataclass(frozen=True, kw_only=True)
class UnknownEvidence(AlertEvidence):
    """A kind this module does not model: the base fields, and ``raw`` whole."""


_MODELLED: tuple[type[AlertEvidence], ...] = (
    DeviceEvidence,
    FileEvidence,
    ProcessEvidence,
    RegistryKeyEvidence,
    RegistryValueEvidence,
    UserEvidence,
    MailboxEvidence,
    AnalyzedMessageEvidence,
    IpEvidence,
    UrlEvidence,
    CloudApplicationEvidence,
    OAuthApplicationEvidence,
)
# By Graph's type name in lower case ("fileevidence"), and by the usual @odata.type.
_KINDS = {str(cls.graph_type).lower(): cls for cls in _MODELLED}
_READERS: dict[type[AlertEvidence], Callable[[dict[str, Any], list[str]], AlertEvidence]] = {
    cls: reader(cls) for cls in (*_MODELLED, UnknownEvidence)
}
_BY_ODATA_TYPE = {f"#microsoft.graph.security.{c.graph_type}": _READERS[c] for c in _MODELLED}


def read_evidence(data: object) -> AlertEvidence:
    """Read one evidence item, raising :class:`FieldError` if it is unusable."""
    if type(data) is not dict:
        raise wrong("", data, "an object")
    odata_type = data.get("@odata.type")
    read = _BY_ODATA_TYPE.get(odata_type) if type(odata_type) is str else None
    if read is None:
        if odata_type is not None and type(odata_type) is not str:
            raise wrong("@odata.type", odata_type, "text")
        # "#microsoft.graph.security.FileEvidence", "microsoft.graph.security.fileEvidence"
        name = (odata_type or "").rpartition(".")[2].lower()
        read = _READERS[_KINDS.get(name, UnknownEvidence)]
    return read(data, [])


def read_evidence_list(key: str, value: object, unknown: list[str]) -> tuple[AlertEvidence, ...]:
    """The ``evidence`` list of an alert; unknown names come back as ``evidence[2].verdict``."""
    if value is None:
        return ()
    if type(value) is not list:
        raise wrong(key, value, "a list")
    items = []
    for index, data in enumerate(value):
        try:
            item = read_evidence(data)
        except FieldError as exc:
            exc.steps[:] = [key, f"[{index}]", *filter(None, exc.steps)]
            raise
        if item.unknown_values:
            unknown.extend(f"{key}[{index}].{name}" for name in item.unknown_values)
        items.append(item)
    return tuple(items)


def parse_graph_evidence(data: object) -> AlertEvidence:
    """Check and convert one evidence item; raise ``MalformedResponse`` if unusable."""
    try:
        return read_evidence(data)
    except FieldError as exc:
        raise malformed("Graph evidence", data, exc) from None
