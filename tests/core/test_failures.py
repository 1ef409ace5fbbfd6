"""`describe_failure` is the one place failures are worded for people."""

from __future__ import annotations

import pytest

from partner_portal.alerts.sync.passes import LockLost
from partner_portal.core.failures import INTERNAL, describe_failure
from partner_portal.core.locks import LockUnavailable
from partner_portal.defender import ConsentMissing, Forbidden, TokenError, WrongTenant
from partner_portal.defender.errors import TransportError
from tenants.microsoft import PartnerAppNotConfigured


@pytest.mark.parametrize(
    ("exc", "code", "words"),
    [
        (ConsentMissing("AADSTS700016: not found", aadsts_code=700016), "AADSTS700016",
         ConsentMissing.default_explanation),
        (TokenError("no code given"), "TokenError", TokenError.default_explanation),
        (WrongTenant("tid does not match"), "invalid_token",
         "Microsoft's token failed the portal's checks: tid does not match."),
        (LockLost(), "lock_lost", LockLost.explanation),
        (LockUnavailable("redis://:secret@host"), "lock_unavailable", LockUnavailable.explanation),
        (PartnerAppNotConfigured("Set PARTNER_APP_CLIENT_ID."), "not_configured",
         "Set PARTNER_APP_CLIENT_ID."),
    ],
)  # fmt: skip
def test_each_kind_of_failure_gets_its_code_and_words(
    exc: BaseException, code: str, words: str
) -> None:
    failure = describe_failure(exc)
    assert (failure.code, failure.words) == (code, words)


def test_api_errors_name_their_http_status() -> None:
    forbidden = describe_failure(Forbidden(403, "Forbidden", "missing Alert.ReadWrite.All"))
    assert forbidden.code == "Forbidden 403" and forbidden.words
    assert describe_failure(TransportError(None, None, "reset")).code == "TransportError"


def test_anything_else_is_named_by_kind_only_so_no_connection_detail_reaches_a_page() -> None:
    failure = describe_failure(RuntimeError("connect to postgres://portal:hunter2@db failed"))
    assert failure == type(failure)("RuntimeError", INTERNAL)
    assert "hunter2" not in failure.words
