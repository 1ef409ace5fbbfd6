"""Who wrote a comment: the wording that names the analyst, defined once.

Microsoft credits a comment written through its APIs to the partner's application, not
to a person. So the text the portal sends to Defender starts with the analyst who wrote
it — ``[Dana Reyes <dana@partner.example> via Partner Portal] Confirmed and contained.``
— which anyone reading the comment in the Microsoft Defender portal sees too. When the
portal shows comments, it reads that opening back (`split_credit`) and shows the analyst
as the author, and the text without it (`shown_comments`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from partner_portal.defender import MalformedResponse, parse_timestamp

if TYPE_CHECKING:
    from django.contrib.auth.models import User

VIA = "via Partner Portal"
_CREDIT = re.compile(r"\A\[(?P<who>[^\]\n]{1,300}) " + re.escape(VIA) + r"\] ?")


def analyst_label(user: User) -> str:
    """`Dana Reyes <dana@partner.example>`, or whichever of the two the account has
    (the sign-in name when it has neither)."""
    name = user.get_full_name().strip()
    email = (user.email or "").strip()
    if name and email:
        return f"{name} <{email}>"
    return name or email or user.get_username()


def credited_comment(*, actor: User, text: str) -> str:
    """The comment as sent to Defender: the analyst's name, then their text."""
    label = analyst_label(actor).replace("]", ")").replace("\n", " ")
    return f"[{label} {VIA}] {text.strip()}"


@dataclass(frozen=True)
class CommentText:
    """A comment as the portal shows it: its author and its own text."""

    text: str
    #: `Dana Reyes <dana@partner.example> via Partner Portal` for a portal comment.
    author: str


def split_credit(text: str, created_by: str = "") -> CommentText:
    """Read a portal comment's opening back; any other comment keeps `created_by`."""
    match = _CREDIT.match(text)
    if match is None:
        return CommentText(text=text, author=created_by)
    return CommentText(text=text[match.end() :], author=f"{match['who']} {VIA}")


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def shown_comments(raw: Any) -> list[dict[str, Any]]:
    """The comments of an alert's or incident's `raw` as the portal shows them, newest
    first: text, author and time, under the legacy API's names or Graph's."""
    found = []
    comments = raw.get("comments") if isinstance(raw, dict) else None
    for item in comments if isinstance(comments, list) else []:
        if not isinstance(item, dict):
            continue
        try:
            created = parse_timestamp(item.get("createdTime") or item.get("createdDateTime"))
        except MalformedResponse:
            created = None
        by = item.get("createdBy") or item.get("createdByDisplayName")
        shown = split_credit(_text(item.get("comment")), _text(by))
        found.append({"comment": shown.text, "created_by": shown.author, "created_at": created})
    epoch = datetime.min.replace(tzinfo=timezone.get_current_timezone())
    return sorted(found, key=lambda c: c["created_at"] or epoch, reverse=True)
