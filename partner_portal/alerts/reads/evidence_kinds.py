"""Which fields of each kind of evidence the console shows, under which label, and how.

A table row is `(label, JSON path, style[, vocabulary])`: the path walks nested objects
with dots (`fileDetails.sha256`), the style tells the template how to show the value
(plain text, an identifier with a copy button, a command line, a time, a vocabulary word,
a list), and a word names its vocabulary (`templatetags/vocabularies.py`). The tables
follow Microsoft's reference pages: Graph's `*Evidence` resource types, keyed by the
lower-cased type name, and the Defender for Endpoint API's evidence entities, keyed by
their lower-cased `entityType`. The order of a table is the order an analyst reads in:
what the thing is called first, identifiers next, context last. Read by `evidence.py`.
"""

from __future__ import annotations

from collections.abc import Iterable

# How a value is shown (the template's switch); ACCOUNT is DOMAIN\name, made by evidence.py.
TEXT, COPY, COMMAND, TIME, WORD, LIST = "text", "copy", "command", "time", "word", "list"
ACCOUNT = "account"

#: (label, JSON path, style[, vocabulary])
Spec = tuple[str, ...]
#: A kind: (view kind, label, paths whose first value titles the item, fields).
Kind = tuple[str, str, tuple[str, ...], tuple[Spec, ...]]

#: The fields every Graph item has, shown in the item's header rather than its body.
BASE_FIELDS = frozenset(
    {
        "@odata.type",
        "createdDateTime",
        "verdict",
        "remediationStatus",
        "remediationStatusDetails",
        "roles",
        "detailedRoles",
        "tags",
    }
)


def prefixed(prefix: str, specs: Iterable[Spec]) -> tuple[Spec, ...]:
    return tuple((label, f"{prefix}.{path}", *rest) for label, path, *rest in specs)


# ----------------------------------------------------------------- Microsoft Graph

FILE_SPECS = (
    ("File name", "fileName", TEXT),
    ("Path", "filePath", COMMAND),
    ("Size (bytes)", "fileSize", TEXT),
    ("SHA-256", "sha256", COPY),
    ("SHA-1", "sha1", COPY),
    ("MD5", "md5", COPY),
    ("Publisher", "filePublisher", TEXT),
    ("Signer", "signer", TEXT),
    ("Issuer", "issuer", TEXT),
)
ACCOUNT_SPECS = (
    ("User principal name", "userPrincipalName", COPY),
    ("Display name", "displayName", TEXT),
    ("SID", "userSid", COPY),
    ("Entra object ID", "azureAdUserId", COPY),
)


GRAPH_PARENT_PROCESS: tuple[Spec, ...] = (
    ("Image file", "parentProcessImageFile.fileName", TEXT),
    ("Image path", "parentProcessImageFile.filePath", COMMAND),
    ("Command line", "parentProcessCommandLine", COMMAND),
    ("Process ID", "parentProcessId", TEXT),
    ("Created", "parentProcessCreationDateTime", TIME),
    # Size, hashes, publisher, signer and issuer, as for any file.
    *prefixed("parentProcessImageFile", FILE_SPECS[2:]),
)

GRAPH_KINDS: dict[str, Kind] = {
    "deviceevidence": (
        "device",
        "Device",
        ("deviceDnsName", "mdeDeviceId", "azureAdDeviceId"),
        (
            ("Device name", "deviceDnsName", TEXT),
            ("Operating system", "osPlatform", TEXT),
            ("OS build", "osBuild", TEXT),
            ("OS version", "version", TEXT),
            ("Defender device ID", "mdeDeviceId", COPY),
            ("Entra device ID", "azureAdDeviceId", COPY),
            ("Risk", "riskScore", WORD, "risk"),
            ("Health", "healthStatus", WORD, "health"),
            ("Onboarding", "onboardingStatus", TEXT),
            ("Antivirus", "defenderAvStatus", TEXT),
            ("Device group", "rbacGroupName", TEXT),
            ("Device group ID", "rbacGroupId", TEXT),
            ("Logged-on users", "loggedOnUsers", LIST),
            ("IP addresses", "ipInterfaces", LIST),
            ("Last IP address", "lastIpAddress", TEXT),
            ("Last external IP address", "lastExternalIpAddress", TEXT),
            ("First seen", "firstSeenDateTime", TIME),
            ("Virtual machine", "vmMetadata.vmId", COPY),
            ("Cloud", "vmMetadata.cloudProvider", TEXT),
            ("Cloud resource", "vmMetadata.resourceId", COMMAND),
            ("Subscription", "vmMetadata.subscriptionId", COPY),
        ),
    ),
    "fileevidence": (
        "file",
        "File",
        ("fileDetails.fileName", "fileDetails.sha256"),
        (
            *prefixed("fileDetails", FILE_SPECS),
            ("Detection", "detectionStatus", WORD, "detection"),
            ("Defender device ID", "mdeDeviceId", COPY),
        ),
    ),
    "processevidence": (
        "process",
        "Process",
        ("imageFile.fileName", "processCommandLine", "processId"),
        (
            ("Image file", "imageFile.fileName", TEXT),
            ("Image path", "imageFile.filePath", COMMAND),
            ("Command line", "processCommandLine", COMMAND),
            ("Process ID", "processId", TEXT),
            ("Created", "processCreationDateTime", TIME),
            *prefixed("imageFile", FILE_SPECS[2:]),
            ("Detection", "detectionStatus", WORD, "detection"),
            ("Defender device ID", "mdeDeviceId", COPY),
        ),
    ),
    "userevidence": ("user", "User account", ("userAccount.userPrincipalName",), ()),
    "mailboxevidence": (
        "mailbox",
        "Mailbox",
        ("primaryAddress", "upn", "displayName"),
        (
            ("Address", "primaryAddress", COPY),
            ("Display name", "displayName", TEXT),
            ("User principal name", "upn", COPY),
        ),
    ),
    "analyzedmessageevidence": (
        "email",
        "E-mail message",
        ("subject", "networkMessageId"),
        (
            ("Sender", "p2Sender.emailAddress", COPY),
            ("Sender name", "p2Sender.displayName", TEXT),
            ("Sender domain", "p2Sender.domainName", TEXT),
            ("Envelope sender", "p1Sender.emailAddress", COPY),
            ("Envelope sender name", "p1Sender.displayName", TEXT),
            ("Envelope sender domain", "p1Sender.domainName", TEXT),
            ("Recipient", "recipientEmailAddress", COPY),
            ("Subject", "subject", TEXT),
            ("Delivery action", "deliveryAction", WORD, "delivery_action"),
            ("Delivery location", "deliveryLocation", WORD, "delivery_location"),
            ("Received", "receivedDateTime", TIME),
            ("Network message ID", "networkMessageId", COPY),
            ("Internet message ID", "internetMessageId", COPY),
            ("Sender IP", "senderIp", TEXT),
            ("Direction", "antiSpamDirection", TEXT),
            ("Threats", "threats", LIST),
            ("Detected by", "threatDetectionMethods", LIST),
            ("URLs", "urlCount", TEXT),
            ("URLs found", "urls", LIST),
            ("Attachments", "attachmentsCount", TEXT),
            ("Language", "language", TEXT),
            ("URN", "urn", COPY),
        ),
    ),
    "mailclusterevidence": (
        "mailcluster",
        "Mail cluster",
        ("clusterByValue", "urn"),
        (
            ("Clustered by", "clusterBy", TEXT),
            ("Value", "clusterByValue", COPY),
            ("E-mails", "emailCount", TEXT),
            ("Query", "query", COMMAND),
            ("Network message IDs", "networkMessageIds", LIST),
            ("URN", "urn", COPY),
        ),
    ),
    "ipevidence": (
        "ip",
        "IP address",
        ("ipAddress",),
        (
            ("Address", "ipAddress", COPY),
            ("Country", "countryLetterCode", TEXT),
            ("City", "location.city", TEXT),
            ("Organisation", "location.organization", TEXT),
        ),
    ),
    "urlevidence": ("url", "URL", ("url",), (("URL", "url", COMMAND),)),
    "cloudapplicationevidence": (
        "cloudapp",
        "Cloud application",
        ("displayName", "appId"),
        (
            ("Name", "displayName", TEXT),
            ("App ID", "appId", COPY),
            ("Instance", "instanceName", TEXT),
            ("Instance ID", "instanceId", TEXT),
            ("SaaS app ID", "saasAppId", TEXT),
        ),
    ),
    "oauthapplicationevidence": (
        "oauthapp",
        "OAuth application",
        ("displayName", "appId"),
        (
            ("Name", "displayName", TEXT),
            ("App ID", "appId", COPY),
            ("Object ID", "objectId", COPY),
            ("Publisher", "publisher", TEXT),
        ),
    ),
    "registrykeyevidence": (
        "registry",
        "Registry key",
        ("registryKey",),
        (("Hive", "registryHive", TEXT), ("Key", "registryKey", COMMAND)),
    ),
    "registryvalueevidence": (
        "registry",
        "Registry value",
        ("registryValueName", "registryKey"),
        (
            ("Hive", "registryHive", TEXT),
            ("Key", "registryKey", COMMAND),
            ("Value name", "registryValueName", COMMAND),
            ("Value type", "registryValueType", TEXT),
            ("Value data", "registryValue", COMMAND),
            ("Defender device ID", "mdeDeviceId", COPY),
        ),
    ),
    "securitygroupevidence": (
        "group",
        "Security group",
        ("displayName", "securityGroupId"),
        (("Name", "displayName", TEXT), ("Group ID", "securityGroupId", COPY)),
    ),
    "azureresourceevidence": (
        "cloudresource",
        "Azure resource",
        ("resourceName", "resourceId"),
        (
            ("Name", "resourceName", TEXT),
            ("Type", "resourceType", TEXT),
            ("Resource ID", "resourceId", COMMAND),
        ),
    ),
    "amazonresourceevidence": (
        "cloudresource",
        "AWS resource",
        ("resourceName", "amazonResourceId"),
        (
            ("Name", "resourceName", TEXT),
            ("Type", "resourceType", TEXT),
            ("Resource ID", "amazonResourceId", COMMAND),
            ("Account", "amazonAccountId", COPY),
        ),
    ),
    "googlecloudresourceevidence": (
        "cloudresource",
        "Google Cloud resource",
        ("resourceName", "fullResourceName"),
        (
            ("Name", "resourceName", TEXT),
            ("Type", "resourceType", TEXT),
            ("Resource", "fullResourceName", COMMAND),
            ("Project", "projectId", COPY),
            ("Location", "location", TEXT),
        ),
    ),
}


# ------------------------------------------------------------ Defender for Endpoint

MDE_ACCOUNT = (
    ("User principal name", "userPrincipalName", COPY),
    ("SID", "userSid", COPY),
    ("Entra object ID", "aadUserId", COPY),
)
MDE_HASHES = (("SHA-256", "sha256", COPY), ("SHA-1", "sha1", COPY), ("MD5", "md5", COPY))
MDE_KINDS: dict[str, Kind] = {
    "process": (
        "process",
        "Process",
        ("fileName", "processCommandLine"),
        (
            ("Image file", "fileName", TEXT),
            ("Image path", "filePath", COMMAND),
            ("Command line", "processCommandLine", COMMAND),
            ("Process ID", "processId", TEXT),
            ("Created", "processCreationTime", TIME),
            *MDE_HASHES,
            ("Detection", "detectionStatus", WORD, "detection"),
        ),
    ),
    "file": (
        "file",
        "File",
        ("fileName", "sha256", "sha1"),
        (
            ("File name", "fileName", TEXT),
            ("Path", "filePath", COMMAND),
            *MDE_HASHES,
            ("Detection", "detectionStatus", WORD, "detection"),
        ),
    ),
    "user": ("user", "User account", ("userPrincipalName", "accountName"), MDE_ACCOUNT),
    "ip": ("ip", "IP address", ("ipAddress",), (("Address", "ipAddress", COPY),)),
    "url": ("url", "URL", ("url",), (("URL", "url", COMMAND),)),
    "registry": (
        "registry",
        "Registry value",
        ("registryValueName", "registryKey"),
        (
            ("Hive", "registryHive", TEXT),
            ("Key", "registryKey", COMMAND),
            ("Value name", "registryValueName", COMMAND),
            ("Value type", "registryValueType", TEXT),
            ("Value data", "registryValue", COMMAND),
        ),
    ),
}


MDE_PARENT_PROCESS: tuple[Spec, ...] = (
    ("Image file", "parentProcessFileName", TEXT),
    ("Image path", "parentProcessFilePath", COMMAND),
    ("Command line", "parentProcessCommandLine", COMMAND),
    ("Process ID", "parentProcessId", TEXT),
    ("Created", "parentProcessCreationTime", TIME),
)
