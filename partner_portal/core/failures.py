"""One place that turns a failure into what people read: a short code and words.

The sync's run rows, verification, write-back and the consent pages all show failures;
they all ask `describe_failure`. Microsoft's errors come worded by the protocol core
(`explanation`, and the AADSTS code where Entra ID gave one). The portal's own failures
that people should understand (a lost lock, a missing partner app) declare
`failure_code` and `explanation` on their class. Anything else, such as a database or
Redis problem or a time limit, is named only by its kind: its message may hold
connection details, which never reach a page.
"""

from __future__ import annotations

from dataclasses import dataclass

from partner_portal.defender import ApiError, DefenderError, InvalidToken, TokenError

INTERNAL = "An internal error stopped this; it is tried again later."


@dataclass(frozen=True)
class Failure:
    """What a person is shown: a code to quote, and what happened in words."""

    code: str
    words: str


def describe_failure(exc: BaseException) -> Failure:
    kind = type(exc).__name__
    if isinstance(exc, InvalidToken):
        words = f"Microsoft's token failed the portal's checks: {exc.reason}."
        return Failure("invalid_token", words)
    if isinstance(exc, TokenError):
        return Failure(f"AADSTS{exc.aadsts_code}" if exc.aadsts_code else kind, exc.explanation)
    if isinstance(exc, ApiError):
        return Failure(f"{kind} {exc.status}" if exc.status else kind, exc.explanation)
    if isinstance(exc, DefenderError):
        return Failure(kind, exc.explanation)
    declared_code = getattr(type(exc), "failure_code", None)
    declared_words = getattr(exc, "explanation", None)
    if isinstance(declared_code, str) and isinstance(declared_words, str) and declared_words:
        return Failure(declared_code, declared_words)
    return Failure(kind, INTERNAL)
