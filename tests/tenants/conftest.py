"""Fixtures for the onboarding tests: customers, links, and a stand-in partner app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from partner_portal.defender import (
    AppCredentials,
    SignedInUser,
    SignInMismatch,
    SignInRequest,
    TokenError,
    UnknownTenantName,
    WrongTenant,
)
from tenants import microsoft, registration
from tenants.models import AuditEvent, ConsentRequest, Customer
from tests.factories import UserFactory

FAKE_LOGIN = "https://login.example.test"


@pytest.fixture
def partner_app(monkeypatch: pytest.MonkeyPatch, settings: Any) -> Iterator[microsoft.PartnerApp]:
    """A configured partner app whose endpoints are never contacted by these tests."""
    app = microsoft.PartnerApp(
        credentials=AppCredentials(client_id="11111111-aaaa-bbbb-cccc-222222222222",
                                   client_secret="not-used"),
        login_url=FAKE_LOGIN,
        mde_api_url="https://api.example.test",
        xdr_api_url="https://xdr.example.test",
        ca_file=None,
        uses_sandbox=False,
    )  # fmt: skip
    monkeypatch.setattr(microsoft, "partner_app", lambda: app)
    settings.PUBLIC_BASE_URL = "https://portal.example.test"
    yield app


class FakeTenantLookup:
    """Stands in for Microsoft's discovery documents behind the door's domain look-up.

    `tenants` maps a domain to its tenant ID, or to the error the look-up raises; any
    other domain is unknown (AADSTS90002). `calls` records (domain, login URL).
    """

    def __init__(self) -> None:
        self.tenants: dict[str, str | Exception] = {}
        self.calls: list[tuple[str, str]] = []

    def __call__(self, name: str, *, login_url: str, session: Any, **kwargs: Any) -> str:
        self.calls.append((name, login_url))
        answer = self.tenants.get(name.lower())
        if answer is None:
            raise UnknownTenantName(name, "HTTP 400, AADSTS90002", http_status=400,
                                    aadsts_code=90002)  # fmt: skip
        if isinstance(answer, Exception):
            raise answer
        return answer


@pytest.fixture
def tenant_lookup(monkeypatch: pytest.MonkeyPatch, partner_app: Any) -> FakeTenantLookup:
    """The door's look-up, answered without Microsoft (the door's own logic stays real)."""
    fake = FakeTenantLookup()
    monkeypatch.setattr(microsoft, "resolve_tenant_id", fake)
    return fake


@pytest.fixture
def staff_user(db: None) -> Any:
    from partner_portal.core.access import Role

    return UserFactory(username="onboarding", roles=[Role.ONBOARDING])


@pytest.fixture
def customer_with_link(staff_user: Any) -> tuple[Customer, ConsentRequest]:
    return registration.customer_register(
        display_name="Contoso", contact_name="Dana", contact_email="dana@contoso.example",
        created_by=staff_user,
    )  # fmt: skip


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the onboarding tables, to prove that nothing changed.

    Refusals are the one thing a refused callback writes (an audit event for staff), so
    they are left out here and counted by the tests that expect them.
    """
    return {
        "customers": sorted(Customer.objects.values_list()),
        "consents": sorted(ConsentRequest.objects.values_list()),
        "events": sorted(
            AuditEvent.objects.exclude(action="consent.refused").values_list(
                "id", "action", "summary"
            )
        ),
    }


GLOBAL_ADMIN = "62e90394-69f5-4237-9190-012177145e10"
USER_ROLE = "b79fbf4d-3ef9-4689-8143-76b194e85509"


def signed_in(
    tenant_id: str, *, admin: bool = True, roles: frozenset[str] | None = None
) -> SignedInUser:
    """Who Microsoft's signed token says signed in."""
    if roles is None:
        roles = frozenset({USER_ROLE, GLOBAL_ADMIN} if admin else {USER_ROLE})
    return SignedInUser(
        tenant_id=tenant_id,
        object_id="0f0e0d0c-0b0a-4908-8706-050403020100",
        username=f"{'admin' if admin else 'user'}@{tenant_id[:8]}.example",
        directory_roles=roles,
    )


class FakeSignIn:
    """Stands in for the customer admin's sign-in at Microsoft (``AdminSignIn``).

    ``codes`` maps an authorization code to who it proves (or the error redeeming it
    raises); the flow and state handling mirror MSAL's: an answer whose state is not the
    kept flow's is refused.
    """

    def __init__(self) -> None:
        self.codes: dict[str, SignedInUser | Exception] = {}
        self.begun: list[dict[str, Any]] = []

    def begin(
        self, *, tenant_id: str, redirect_uri: str, state: str, login_hint: str | None = None
    ) -> SignInRequest:
        self.begun.append({"tenant_id": tenant_id, "redirect_uri": redirect_uri})
        flow = {"state": state, "nonce": "n0nce", "code_verifier": "v" * 43}
        query = urlencode({"state": state, "client_id": "app", "response_type": "code"})
        return SignInRequest(url=f"{FAKE_LOGIN}/{tenant_id}/oauth2/v2.0/authorize?{query}",
                             flow=flow)  # fmt: skip

    def _redeem(self, code: str) -> SignedInUser:
        answer = self.codes.get(code)
        if answer is None:
            raise TokenError("AADSTS70000: The provided value for the 'code' parameter is not "
                             "valid.", aadsts_code=70000, error="invalid_grant")  # fmt: skip
        if isinstance(answer, Exception):
            raise answer
        return answer

    def finish(
        self, *, tenant_id: str, flow: dict[str, Any], response: dict[str, str]
    ) -> SignedInUser:
        if response.get("state") != flow.get("state"):
            raise SignInMismatch("state does not match the sign-in")
        user = self._redeem(response.get("code", ""))
        if user.tenant_id != tenant_id:
            raise WrongTenant("token tenant is not the sign-in's")
        return user

    def redeem_partner_code(self, *, code: str, redirect_uri: str) -> SignedInUser:
        return self._redeem(code)


@pytest.fixture
def sign_in(monkeypatch: pytest.MonkeyPatch, partner_app: Any) -> FakeSignIn:
    fake = FakeSignIn()
    monkeypatch.setattr(microsoft, "admin_sign_in", lambda customer: fake)
    return fake
