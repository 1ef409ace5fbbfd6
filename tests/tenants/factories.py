"""factory_boy factories for customers, their consent links, audit events and analysts'
scopes."""

from __future__ import annotations

from datetime import timedelta

import factory
from django.utils import timezone

from tenants.models import AnalystScope, AuditEvent, ConsentRequest, Customer, CustomerStatus
from tests.factories import UserFactory


class CustomerFactory(factory.django.DjangoModelFactory):
    """An active customer with a tenant; `awaiting_consent=True` gives one that has no
    tenant yet (pending consent), as registration leaves it."""

    class Meta:
        model = Customer

    class Params:
        awaiting_consent = factory.Trait(status=CustomerStatus.PENDING_CONSENT, tenant_id=None)

    display_name = factory.Sequence(lambda n: f"Customer {n:03d}")
    tenant_id = factory.Sequence(lambda n: f"00000000-0000-4000-8000-{n:012d}")
    status = CustomerStatus.ACTIVE


class ConsentRequestFactory(factory.django.DjangoModelFactory):
    """An open consent link, valid for a week."""

    class Meta:
        model = ConsentRequest

    customer = factory.SubFactory(CustomerFactory, awaiting_consent=True)
    public_id = factory.Sequence(lambda n: f"consent-link-{n:06d}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(days=7))


class AuditEventFactory(factory.django.DjangoModelFactory):
    """Something the system did to a customer (pass `actor`/`actor_label` for a person)."""

    class Meta:
        model = AuditEvent

    actor_label = "system"
    action = "customer.registered"
    customer = factory.SubFactory(CustomerFactory)
    customer_name = factory.LazyAttribute(lambda e: e.customer.display_name if e.customer else "")
    summary = factory.LazyAttribute(lambda e: f"{e.action} {e.customer_name}".strip())


class AnalystScopeFactory(factory.django.DjangoModelFactory):
    """A grant of one customer to a user. Pass `group=` for a group's grant and
    `all_customers=True` for the grant of every customer: the other side is left empty,
    as the table's constraints require."""

    class Meta:
        model = AnalystScope

    group = None
    all_customers = False
    user = factory.Maybe(
        "group", yes_declaration=None, no_declaration=factory.SubFactory(UserFactory)
    )
    customer = factory.Maybe(
        "all_customers", yes_declaration=None, no_declaration=factory.SubFactory(CustomerFactory)
    )
