"""What a data source is to the sync: everything the pass would otherwise have to ask
"which source is this?" about.

A source is one kind of item read from one Microsoft API for a customer tenant, such as
Defender for Endpoint alerts or Defender XDR incidents. It says how it is stored by name
(the value on `SyncState` and `SyncRun` rows), whether a customer collects it, which
client reads it, how that client lists what changed since a moment, page by page, and
how a page is written. It also names the application permission the pass needs, so a
403 can be laid at the customer's door, and the API limits its client keeps to.

A source reads either Microsoft Graph or one of the Defender APIs that Microsoft retires
on 1 February 2027 (`on_graph`); a customer collects the sources of the API it is on
(`Customer.on_graph`, decided by verification), so its switch to Graph needs no step.

The pass, the dispatcher and the progress reads work on this interface alone; a new
source is a new module with a subclass, registered in `sources/__init__.py`. A source
that reads Microsoft Graph subclasses `GraphSource`, which holds what every Graph source
shares: the client, its limits and `on_graph`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from partner_portal.defender import GRAPH_SECURITY_LIMITS, ClientStats, GraphClient
from tenants import microsoft
from tenants.models import CustomerStatus

if TYPE_CHECKING:
    from django.db.models import Model

    from partner_portal.alerts.sync.upsert import UpsertResult
    from tenants.models import Customer

#: Customers in these states are synced; any other state pauses every source.
COLLECTING = (CustomerStatus.ACTIVE, CustomerStatus.MISSING_PERMISSIONS)

#: Customer fields every source's `enabled_for` reads (the dispatcher loads only these
#: plus each source's `customer_fields`).
CUSTOMER_FIELDS = (
    "id",
    "status",
    "tenant_id",
    "granted_roles",
    "missing_roles",
    "sync_interval_seconds",
)


class SyncClient(Protocol):
    """What the pass needs of a client besides what its source does with it: counters of
    the calls it made, recorded on the run (read-only here, so that a client may keep
    counters of a richer kind)."""

    @property
    def stats(self) -> ClientStats: ...


ClientT = TypeVar("ClientT", bound=SyncClient)
RecordT = TypeVar("RecordT")


class Source(ABC, Generic[ClientT, RecordT]):
    """One Microsoft data source, as the sync sees it. Instances hold no state."""

    #: Stored on `SyncState.source` and `SyncRun.source`, passed to the task; never change
    #: it for an existing source (16 characters at most).
    name: ClassVar[str]
    #: Shown to people (customer page, progress).
    label: ClassVar[str]
    #: The application permission (a token role) the pass needs. A customer whose
    #: `missing_roles` names it is not synced; a 403 from the API records it as missing.
    permission: ClassVar[str]
    #: Microsoft's documented limits per app and tenant, `(calls, seconds)` pairs; the
    #: constant lives next to the client, whose limiter keeps to it.
    limits: ClassVar[tuple[tuple[int, float], ...]]
    #: The model a page is stored in (counted on the customer's page).
    model: ClassVar[type[Model]]
    #: Customer fields that `wanted_by` reads.
    customer_fields: ClassVar[tuple[str, ...]] = ()
    #: Reads Microsoft Graph (collected for customers on Graph); else a retiring
    #: Defender API (collected for the others).
    on_graph: ClassVar[bool] = False

    @abstractmethod
    def wanted_by(self, customer: Customer) -> bool:
        """Whether the customer chose to collect this source (its own setting)."""

    @abstractmethod
    def client(self, customer: Customer, *, token_sources: list[str]) -> ClientT:
        """A client for the customer's tenant, from `tenants.microsoft`; it appends where
        each token came from to `token_sources`."""

    @abstractmethod
    def pages(self, client: ClientT, *, since: datetime) -> Iterable[Sequence[RecordT]]:
        """Every item changed at or after `since`, one page at a time."""

    @abstractmethod
    def store(self, *, customer_id: int, page: Sequence[RecordT]) -> UpsertResult:
        """Write one page idempotently, in one transaction."""

    def enrich(
        self, client: ClientT, *, customer_id: int, page: Sequence[RecordT], result: UpsertResult
    ) -> None:
        """Fetch and store what the listing leaves out, after a page was stored (its new
        items are in `result`). Most sources have nothing to add."""

    def enabled_for(self, customer: Customer) -> bool:
        """Whether the source is synced for the customer right now: the customer is
        collecting, has a tenant, is on this source's API, wants this source and has not
        lost its permission."""
        if customer.status not in COLLECTING or not customer.tenant_id:
            return False
        if customer.on_graph != self.on_graph:
            return False
        return self.wanted_by(customer) and self.permission not in customer.missing_roles

    def stored_count(self, customer: Customer) -> int:
        """How many of the customer's items are stored."""
        count: int = self.model._default_manager.filter(customer=customer).count()
        return count

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


class GraphSource(Source[GraphClient, RecordT]):
    """A source read from Microsoft Graph's security API: one client and one set of limits
    for every Graph source, collected for the customers on Graph."""

    limits = GRAPH_SECURITY_LIMITS
    on_graph = True

    def client(self, customer: Customer, *, token_sources: list[str]) -> GraphClient:
        return microsoft.graph_client(customer, token_sources=token_sources)


AnySource = Source[Any, Any]
