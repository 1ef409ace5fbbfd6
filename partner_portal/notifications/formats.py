"""Each channel's shape of a `Message`: an e-mail's text, a Teams Adaptive Card, a Slack
message and the signed webhook body (version 1, documented in docs/notifications.md).

The webhook signature: `HMAC-SHA256(secret, "<timestamp>.<body>")` in lowercase hex, sent
as `X-Partner-Portal-Signature: v1=<hex>` with the Unix time in
`X-Partner-Portal-Timestamp`. A receiver recomputes it over the raw body and rejects a
timestamp older than five minutes, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict
from typing import Any

from partner_portal.notifications.messages import Message

WEBHOOK_VERSION = "1"
SIGNATURE_HEADER = "X-Partner-Portal-Signature"
TIMESTAMP_HEADER = "X-Partner-Portal-Timestamp"
DELIVERY_HEADER = "X-Partner-Portal-Delivery"
#: How old a signed request may be before a receiver should refuse it.
REPLAY_WINDOW_SECONDS = 300


def email_text(message: Message) -> str:
    if message.test:
        return "This is a test notification. The channel is set up correctly.\n"
    if message.customers:
        lines = [f"Customers: {', '.join(message.customers)}", f"Policy: {message.policy}"]
        lines += [f"Indicator: {kind} {value}" for kind, value in message.indicators]
        lines += [f"The campaign in the portal: {message.campaign_url}", ""]
    else:
        lines = [f"Customer: {message.customer}", f"Policy: {message.policy}", ""]
    if message.sla is not None:
        lines += [f"SLA {message.sla.stage}: {message.sla.clock} by {message.sla.due_at}", ""]
    if message.incident_id is not None:
        lines += [f"Incident {message.incident_id}: {message.incident_url}", ""]
    for alert in message.alerts:
        lines += [
            f"{alert.severity} · {alert.title}",
            f"  Category: {alert.category or '-'}   Status: {alert.status}",
            f"  Created: {alert.created_at}",
            f"  In the portal: {alert.portal_url}",
            f"  In Defender:   {alert.defender_url}",
            "",
        ]
    if message.more:
        lines.append(f"... and {message.more} more alert(s).")
    return "\n".join(lines) + "\n"


def teams_body(message: Message) -> dict[str, Any]:
    """A message with one Adaptive Card, as Teams Workflows webhooks take it."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": message.subject,
            "weight": "Bolder",
            "wrap": True,
            "size": "Medium",
        }
    ]
    actions: list[dict[str, Any]] = []
    if message.test:
        body.append({"type": "TextBlock", "text": "The channel is set up correctly.", "wrap": True})
    if message.customers:
        facts = [{"title": "Customers", "value": ", ".join(message.customers)}]
        facts += [{"title": kind, "value": value} for kind, value in message.indicators]
        body.append({"type": "FactSet", "facts": facts})
        actions.append(
            {"type": "Action.OpenUrl", "title": "The campaign", "url": message.campaign_url}
        )
    for alert in message.alerts:
        body.append(
            {
                "type": "FactSet",
                "facts": [
                    {"title": "Alert", "value": alert.title},
                    {"title": "Severity", "value": alert.severity},
                    {"title": "Category", "value": alert.category or "-"},
                    {"title": "Customer", "value": alert.customer or message.customer},
                ],
            }
        )
    if message.alerts:
        first = message.alerts[0]
        actions = [
            {"type": "Action.OpenUrl", "title": "Open in the portal", "url": first.portal_url},
            {"type": "Action.OpenUrl", "title": "Open in Defender", "url": first.defender_url},
            *actions,
        ]
    if message.incident_url:
        actions.append(
            {"type": "Action.OpenUrl", "title": "Incident in Defender", "url": message.incident_url}
        )
    if message.more:
        body.append(
            {"type": "TextBlock", "text": f"... and {message.more} more alert(s).", "wrap": True}
        )
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
        "actions": actions,
    }
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }


def slack_body(message: Message) -> dict[str, Any]:
    """An incoming-webhook message: plain `text` for notifications, blocks for the rest."""
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{_slack_escape(message.subject)}*"},
        }
    ]
    if message.customers:
        found = ", ".join(f"{kind} `{_slack_escape(value)}`" for kind, value in message.indicators)
        text = f"Customers: {_slack_escape(', '.join(message.customers))}\n{found}\n"
        text += f"<{message.campaign_url}|The campaign in the portal>"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    for alert in message.alerts:
        blocks.append(
            {
                "type": "section",
                "text": {
                    "type": "mrkdwn",
                    "text": (
                        f"*{alert.severity}* · {_slack_escape(alert.title)}\n"
                        f"<{alert.portal_url}|Open in the portal> · "
                        f"<{alert.defender_url}|Open in Defender>"
                    ),
                },
            }
        )
    if message.more:
        blocks.append(
            {
                "type": "context",
                "elements": [{"type": "mrkdwn", "text": f"... and {message.more} more alert(s)."}],
            }
        )
    return {"text": message.subject, "blocks": blocks}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webhook_body(message: Message, *, sent_at: str) -> bytes:
    """The documented JSON body, version 1, as the exact bytes that are signed."""
    payload = {
        "version": WEBHOOK_VERSION,
        "type": _webhook_type(message),
        "event": message.event or None,
        "id": message.id,
        "sent_at": sent_at,
        "subject": message.subject,
        "customer": message.customer,
        "policy": message.policy,
        "incident": (
            {"id": message.incident_id, "defender_url": message.incident_url}
            if message.incident_id is not None
            else None
        ),
        "alerts": [asdict(alert) for alert in message.alerts],
        "more_alerts": message.more,
        "sla": asdict(message.sla) if message.sla is not None else None,
    }
    if message.customers:
        payload["campaign"] = {
            "indicators": [{"kind": kind, "value": value} for kind, value in message.indicators],
            "customers": list(message.customers),
            "portal_url": message.campaign_url,
        }
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def _webhook_type(message: Message) -> str:
    if message.test:
        return "test"
    if message.sla is not None:
        return "sla"
    if message.customers:
        return "campaign"
    return "incident" if message.event else "alerts"


def signature(secret: str, *, timestamp: str, body: bytes) -> str:
    """`v1=` and the lowercase hex HMAC-SHA256 of `<timestamp>.<body>` under `secret`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def json_bytes(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
