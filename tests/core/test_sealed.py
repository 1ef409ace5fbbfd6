"""Sealed values: what the database keeps of a secret, and which keys open it."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet

from partner_portal.core.sealed import could_not_open, derived_key, open_sealed, seal

SECRET = "https://hooks.example.com/services/T0/B0/very-secret-path"


def test_a_sealed_value_hides_the_secret_and_opens_to_it(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    token = seal(SECRET)
    assert SECRET not in token and "very-secret" not in token
    assert open_sealed(token) == SECRET
    assert seal(SECRET) != token  # a fresh token every time


def test_empty_stays_empty_and_is_not_an_unopened_value(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    assert seal("") == ""
    assert open_sealed("") == "" and not could_not_open(open_sealed(""))


def test_without_a_key_setting_the_key_is_derived_from_secret_key(settings: Any) -> None:
    settings.FIELD_ENCRYPTION_KEY = []
    settings.SECRET_KEY = "first-" + "s" * 50
    token = seal(SECRET)
    assert Fernet(derived_key(settings.SECRET_KEY)).decrypt(token.encode()).decode() == SECRET

    settings.SECRET_KEY = "second-" + "s" * 50
    lost = open_sealed(token)
    assert could_not_open(lost) and lost == "" and not lost

    settings.SECRET_KEY_FALLBACKS = ["first-" + "s" * 50]
    assert open_sealed(token) == SECRET


def test_a_value_sealed_with_another_key_reads_as_unopened_and_keeps_its_token(
    settings: Any,
) -> None:
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    token = seal(SECRET)
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    value = open_sealed(token)
    assert could_not_open(value)
    assert value == "" and getattr(value, "token", None) == token
    assert could_not_open(open_sealed("not a token at all"))
