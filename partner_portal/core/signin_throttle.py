"""Failed sign-ins pause further attempts: per account and address, and per address.

Two counts are kept in the shared cache (CACHES["default"]: Redis, or the database cache
of the embedded setup), so every web worker sees the same numbers:

- per account name *and* client address: after SIGNIN_ACCOUNT_FAILURES failed passwords,
  each within SIGNIN_COOLOFF_SECONDS of the one before, signing in to that account from
  that address is paused for SIGNIN_COOLOFF_SECONDS;
- per client address, looser: after SIGNIN_ADDRESS_FAILURES failures for any accounts,
  every sign-in from that address is paused as long.

While a pause lasts even the right password is refused, and the sign-in page says until
when. The same account from another address is not paused, so guessing someone's
password from one machine does not lock that person out. A pause ends by itself; a
successful sign-in clears its account's count. The address is `core.http.client_ip`'s.

Every sign-in, the sign-in page's and Django admin's alike, goes through
`ThrottledModelBackend`. Failures are counted from Django's `user_login_failed` signal,
which never carries the password; a pause that starts is logged and announced with
`account_events.sign_in_paused` (the audit trail listens). Account names and addresses
are hashed in cache keys.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.cache import BaseCache, cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest

from partner_portal.core.account_events import sign_in_paused
from partner_portal.core.http import client_ip
from partner_portal.core.times import format_moment

logger = logging.getLogger(__name__)

ACCOUNT, ADDRESS = "account", "address"
_PREFIX = "signin"


@dataclass(frozen=True)
class Pause:
    """Sign-ins refused until `until`: for one account from one address, or the address."""

    scope: str
    until: datetime

    def wording(self, now: datetime) -> str:
        """What the sign-in page says: why, until when, and how long that is."""
        minutes = max(1, math.ceil((self.until - now).total_seconds() / 60))
        when = f"until {format_moment(self.until)} (in about {minutes} minute{'s' * (minutes > 1)})"
        if self.scope == ACCOUNT:
            return (
                "Too many failed sign-ins for this account from your address. Signing in "
                f"to it from here is paused {when}; until then even the right password is "
                "refused. Try again then."
            )
        return (
            "Too many failed sign-ins from your address. Signing in from it is paused "
            f"{when}. Try again then."
        )


class SignInThrottle:
    """The two counts and their pauses; `clock` (seconds since the epoch) is injectable."""

    def __init__(
        self,
        *,
        account_limit: int,
        address_limit: int,
        cool_off_seconds: int,
        store: BaseCache | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.limits = {ACCOUNT: account_limit, ADDRESS: address_limit}
        self.cool_off = cool_off_seconds
        self.store = store if store is not None else cache
        self.clock = clock

    def now(self) -> datetime:
        return datetime.fromtimestamp(self.clock(), tz=UTC)

    def pause_for(self, *, username: str, address: str | None) -> Pause | None:
        """The pause in force for this account from this address, if any (the longer)."""
        now = self.clock()
        found: Pause | None = None
        for scope, key in self._keys(username, address).items():
            until = self.store.get(f"{_PREFIX}:pause:{key}")
            if until is None or float(until) <= now:
                continue
            pause = Pause(scope, datetime.fromtimestamp(float(until), tz=UTC))
            if found is None or pause.until > found.until:
                found = pause
        return found

    def record_failure(self, *, username: str, address: str | None) -> list[Pause]:
        """Count one failed sign-in; the pauses it starts (none, most of the time)."""
        started = []
        until = self.clock() + self.cool_off
        for scope, key in self._keys(username, address).items():
            count_key = f"{_PREFIX}:failures:{key}"
            if self.store.add(count_key, 1, timeout=self.cool_off):
                count = 1
            else:
                try:
                    count = self.store.incr(count_key)
                except ValueError:  # expired between add and incr
                    self.store.set(count_key, 1, timeout=self.cool_off)
                    count = 1
                # Each failure gives the count another cool-off to live.
                self.store.touch(count_key, timeout=self.cool_off)
            if count >= self.limits[scope]:
                self.store.set(f"{_PREFIX}:pause:{key}", until, timeout=self.cool_off + 60)
                self.store.delete(count_key)  # after the pause, a fresh allowance
                started.append(Pause(scope, datetime.fromtimestamp(until, tz=UTC)))
        return started

    def record_success(self, *, username: str, address: str | None) -> None:
        """A right password forgives this account's failures from this address."""
        key = self._keys(username, address)[ACCOUNT]
        self.store.delete(f"{_PREFIX}:failures:{key}")

    @staticmethod
    def _keys(username: str, address: str | None) -> dict[str, str]:
        # Names are compared case-blind, so that "Admin" and "admin" share one count.
        name = username.strip().casefold()
        where = address or "unknown"

        def digest(text: str) -> str:
            return hashlib.sha256(text.encode()).hexdigest()[:40]

        return {ACCOUNT: digest(f"{name}\0{where}"), ADDRESS: digest(f"\0{where}")}


# The throttle's clock; tests replace it to let a pause run out without waiting.
clock: Callable[[], float] = time.time


def throttle() -> SignInThrottle:
    """The throttle the settings describe."""
    return SignInThrottle(
        account_limit=settings.SIGNIN_ACCOUNT_FAILURES,
        address_limit=settings.SIGNIN_ADDRESS_FAILURES,
        cool_off_seconds=settings.SIGNIN_COOLOFF_SECONDS,
        clock=clock,
    )


#: Checks that apps add (in their ``AppConfig.ready``) to refuse a password to accounts
#: that sign in elsewhere: an account Microsoft signs in (tenants.staff_signin) keeps
#: its access only while its Entra groups give it, which a password would bypass.
PASSWORD_REFUSALS: list[Callable[[Any], bool]] = []


def local_password_allowed(username: str | None) -> bool:
    """With LOCAL_PASSWORDS off, only the BREAK_GLASS_USERS sign in with a password."""
    return settings.LOCAL_PASSWORDS or username in settings.BREAK_GLASS_USERS


class ThrottledModelBackend(ModelBackend):
    """Django's user name and password check, refused outright while a pause lasts."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        paused = (
            request is not None
            and username is not None
            and throttle().pause_for(username=username, address=client_ip(request))
        )
        if paused:
            raise PermissionDenied("sign-in paused")
        if not local_password_allowed(username):
            raise PermissionDenied("local passwords are off")
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and any(refuses(user) for refuses in PASSWORD_REFUSALS):
            return None
        return user


def on_login_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any
) -> None:
    """`user_login_failed` receiver: count the failure; log and announce a pause."""
    username = credentials.get("username")
    if request is None or not isinstance(username, str):
        return
    gate = throttle()
    address = client_ip(request)
    if gate.pause_for(username=username, address=address):
        return  # refused while paused: the password was never checked
    for pause in gate.record_failure(username=username, address=address):
        failures = gate.limits[pause.scope]
        logger.warning(
            "Sign-in paused until %s for %s: %d failed sign-ins (account %r, address %s)",
            pause.until.isoformat(timespec="seconds"),
            "the account from this address" if pause.scope == ACCOUNT else "the address",
            failures,
            username,
            address or "unknown",
        )
        sign_in_paused.send(
            sender=SignInThrottle,
            username=username,
            address=address,
            scope=pause.scope,
            failures=failures,
            until=pause.until,
        )


def on_logged_in(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """`user_logged_in` receiver: the account's failures from this address are forgiven."""
    if request is not None:
        throttle().record_success(username=user.get_username(), address=client_ip(request))
