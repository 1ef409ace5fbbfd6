"""Sealed fields: secrets kept in the database only as encrypted tokens.

Some values the portal stores are secrets themselves, such as a Teams, Slack or webhook
URL (whoever has it can post) and a webhook's signing key. A `SealedTextField` seals
its value with Fernet (AES-CBC with an HMAC) when a row is saved and opens it when the
row is read: code works with the plain value, the column holds only the token, and a
copy of the database alone gives nothing away. An empty value is stored empty. Tokens
differ on every save, so a sealed column cannot be searched or filtered on.

The key is not in the database. `FIELD_ENCRYPTION_KEY` (environment) holds one or more
Fernet keys separated by commas: the first seals, every one opens, so a key is rotated
by putting the new one first and keeping the old one after it until every row has been
saved again (a save seals with the first key). Unset, one key is derived from `SECRET_KEY`
(HKDF with SHA-256 and a fixed context), and more from `SECRET_KEY_FALLBACKS` to open
with, so `make run` and the tests need nothing. In that case changing `SECRET_KEY`
(without keeping the old one in `SECRET_KEY_FALLBACKS`) leaves sealed values that can
no longer be opened. Every process that reads the rows (web, worker) needs the same keys.

A value that cannot be opened (another key, a damaged token) does not stop the row
from loading: it reads as `Unopened`, an empty string that remembers its token. It is
falsy, so code asking "is a URL set?" hears no; `could_not_open` tells it apart from a
value never given, so the owner can say in words that it must be entered again; and
saving the row writes the token back unchanged, so a later right key still opens it.
"""

from __future__ import annotations

import base64
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.db import models

#: The HKDF context of the key derived from SECRET_KEY; changing it loses every value.
DERIVATION_CONTEXT = b"partner-portal sealed fields v1"


class Unopened(str):
    """A sealed value the current keys cannot open: reads as "", keeps its token."""

    token: str

    def __new__(cls, token: str) -> Unopened:
        value = super().__new__(cls, "")
        value.token = token
        return value


def could_not_open(value: object) -> bool:
    """Whether `value` was stored sealed but none of the keys opens it."""
    return isinstance(value, Unopened)


def derived_key(secret_key: str) -> bytes:
    """The Fernet key derived from a Django `SECRET_KEY`."""
    raw = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=DERIVATION_CONTEXT).derive(
        secret_key.encode()
    )
    return base64.urlsafe_b64encode(raw)


def _configured_keys() -> tuple[bytes, ...]:
    given = getattr(settings, "FIELD_ENCRYPTION_KEY", [])
    if given:
        return tuple(key.encode("ascii") for key in given)
    secrets = [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]
    return tuple(derived_key(secret) for secret in secrets if secret)


@lru_cache(maxsize=4)
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    # Keyed on the keys themselves, so a changed setting (a test's override) takes effect.
    return _fernet(_configured_keys())


def seal(plain: str) -> str:
    """The token of `plain`, sealed with the first key; "" stays ""."""
    if not plain:
        return ""
    return _current().encrypt(plain.encode()).decode("ascii")


def open_sealed(token: str) -> str:
    """The plain value of `token`; `Unopened` when no key opens it."""
    if not token:
        return ""
    try:
        return _current().decrypt(token.encode("ascii")).decode()
    except (InvalidToken, UnicodeError):
        return Unopened(token)


class SealedTextField(models.TextField):
    """A text column that holds only the sealed token of its value (see the module)."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else open_sealed(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None:
            return None
        if isinstance(value, Unopened):
            return value.token
        return seal(str(value))
