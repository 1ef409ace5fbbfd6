"""Verification turns a reported tenant into active, missing permissions or an error."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from partner_portal.defender import (
    AccessToken,
    ConsentMissing,
    InvalidSecret,
    ResourceNotInTenant,
    TransientIdentityError,
    WrongTenant,
)
from tenants import microsoft, reconsent, roles, verification
from tenants.models import AuditEvent, Customer, CustomerStatus
from tests.tenants.factories import CustomerFactory

pytestmark = pytest.mark.django_db

TENANT = "9f3e6c1a-52b7-4a8d-9c1e-0d2f4b6a8e10"
MDE = "https://api.securitycenter.microsoft.com"
XDR = "https://api.security.microsoft.com"
GRAPH = "https://graph.microsoft.com"


@dataclass
class FakeValidated:
    roles: tuple[str, ...]
    claims: dict[str, Any] = field(default_factory=dict)
    missing_roles: tuple[str, ...] = ()


class FakeMicrosoft:
    """Stands in for the token provider and validator: answers per resource."""

    def __init__(self) -> None:
        self.roles: dict[str, tuple[str, ...]] = {MDE: (), XDR: (), GRAPH: ()}
        self.errors: dict[str, Exception] = {}
        self.invalid: Exception | None = None
        self.calls: list[tuple[str, str, bool]] = []

    def get(self, tenant_id: str, resource: str, *, force_refresh: bool = False) -> AccessToken:
        self.calls.append((tenant_id, resource, force_refresh))
        if resource in self.errors:
            raise self.errors[resource]
        return AccessToken(
            token=f"token-for-{resource}",
            expires_at=datetime.now(UTC) + timedelta(hours=1),
            source="identity_provider",
            tenant_id=tenant_id,
            resource=resource,
        )

    def validate(self, token: str, *, tenant_id: str, resource: str, **kwargs: Any) -> Any:
        if self.invalid:
            raise self.invalid
        return FakeValidated(roles=self.roles[resource])


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch, partner_app: Any) -> FakeMicrosoft:
    fake = FakeMicrosoft()
    monkeypatch.setattr(microsoft, "token_provider", lambda customer: fake)
    monkeypatch.setattr(microsoft, "token_validator", lambda customer: fake)
    return fake


@pytest.fixture
def verifying() -> Customer:
    return CustomerFactory(
        display_name="Contoso", tenant_id=TENANT, status=CustomerStatus.VERIFYING
    )


def verify(customer: Customer, *, last_attempt: bool = True) -> Customer:
    result = verification.customer_verify(customer_id=customer.pk, last_attempt=last_attempt)
    assert result is not None
    return result


def test_all_roles_granted_makes_the_customer_active(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.roles.update({MDE: ("Alert.Read.All", "Alert.ReadWrite.All"), XDR: ("Incident.Read.All",)})
    customer = verify(verifying)
    assert customer.status == CustomerStatus.ACTIVE
    assert customer.granted_roles == ["Alert.Read.All", "Alert.ReadWrite.All", "Incident.Read.All"]
    assert customer.missing_roles == [] and customer.last_verified_at is not None
    assert {call[2] for call in fake.calls} == {True}, "verification must not trust a cached token"
    assert AuditEvent.objects.filter(action="customer.verified", customer=customer).exists()


def test_readwrite_alone_satisfies_alert_reading(fake: FakeMicrosoft, verifying: Customer) -> None:
    fake.roles.update({MDE: ("Alert.ReadWrite.All",), XDR: ("Incident.Read.All",)})
    assert verify(verifying).status == CustomerStatus.ACTIVE


def test_a_missing_role_is_named(fake: FakeMicrosoft, verifying: Customer) -> None:
    fake.roles.update({MDE: ("Alert.Read.All",), XDR: ()})
    customer = verify(verifying)
    assert customer.status == CustomerStatus.MISSING_PERMISSIONS
    assert customer.missing_roles == ["Incident.Read.All"]


def test_incidents_not_collected_need_no_incident_role(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    verifying.collect_incidents = False
    verifying.save(update_fields=["collect_incidents"])
    fake.roles[MDE] = ("Alert.Read.All",)
    assert verify(verifying).status == CustomerStatus.ACTIVE
    # Graph is always asked (it decides the API); the incidents API is not.
    assert all(call[1] in (MDE, GRAPH) for call in fake.calls)


def test_defender_xdr_missing_in_the_tenant_is_noted(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.roles[MDE] = ("Alert.Read.All",)
    fake.errors[XDR] = ResourceNotInTenant("AADSTS500011: not found", aadsts_code=500011)
    customer = verify(verifying)
    assert customer.status == CustomerStatus.MISSING_PERMISSIONS
    assert "not set up" in customer.last_error_message


def test_consent_not_yet_visible_is_retried_before_giving_up(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.errors[MDE] = ConsentMissing("AADSTS700016: app not found", aadsts_code=700016)
    with pytest.raises(verification.VerificationRetry):
        verify(verifying, last_attempt=False)
    verifying.refresh_from_db()
    assert verifying.status == CustomerStatus.VERIFYING
    tenant = verifying.tenant_id
    customer = verify(verifying, last_attempt=True)
    # Never verified: the tenant is released, so a proven consent elsewhere can take it.
    assert (customer.status, customer.tenant_id) == (CustomerStatus.PENDING_CONSENT, None)
    assert customer.last_error_code == "AADSTS700016"
    assert f"Consent for tenant {tenant} could not be confirmed" in customer.last_error_message
    event = AuditEvent.objects.get(action="consent.released", customer=customer)
    assert event.details["tenant_id"] == tenant
    assert Customer.objects.filter(tenant_id=tenant).count() == 0


def test_consent_removed_after_it_worked_is_consent_revoked(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.roles.update({MDE: ("Alert.Read.All",), XDR: ("Incident.Read.All",)})
    verify(verifying)
    fake.errors[MDE] = ConsentMissing("AADSTS700016: app not found", aadsts_code=700016)
    customer = verify(verifying, last_attempt=False)
    assert customer.status == CustomerStatus.CONSENT_REVOKED
    assert customer.granted_roles == []


def test_partner_side_errors_are_explained_in_words(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.errors[MDE] = InvalidSecret("AADSTS7000215: Invalid client secret", aadsts_code=7000215)
    customer = verify(verifying)
    assert customer.status == CustomerStatus.ERROR
    assert customer.last_error_code == "AADSTS7000215"
    assert "secret" in customer.last_error_message.lower()


def test_a_token_for_another_tenant_releases_a_tenant_that_never_verified(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.invalid = WrongTenant("tid does not match")
    customer = verify(verifying)
    assert (customer.status, customer.tenant_id) == (CustomerStatus.PENDING_CONSENT, None)
    assert customer.last_error_code == "invalid_token"


def test_a_token_for_another_tenant_is_an_error_for_a_verified_customer(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.roles.update({MDE: ("Alert.Read.All",), XDR: ("Incident.Read.All",)})
    verify(verifying)
    fake.invalid = WrongTenant("tid does not match")
    customer = verify(verifying)
    assert customer.status == CustomerStatus.ERROR and customer.tenant_id
    assert customer.last_error_code == "invalid_token"


def test_a_partner_app_problem_never_releases_the_tenant(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.errors[MDE] = InvalidSecret("AADSTS7000215: invalid secret", aadsts_code=7000215)
    customer = verify(verifying)
    assert customer.status == CustomerStatus.ERROR and customer.tenant_id == verifying.tenant_id


def test_transient_failures_are_retried(fake: FakeMicrosoft, verifying: Customer) -> None:
    fake.errors[MDE] = TransientIdentityError("503")
    with pytest.raises(verification.VerificationRetry):
        verify(verifying, last_attempt=False)


def test_offboarded_or_deleted_customers_are_skipped(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    verifying.status = CustomerStatus.OFFBOARDED
    verifying.save(update_fields=["status"])
    assert verification.customer_verify(customer_id=verifying.pk) is None
    assert verification.customer_verify(customer_id=999_999) is None
    assert fake.calls == []


def test_reverify_all_queues_every_customer_with_a_tenant(
    monkeypatch: pytest.MonkeyPatch, verifying: Customer
) -> None:
    CustomerFactory(display_name="Pending", awaiting_consent=True)
    CustomerFactory(
        display_name="Gone", tenant_id="1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        status=CustomerStatus.OFFBOARDED,
    )  # fmt: skip
    queued: list[Any] = []
    monkeypatch.setattr(
        "tenants.tasks.verify_customer.apply_async",
        lambda args, countdown=0: queued.append(args),
    )
    assert verification.customers_reverify_all() == 1
    assert queued == [(verifying.pk,)]


def test_verify_task_retries_then_records_the_error(
    fake: FakeMicrosoft, verifying: Customer, settings: Any
) -> None:
    from tenants.tasks import verify_customer

    settings.CELERY_TASK_ALWAYS_EAGER = True
    fake.errors[MDE] = ConsentMissing("AADSTS700016: app not found", aadsts_code=700016)
    from partner_portal.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = False
    try:
        result = verify_customer.apply(args=(verifying.pk,))
    finally:
        app.conf.task_always_eager = False
    verifying.refresh_from_db()
    # Eager retries run in-line; the last attempt gives the unproven tenant up.
    assert verifying.status == CustomerStatus.PENDING_CONSENT, result


# --- Microsoft Graph ----------------------------------------------------------------------
GRAPH_ROLES = ("SecurityAlert.ReadWrite.All", "SecurityIncident.ReadWrite.All")


def test_graph_roles_put_the_customer_on_graph_and_graph_roles_are_required(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.roles.update({MDE: ("Alert.Read.All",), XDR: ("Incident.Read.All",), GRAPH: GRAPH_ROLES})
    customer = verify(verifying)
    assert customer.status == CustomerStatus.ACTIVE and customer.on_graph
    assert set(GRAPH_ROLES) <= set(customer.granted_roles)
    assert "Alert.Read.All" in customer.granted_roles
    assert roles.required_roles(customer) == {
        "SecurityAlert.Read.All": ("SecurityAlert.Read.All", "SecurityAlert.ReadWrite.All"),
        "SecurityIncident.Read.All": (
            "SecurityIncident.Read.All",
            "SecurityIncident.ReadWrite.All",
        ),
    }
    assert "Not on Microsoft Graph" not in customer.last_error_message
    event = AuditEvent.objects.filter(action="customer.verified", customer=customer).get()
    assert event.details["on_graph"] is True


def test_a_legacy_consent_stays_on_the_defender_apis_with_a_note(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.roles.update({MDE: ("Alert.Read.All",), XDR: ("Incident.Read.All",)})
    customer = verify(verifying)
    assert customer.status == CustomerStatus.ACTIVE and not customer.on_graph
    assert customer.missing_roles == []
    assert customer.last_error_message.startswith("Not on Microsoft Graph yet")
    assert "1 February 2027" in customer.last_error_message
    assert GRAPH in {call[1] for call in fake.calls}


def test_a_graph_token_refused_for_graphs_own_reason_does_not_fail_a_legacy_customer(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.roles.update({MDE: ("Alert.Read.All",), XDR: ("Incident.Read.All",)})
    fake.errors[GRAPH] = ResourceNotInTenant("AADSTS500011: not found", aadsts_code=500011)
    customer = verify(verifying)
    assert customer.status == CustomerStatus.ACTIVE and not customer.on_graph
    assert customer.granted_roles == ["Alert.Read.All", "Incident.Read.All"]
    assert "Not on Microsoft Graph yet: Microsoft issued no Graph token" in (
        customer.last_error_message
    )


def test_a_graph_token_refused_for_the_whole_tenant_fails_as_before(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.roles.update({MDE: ("Alert.Read.All",), XDR: ("Incident.Read.All",)})
    fake.errors[GRAPH] = InvalidSecret("AADSTS7000215: invalid secret", aadsts_code=7000215)
    customer = verify(verifying)
    assert customer.status == CustomerStatus.ERROR
    assert customer.last_error_code == "AADSTS7000215"


def test_a_graph_only_consent_needs_no_defender_api(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.roles[GRAPH] = GRAPH_ROLES
    fake.errors[MDE] = ResourceNotInTenant("AADSTS500011: not found", aadsts_code=500011)
    fake.errors[XDR] = ResourceNotInTenant("AADSTS500011: not found", aadsts_code=500011)
    customer = verify(verifying)
    assert customer.status == CustomerStatus.ACTIVE and customer.on_graph
    assert sorted(customer.granted_roles) == sorted(GRAPH_ROLES)
    assert customer.last_error_message == ""


def test_on_graph_a_missing_graph_incident_role_is_named(
    fake: FakeMicrosoft, verifying: Customer
) -> None:
    fake.roles.update({MDE: ("Alert.Read.All",), XDR: ("Incident.Read.All",)})
    fake.roles[GRAPH] = ("SecurityAlert.Read.All",)
    customer = verify(verifying)
    assert customer.on_graph
    assert customer.status == CustomerStatus.MISSING_PERMISSIONS
    assert customer.missing_roles == ["SecurityIncident.Read.All"]


def test_the_customer_switches_to_graph_once_its_roles_appear(
    fake: FakeMicrosoft, verifying: Customer, django_capture_on_commit_callbacks: Any
) -> None:
    fake.roles.update({MDE: ("Alert.Read.All",), XDR: ("Incident.Read.All",)})
    with django_capture_on_commit_callbacks(execute=True):
        assert not verify(verifying).on_graph
    assert reconsent.legacy_api_count() == 1
    fake.roles[GRAPH] = GRAPH_ROLES  # the admin consented again
    with django_capture_on_commit_callbacks(execute=True):
        customer = verify(verifying)
    assert customer.on_graph and customer.last_error_message == ""
    # Staff's banner counts it no more at once, and the timeline says it moved.
    assert reconsent.legacy_api_count() == 0
    event = AuditEvent.objects.filter(customer=customer, action="customer.verified").latest("pk")
    assert "moved to Microsoft Graph" in event.summary and event.details["on_graph"]
    with django_capture_on_commit_callbacks(execute=True):
        again = verify(customer)
    latest = AuditEvent.objects.filter(customer=again, action="customer.verified").latest("pk")
    assert "moved to Microsoft Graph" not in latest.summary


@pytest.mark.sandbox
@pytest.mark.parametrize(
    ("scope", "on_graph"), [("defender", False), ("graph", True), ("both", True)]
)
def test_real_tokens_decide_the_api_by_the_tenants_consent(
    sandbox_factory: Any, settings: Any, scope: str, on_graph: bool
) -> None:
    from tests.alerts.conftest import point_portal_at

    sandbox = sandbox_factory(tenants=1, consented=0, alerts_per_tenant=5, seed=31)
    created = sandbox.control(
        "POST", "/_sandbox/tenants", json={"alerts": 5, "consented": True, "consent_scope": scope}
    )
    created.raise_for_status()
    point_portal_at(sandbox, settings)
    try:
        customer = CustomerFactory(
            tenant_id=created.json()["tenant_id"], status=CustomerStatus.VERIFYING
        )
        customer = verify(customer)
    finally:
        microsoft.reset_for_tests()
    assert customer.status == CustomerStatus.ACTIVE, customer.last_error_message
    assert customer.on_graph is on_graph
    assert ("SecurityAlert.ReadWrite.All" in customer.granted_roles) is on_graph
    assert ("Alert.Read.All" in customer.granted_roles) is (scope != "graph")
    assert customer.last_error_message.startswith("Not on Microsoft Graph yet") is (not on_graph)
