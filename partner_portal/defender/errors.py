"""Typed errors raised by the Microsoft protocol core: the base, and the API's errors.

Every failure the portal can meet while talking to Microsoft becomes a subclass of
:class:`DefenderError`, so callers can branch on the type instead of parsing strings.
Each carries a plain-words ``explanation`` that onboarding staff can read: what happened
and who has to do what about it, and ``retryable`` says whether trying again later can
succeed without anybody changing anything.

This module holds the base and what the Defender (and, later, Graph) APIs answer: HTTP
errors by status, throttling, transport failures, unreadable answers and runaway
listings (:class:`ApiError` and its subclasses), plus the permission names a 403 quotes.
What Microsoft Entra ID answers (token refusals with their AADSTS codes, tenant look-up,
token validation) lives in :mod:`.identity_errors`.

Messages never contain access tokens, client secrets or private keys: they are built
only from Microsoft's public error fields and from values the portal itself chose.
"""

from __future__ import annotations

import re
from typing import ClassVar

__all__ = [
    "MAX_TEXT",
    "ApiError",
    "DefenderError",
    "Forbidden",
    "InvalidRequest",
    "MalformedResponse",
    "NotFound",
    "PageLimitExceeded",
    "ServerError",
    "Throttled",
    "TransportError",
    "Unauthorized",
    "clip_text",
    "parse_missing_permissions",
]

# Microsoft's texts are untrusted and can be long (they embed trace and correlation
# IDs); keep what is stored and shown bounded.
MAX_TEXT = 1000


def clip_text(text: str | None, limit: int = MAX_TEXT) -> str:
    """Microsoft's text made safe to keep and show: printable and at most ``limit`` long."""
    if not text:
        return ""
    cleaned = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in str(text))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


class DefenderError(Exception):
    """Base of every error raised by ``partner_portal.defender``."""

    #: Whether trying the same operation again later can succeed without anybody
    #: changing anything (a network blip, throttling, a Microsoft outage).
    retryable: ClassVar[bool] = False
    explanation: str = "Talking to Microsoft failed."


# -------------------------------------------------------------------------------- API


class ApiError(DefenderError):
    """The Defender API answered with an error (or not at all).

    ``status`` is the HTTP status (``None`` when no answer arrived), ``code`` and
    ``message`` are Microsoft's ``error.code`` / ``error.message``.
    """

    explanation = "The Microsoft Defender API answered with an error."

    def __init__(self, status: int | None, code: str | None = None, message: str = "") -> None:
        self.status = status
        self.code = clip_text(code, 100) or None
        self.message = clip_text(message)
        head = type(self).__name__
        if status is not None:
            head += f" (HTTP {status}"
            head += f", {self.code})" if self.code else ")"
        super().__init__(f"{head}: {self.message}" if self.message else head)


class InvalidRequest(ApiError):
    explanation = "Microsoft rejected the request as invalid (HTTP 400)."


class Unauthorized(ApiError):
    explanation = (
        "Microsoft did not accept the portal's access token for this customer, even after "
        "a fresh token was fetched. Consent may have been revoked; ask the customer to "
        "consent again."
    )


class Forbidden(ApiError):
    """HTTP 403, usually an application permission the customer has not consented to."""

    def __init__(self, status: int | None, code: str | None = None, message: str = "") -> None:
        super().__init__(status, code, message)
        self.missing_permissions = parse_missing_permissions(message)
        self.missing_permission: str | None = (
            ", ".join(self.missing_permissions) if self.missing_permissions else None
        )
        if self.missing_permission:
            self.explanation = (
                "The customer has not granted the permission this needs "
                f"({self.missing_permission}). A global administrator of the customer "
                "must consent again with the current consent link."
            )
        else:
            self.explanation = (
                "Microsoft refused access to this data. The customer may not have "
                "granted the needed permission; ask them to consent again."
            )


class NotFound(ApiError):
    explanation = "Microsoft does not know this object (it may have been deleted)."


class Throttled(ApiError):
    retryable = True
    explanation = (
        "Microsoft kept throttling this customer's requests longer than the portal is "
        "willing to wait. The next sync continues where this one stopped."
    )

    def __init__(
        self,
        status: int | None,
        code: str | None = None,
        message: str = "",
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status, code, message)
        self.retry_after = retry_after


class ServerError(ApiError):
    retryable = True
    explanation = "The Defender API kept answering with server errors; try again later."


class TransportError(ApiError):
    retryable = True
    explanation = (
        "The Defender API could not be reached (timeout, refused or reset connection); "
        "try again later."
    )


class MalformedResponse(ApiError):
    retryable = True
    explanation = (
        "The Defender API answered with data the portal cannot read; nothing from that "
        "answer was used."
    )


class PageLimitExceeded(ApiError):
    explanation = (
        "More pages were offered than the configured bound allows; the listing was "
        "stopped rather than run on without end."
    )


# Permission names look like ``Alert.Read.All`` or ``Machine.Isolate``: a resource, a
# verb (the part that tells them apart from ordinary dotted words) and an optional scope.
_PERMISSION_RE = re.compile(
    r"\b([A-Z][A-Za-z]*\."
    r"(?:Read|Write|ReadWrite|Isolate|Scan|Collect|Offboard|Manage|Run|Restrict|Stop|Live)"
    r"[A-Za-z]*(?:\.[A-Z][A-Za-z]*)?)\b"
)


def parse_missing_permissions(message: str | None) -> tuple[str, ...]:
    """Find permission names such as ``Alert.ReadWrite.All`` in a 403 message.

    Microsoft words it like "...does not have any of the required application
    permissions (Alert.ReadWrite.All, Alert.Read.All)..."; names are returned in the
    order they appear, each once.
    """
    if not message:
        return ()
    return tuple(dict.fromkeys(_PERMISSION_RE.findall(message)))
