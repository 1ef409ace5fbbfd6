"""Account events in the audit trail: a password changed, sign-ins paused, two-step
sign-in turned on or off.

The core announces them (partner_portal/core/account_events.py); these receivers write
one audit event each, with no customer. Neither event carries a password.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.models import User

from partner_portal.core.account_events import (
    password_changed,
    second_factor_changed,
    sign_in_paused,
)
from partner_portal.core.times import format_moment
from tenants.audit import audit_record

PASSWORD_CHANGED = "account.password_changed"  # noqa: S105 (an action's name)
SIGN_IN_PAUSED = "account.sign_in_paused"
SECOND_FACTOR_ON = "account.second_factor_enrolled"
SECOND_FACTOR_OFF = "account.second_factor_removed"


def record_password_changed(sender: Any, *, user: User, address: str | None, **kwargs: Any) -> None:
    audit_record(
        action=PASSWORD_CHANGED,
        customer=None,
        actor=user,
        ip_address=address,
        summary=f"{user.get_username()} changed their password",
    )


def record_second_factor_changed(
    sender: Any, *, user: User, address: str | None, enrolled: bool, **kwargs: Any
) -> None:
    audit_record(
        action=SECOND_FACTOR_ON if enrolled else SECOND_FACTOR_OFF,
        customer=None,
        actor=user,
        ip_address=address,
        summary=f"{user.get_username()} turned two-step sign-in "
        + ("on (authenticator app)" if enrolled else "off"),
    )


def record_sign_in_paused(
    sender: Any,
    *,
    username: str,
    address: str | None,
    scope: str,
    failures: int,
    until: datetime,
    **kwargs: Any,
) -> None:
    whom = f"account {username!r} from {address or 'an unknown address'}"
    if scope != "account":
        whom = f"every account from {address or 'an unknown address'}"
    audit_record(
        action=SIGN_IN_PAUSED,
        customer=None,
        ip_address=address,
        summary=(
            f"Sign-ins paused for {whom} until {format_moment(until)} "
            f"after {failures} failed attempts"
        ),
        details={
            "account": username[:150],
            "scope": scope,
            "failures": failures,
            "until": until.isoformat(),
        },
    )


def connect() -> None:
    password_changed.connect(record_password_changed, dispatch_uid="tenants-audit-password")
    sign_in_paused.connect(record_sign_in_paused, dispatch_uid="tenants-audit-sign-in-paused")
    second_factor_changed.connect(
        record_second_factor_changed, dispatch_uid="tenants-audit-second-factor"
    )
