"""What the consent callback can answer the customer's admin, worded once.

``CallbackOutcome`` is what the callback page shows (or where it sends the browser);
``REFUSALS`` names every reason an answer is refused, with the page it gets, its status,
its words for the admin and its words for staff (the audit log and the customer's
timeline). Pages with their own template (conflict, wrong tenant, invalid) carry their
admin-facing words there.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: How long the admin has to sign in after Microsoft reported the consent.
SIGN_IN_SECONDS = 15 * 60


@dataclass(frozen=True)
class Refusal:
    """One reason to refuse an answer, worded for the admin and for staff."""

    kind: str  # the page: conflict | wrong_tenant | invalid | refused
    status: int
    title: str
    text: str
    staff: str


REFUSALS: dict[str, Refusal] = {
    "personal_tenant": Refusal(
        "refused", 400, "A personal Microsoft account cannot be connected",
        "Microsoft answered for the tenant of personal Microsoft accounts, which has no "
        "Defender data of an organisation.",
        "the personal Microsoft accounts tenant cannot be a customer's",
    ),
    "malformed_answer": Refusal(
        "invalid", 400, "", "", "the answer was not one Microsoft sends (malformed values)"
    ),
    "held_by_other": Refusal(
        "conflict", 409, "", "", "the tenant is connected to another customer",
    ),
    "expected_by_other": Refusal(
        "conflict", 409, "", "", "another customer is registered for this tenant",
    ),
    "bound_elsewhere": Refusal(
        "wrong_tenant", 409, "", "", "this customer is already connected to another tenant",
    ),
    "not_expected": Refusal(
        "wrong_tenant", 409, "", "", "the tenant is not the one this customer expects",
    ),
    "unknown_tenant": Refusal(
        "refused", 400, "Microsoft does not know that organisation",
        "The answer named a tenant that Microsoft has no record of.",
        "Microsoft does not know the claimed tenant",
    ),
    "other_browser": Refusal(
        "refused", 400, "Please finish in the browser where you started",
        "Microsoft's answer came back to a browser that did not open the link and press "
        "Continue, or the sign-in took longer than "
        f"{SIGN_IN_SECONDS // 60} minutes, or this browser blocks cookies.",
        "the answer came back to a browser that did not start this link's consent",
    ),
    "sign_in_mismatch": Refusal(
        "refused", 400, "This sign-in does not belong to your approval",
        "The sign-in that came back is not the one this browser started.",
        "the sign-in answer did not match the sign-in this browser started",
    ),
    "code_rejected": Refusal(
        "refused", 400, "Microsoft did not confirm the approval",
        "Microsoft refused the one-time code your browser brought back (it may be used, "
        "expired or not Microsoft's).",
        "Microsoft refused the authorization code",
    ),
    "token_invalid": Refusal(
        "refused", 400, "Microsoft's answer could not be checked",
        "The token Microsoft issued for your sign-in did not pass the portal's checks.",
        "the sign-in token failed validation",
    ),
    "tenant_mismatch": Refusal(
        "refused", 400, "You signed in to another organisation",
        "The approval was reported for one Microsoft tenant, but you signed in to another. "
        "Both must be your organisation's.",
        "the signed-in tenant differs from the tenant in the answer",
    ),
    "no_roles": Refusal(
        "refused", 403, "Microsoft did not say which roles you hold",
        "The partner's application does not receive directory roles in its sign-in tokens, "
        "so the portal cannot tell whether you are an administrator.",
        "the sign-in token names no directory roles (the app registration must emit them)",
    ),
    "not_admin": Refusal(
        "refused", 403, "An administrator must sign in",
        "The account you signed in with is not a global administrator (or another role "
        "that can approve applications for the whole organisation).",
        "the person who signed in is not an administrator who can grant admin consent",
    ),
    "state_unusable": Refusal(
        "invalid", 400, "", "", "the answer's state was expired, used or replaced",
    ),
    "wrong_step": Refusal(
        "invalid", 400, "", "", "the answer did not fit the link's consent form (v1/v2)",
    ),
}  # fmt: skip


@dataclass(frozen=True)
class CallbackOutcome:
    """What the callback page tells the customer's admin, or where it sends them."""

    kind: str  # granted | sign_in | denied | invalid | conflict | wrong_tenant | refused | failed
    status_code: int
    customer_name: str = ""
    error: str = ""
    aadsts_code: int | None = None
    description: str = ""
    reason: str = ""
    redirect_to: str = ""
    cookie: str = ""
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def refusal(self) -> Refusal | None:
        return REFUSALS.get(self.reason)
