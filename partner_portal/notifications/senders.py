"""Sending one message to one channel, and the failures of doing so, in words.

HTTP channels go through the protocol core's session (`defender.http.make_session`): a
timeout on every request, no proxy or CA taken from the environment, and no redirect
followed (a receiver that redirects is a failure, so a message never lands on a host
nobody configured). A channel's URL holds its secret: no failure's words, log line or
page names more of it than the host. E-mail goes through Django's mail (`EMAIL_URL`).

Each failure is a `DeliveryError` with a `failure_code` and an `explanation`, so
`core.failures.describe_failure` words it like every other failure; `retry` says
whether trying again can help (a 404 from Slack will not go away).
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar
from urllib.parse import urlsplit

import requests
from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from partner_portal.defender.http import make_session
from partner_portal.notifications import formats
from partner_portal.notifications.messages import Message
from partner_portal.notifications.models import Channel, ChannelKind

TIMEOUT = (5.0, 15.0)


class DeliveryError(Exception):
    """A message could not be sent; `explanation` says why, for people."""

    failure_code: ClassVar[str] = "delivery_failed"
    retry: ClassVar[bool] = True

    def __init__(self, explanation: str, *, status_code: int | None = None) -> None:
        super().__init__(explanation)
        self.explanation = explanation
        self.status_code = status_code


class ReceiverRefused(DeliveryError):
    failure_code = "receiver_refused"
    retry = False


class ReceiverFailed(DeliveryError):
    failure_code = "receiver_error"


class ReceiverUnreachable(DeliveryError):
    failure_code = "receiver_unreachable"


class ReceiverTimedOut(DeliveryError):
    failure_code = "receiver_timeout"


class MailFailed(DeliveryError):
    failure_code = "mail_failed"


class ChannelIncomplete(DeliveryError):
    failure_code = "channel_incomplete"
    retry = False


class ChannelSecretUnreadable(DeliveryError):
    """The channel's stored secret was sealed with a key the portal no longer has."""

    failure_code = "channel_secret_unreadable"
    retry = False


def host_of(url: str) -> str:
    """The host of a channel URL: what may be shown of it."""
    try:
        return urlsplit(url).hostname or ""
    except ValueError:
        return ""


def send(channel: Channel, message: Message, *, sent_at: str) -> int | None:
    """Send `message` to `channel`; the HTTP status it answered (None for e-mail)."""
    if channel.kind == ChannelKind.EMAIL:
        _send_email(channel, message)
        return None
    unopened = channel.unopened_secrets()
    if unopened:
        raise ChannelSecretUnreadable(
            f"The portal cannot decrypt {unopened} of this channel: it was stored with "
            "another key (FIELD_ENCRYPTION_KEY or SECRET_KEY changed). Edit the channel "
            f"and re-enter {unopened}."
        )
    if not channel.url:
        raise ChannelIncomplete("The channel has no URL; edit the channel and enter one.")
    headers = {"Content-Type": "application/json"}
    if channel.kind == ChannelKind.TEAMS:
        body = formats.json_bytes(formats.teams_body(message))
    elif channel.kind == ChannelKind.SLACK:
        body = formats.json_bytes(formats.slack_body(message))
    else:
        if not channel.signing_secret:
            raise ChannelIncomplete("The webhook has no signing secret; edit the channel.")
        body = formats.webhook_body(message, sent_at=sent_at)
        timestamp = str(int(time.time()))
        headers[formats.TIMESTAMP_HEADER] = timestamp
        headers[formats.SIGNATURE_HEADER] = formats.signature(
            channel.signing_secret, timestamp=timestamp, body=body
        )
        headers[formats.DELIVERY_HEADER] = message.id
    return _post(channel.url, body, headers)


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    host = host_of(url) or "the channel's URL"
    session = make_session(settings.NOTIFY_CA_FILE or None, timeout=TIMEOUT)
    try:
        with session:
            response = session.post(url, data=body, headers=headers, allow_redirects=False)
    except requests.Timeout:
        raise ReceiverTimedOut(f"{host} did not answer within {TIMEOUT[1]:.0f} seconds.") from None
    except requests.RequestException:
        # The exception's own text holds the URL, and with it the secret.
        raise ReceiverUnreachable(f"Could not connect to {host}.") from None
    status = response.status_code
    if 200 <= status < 300:
        return status
    if 300 <= status < 400:
        raise ReceiverRefused(
            f"{host} answered with a redirect ({status}); the portal does not follow "
            "redirects. Check the URL.",
            status_code=status,
        )
    if status in (408, 429) or status >= 500:
        raise ReceiverFailed(f"{host} answered {status}; it is tried again.", status_code=status)
    raise ReceiverRefused(
        f"{host} refused the message ({status}); check the URL and the receiver's settings.",
        status_code=status,
    )


def _send_email(channel: Channel, message: Message) -> None:
    recipients = [r.strip() for r in channel.recipients.split(",") if r.strip()]
    if not recipients:
        raise ChannelIncomplete("The channel has no recipients; edit the channel.")
    email = EmailMessage(
        subject=message.subject,
        body=formats.email_text(message),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
        headers={"X-Partner-Portal-Delivery": message.id},
        connection=get_connection(timeout=TIMEOUT[1]),
    )
    try:
        email.send()
    except (OSError, TimeoutError) as exc:
        raise MailFailed(
            f"The mail server did not take the message ({type(exc).__name__})."
        ) from None


class _HidePaths(logging.Filter):
    """urllib3 logs each request's path at DEBUG; a webhook's path is its secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        args: Any = record.args
        if isinstance(args, tuple) and len(args) >= 5 and '"%s %s %s"' in str(record.msg):
            record.args = (*args[:4], "(path hidden)", *args[5:])
        return True


def hide_request_paths_in_logs() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, _HidePaths) for f in logger.filters):
        logger.addFilter(_HidePaths())
