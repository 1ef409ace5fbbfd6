"""Fixtures for the onboarding tests: customers, links, and a stand-in partner app."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from partner_portal.defender import AppCredentials, UnknownTenantName
from tenants import microsoft, services
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
    return services.customer_register(
        display_name="Contoso", contact_name="Dana", contact_email="dana@contoso.example",
        created_by=staff_user,
    )  # fmt: skip


def snapshot() -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the onboarding tables, to prove that nothing changed."""
    return {
        "customers": sorted(Customer.objects.values_list()),
        "consents": sorted(ConsentRequest.objects.values_list()),
        "events": sorted(AuditEvent.objects.values_list("id", "action", "summary")),
    }
