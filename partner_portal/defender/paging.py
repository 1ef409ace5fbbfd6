"""Listings: an API's collection read page by page, each page whole or not at all.

Microsoft's collections come in OData envelopes (``{"value": [...],
"@odata.nextLink": ...}``). :func:`iter_pages` walks one for a client:

* by ``$top``/``$skip`` when a page size is given (the listing ends at the first short
  page), else by following ``@odata.nextLink``, on the API's own host only and never
  to the same page twice;
* at most ``max_pages`` pages (the client's ``default_max_pages`` unless told), so a
  listing that never ends raises :class:`~.errors.PageLimitExceeded` instead;
* each page is parsed completely before any of it is handed out; a page with a garbled
  item is asked for again within the client's retry bounds;
* with the client's ``prefetch`` on, the next page is requested while this one is
  parsed and consumed, so the network wait overlaps the work (:class:`Ahead` does the
  same for listings that walk pages their own way, such as Graph's alerts);
* an item seen earlier in the same listing is left out (a page boundary can move while
  Microsoft's data changes), and :class:`PageInfo` tells ``on_page`` what each held.

Every request goes through the client's one door, ``_request``, with its limits,
retries and typed errors.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, TypeVar

from .errors import MalformedResponse, PageLimitExceeded
from .records import format_timestamp

if TYPE_CHECKING:
    from .client import DefenderApiClient

__all__ = ["Ahead", "PageInfo", "iter_pages", "odata_collection", "one_by_one", "since_filter"]

T = TypeVar("T")
P = ParamSpec("P")

#: One envelope read: the raw items and the next page's link, if any.
Envelope = tuple[list[Any], str | None]


@dataclass(frozen=True)
class PageInfo:
    """What one page of a listing held (passed to ``on_page`` before it is yielded)."""

    number: int
    items: int
    new_items: int
    skip: int | None
    has_next: bool


class Ahead(Generic[T]):
    """At most one call run ahead in a worker thread (a listing's next page), claimed
    by the key it was started for; with ``enabled`` off every call runs when claimed."""

    def __init__(self, enabled: bool) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1) if enabled else None
        self._pending: tuple[object, Future[T]] | None = None

    def start(self, key: object, call: Callable[[], T]) -> None:
        if self._executor is not None and self._pending is None:
            self._pending = (key, self._executor.submit(call))

    def result(self, key: object, call: Callable[[], T]) -> T:
        """What the call started for ``key`` gave (or raised), else ``call()`` now."""
        pending, self._pending = self._pending, None
        if pending is not None:
            if pending[0] == key:
                return pending[1].result()
            pending[1].cancel()
            wait([pending[1]])  # never two calls at once on one session
        return call()

    def close(self) -> None:
        if self._pending is not None:
            self._pending[1].cancel()
        if self._executor is not None:
            self._executor.shutdown(wait=False)


def odata_collection(body: Any) -> Envelope:
    """The items and ``@odata.nextLink`` of an OData collection, or ``MalformedResponse``."""
    if not isinstance(body, dict) or not isinstance(body.get("value"), list):
        raise MalformedResponse(200, None, "answer is not an OData collection")
    next_link = body.get("@odata.nextLink")
    if next_link is not None and not isinstance(next_link, str):
        raise MalformedResponse(200, None, "@odata.nextLink is not a string")
    return body["value"], next_link or None


def since_filter(since: datetime | None, field_name: str = "lastUpdateTime") -> dict[str, str]:
    """The ``$filter`` that asks for items changed at or after ``since`` (none: all)."""
    if since is None:
        return {}
    return {"$filter": f"{field_name} ge {format_timestamp(since)}"}


def iter_pages(
    client: DefenderApiClient,
    path: str,
    params: dict[str, str | int],
    parse_page: Callable[[list[Any]], list[T]],
    key: Callable[[T], object],
    *,
    page_size: int | None,
    max_pages: int | None,
    on_page: Callable[[PageInfo], None] | None,
) -> Iterator[list[T]]:
    """Yield the parsed pages of the collection at ``path`` (see the module's story)."""
    bound = client.default_max_pages if max_pages is None else max_pages
    seen: set[object] = set()
    number = 0
    skip = 0
    url: str = path
    query: dict[str, str | int] | None = dict(params)
    if page_size is not None:
        query = {**params, "$top": page_size, "$skip": 0}

    def fetch(fetch_url: str, fetch_query: dict[str, str | int] | None) -> Envelope:
        envelope: Envelope = client._request(
            "GET", fetch_url, params=fetch_query, parse=odata_collection
        )
        return envelope

    def read_page(body: Any) -> list[T]:
        raw_items, _ = odata_collection(body)
        return parse_page(raw_items)

    executor = ThreadPoolExecutor(max_workers=1) if client.prefetch else None
    pending: Future[Envelope] | None = None
    try:
        while True:
            if number >= bound:
                raise PageLimitExceeded(None, None, f"more than {bound} pages")
            if pending is not None:
                raw_items, next_link = pending.result()
                pending = None
            else:
                raw_items, next_link = fetch(url, query)
            number += 1

            next_url: str = url
            next_query: dict[str, str | int] | None = None
            if page_size is not None:
                has_next = len(raw_items) >= page_size
                next_query = {**params, "$top": page_size, "$skip": skip + page_size}
            else:
                has_next = next_link is not None
                if next_link is not None:
                    if not client.same_origin(next_link):
                        raise MalformedResponse(
                            200, None, "@odata.nextLink points outside the API host"
                        )
                    if next_link == url:
                        raise MalformedResponse(200, None, "@odata.nextLink repeats the page")
                    next_url = next_link
            if has_next and executor is not None and number < bound:
                pending = executor.submit(fetch, next_url, next_query)

            try:
                records = parse_page(raw_items)
            except MalformedResponse:
                # A garbled item may be a passing fault: ask for the page again,
                # with the usual retry bounds.
                records = client._request("GET", url, params=query, parse=read_page)

            idents = list(map(key, records))
            unique = set(idents)
            if len(unique) == len(idents) and seen.isdisjoint(unique):
                # The usual page: nothing on it was seen before.
                seen |= unique
                fresh = records
            else:
                fresh = []
                for ident, record in zip(idents, records, strict=True):
                    if ident not in seen:
                        seen.add(ident)
                        fresh.append(record)
            client.stats.pages += 1
            client.stats.items += len(fresh)
            if on_page is not None:
                on_page(
                    PageInfo(
                        number=number,
                        items=len(records),
                        new_items=len(fresh),
                        skip=skip if page_size is not None else None,
                        has_next=has_next,
                    )
                )
            yield fresh
            if not has_next:
                return
            if page_size is not None:
                skip += page_size
            url, query = next_url, next_query
    finally:
        if pending is not None:
            pending.cancel()
        if executor is not None:
            executor.shutdown(wait=False)


def one_by_one(listing: Callable[P, Iterator[list[T]]]) -> Callable[P, Iterator[T]]:
    """The items of a listing one by one, taking the same arguments as ``listing``, which
    yields them page by page (in a client: ``iter_alerts = one_by_one(iter_alert_pages)``)."""

    def items(*args: P.args, **kwargs: P.kwargs) -> Iterator[T]:
        for page in listing(*args, **kwargs):
            yield from page

    items.__doc__ = f"The items of :meth:`{listing.__name__}`, one by one."
    return items
